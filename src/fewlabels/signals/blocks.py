"""Rules applied over an engine's fixed blocks of rows (see :mod:`fewlabels.engine`).

:func:`apply_rules_blocks` gives what :func:`fewlabels.signals.apply_rules` gives in one pass:
the same label matrix, the errors with the first failing row of the whole table, counts and
seconds summed over the blocks. Each worker loads the rules file itself (a ``.py`` file's
functions are not shipped: its path must be readable there), once per file version.

Cost: as :func:`fewlabels.signals.apply_rules`, plus loading the rules once per worker.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..engine.base import row_blocks
from ..errors import InputError
from .apply import _apply_chunks, _codes_dtype, finish_votes
from .rules import InterruptGuard, check_rules, load_rules


@functools.lru_cache(maxsize=4)
def _rules_of(path: str, stamp: tuple):
    return load_rules(path)


def _load_rules_cached(path: str):
    st = Path(path).stat()
    return _rules_of(path, (st.st_mtime_ns, st.st_size))


def _rules_block(item, *, rules_path, classes, strict, chunk_size):
    start, texts = item
    rules = _load_rules_cached(rules_path)
    code = {c: i for i, c in enumerate(classes)}
    L = np.full((len(texts), len(rules)), -1, dtype=_codes_dtype(len(classes)))
    seconds = {r.name: 0.0 for r in rules}
    errors: dict[str, dict] = {}
    with InterruptGuard() as guard:
        _apply_chunks(texts, rules, classes, L, code, strict, errors, seconds, chunk_size, None, guard,
                      row_offset=start)
    return L, errors, seconds


def apply_rules_blocks(engine, texts: Sequence[str], rules_path, classes: Sequence[str], *, strict: bool = False,
                       chunk_size: int = 50_000, progress: Callable[[int, int], None] | None = None):
    """:func:`fewlabels.signals.apply_rules` of the rules file ``rules_path``, block by block:
    the same :class:`~fewlabels.signals.apply.ApplyResult` (L, errors with the first failing
    row of the whole table and counts summed, seconds summed over blocks)."""
    classes = list(classes)
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise InputError(f"classes must be at least two distinct names; got {classes[:20]}")
    rules_path = str(Path(rules_path).resolve())
    rules = _load_rules_cached(rules_path)  # errors in the file show here, before any task
    check_rules(rules, classes)
    n = len(texts)
    blocks = row_blocks(n, engine.block_rows)
    items = ((s, list(texts[s:e])) for s, e in blocks)
    shared = {"rules_path": rules_path, "classes": classes, "strict": strict, "chunk_size": chunk_size}
    Ls, errors, seconds = [], {}, {r.name: 0.0 for r in rules}
    for (s, e), (L, errs, secs) in zip(blocks, engine.map(_rules_block, items, shared=shared)):
        Ls.append(L)
        for name, err in errs.items():  # blocks come in row order: the first is the earliest row
            if name in errors:
                errors[name]["count"] += err["count"]
            else:
                errors[name] = dict(err)
        for name, t in secs.items():
            seconds[name] += t
        if progress is not None:
            progress(e, n)
    L = np.concatenate(Ls) if Ls else np.full((0, len(rules)), -1, dtype=np.int8)
    return finish_votes(L, rules, classes, list(errors.values()), seconds)
