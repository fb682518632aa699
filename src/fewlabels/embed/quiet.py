"""No library progress bars while a model loads or saves."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def quiet_loading():
    """Inside the block, transformers and huggingface_hub draw no progress bars (the
    "Loading weights" and "Writing model shards" tqdm bars of transformers 5 when a model is
    loaded or saved); their previous
    setting is restored on exit, so a caller's own use of those libraries is left as it was."""
    try:
        from transformers.utils import logging as hf_logging
    except Exception:  # pragma: no cover - transformers comes with sentence-transformers
        yield
        return
    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # also huggingface_hub's bars
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()
