"""Engines run one step of the pipeline over fixed blocks of rows: in this process, or on Ray.

The steps that are the same computation on every row, and so split without changing any
row's result, go through an engine: encoding texts, applying rules, searching a built k-NN
index with query rows, and predicting with a fitted model. Selection and calibration stay
on the driver, where the labels are (they work from a sample, not from every row).

Determinism: the blocks are fixed contiguous row ranges (``block_rows`` each, the last one
shorter) and the results are put together in row order. A row's result depends only on the
row and on what every block shares (the model, the index, the encoder), never on how many
workers there are or which one ran it. The same blocks run in this process
(:class:`~fewlabels.engine.local.LocalEngine`) or on a Ray cluster
(:class:`~fewlabels.engine.ray_engine.RayEngine`) give the same labels; ``tests/test_ray_engine.py``
checks this on a local 2-worker cluster.

An engine has two calls:

- ``map(fn, items, shared={...})`` yields ``fn(item, **shared)`` for each item, in order;
  ``shared`` values are sent to each worker once (Ray: one object-store copy).
- ``map_stateful(make, method, items)`` yields ``getattr(make(), method)(item)`` in order,
  with ``make()`` called once per worker (an encoder loaded once per worker).

The row-level operations built on them are in :mod:`fewlabels.engine.ops`.
"""

from __future__ import annotations

from contextlib import contextmanager

from ..errors import ConfigError
from .base import DEFAULT_BLOCK_ROWS, ClosingEngine, Engine, row_blocks

ENGINES = ("local", "ray")


def get_engine(name: str = "local", *, address: str | None = None, block_rows: int = DEFAULT_BLOCK_ROWS,
               num_workers: int | None = None):
    """The engine called ``name``: ``"local"`` or ``"ray"``.

    ``address`` (Ray only): ``"auto"`` (a cluster started on this machine with ``ray start``),
    ``"ray://host:10001"`` (a remote cluster through Ray Client), or None / ``"local"`` for a
    new cluster in this process's machine. ``num_workers``: how many stateful workers (e.g.
    encoders) to start; default one per CPU of the cluster.
    """
    if name == "local":
        if address is not None:
            raise ConfigError("--ray-address goes with --engine ray; drop it or add --engine ray")
        from .local import LocalEngine

        return LocalEngine(block_rows=block_rows)
    if name == "ray":
        from .ray_engine import RayEngine

        return RayEngine(address=address, block_rows=block_rows, num_workers=num_workers)
    raise ConfigError(f"unknown engine {name!r}; use one of: {', '.join(ENGINES)}")


@contextmanager
def open_engine(name: str = "local", address: str | None = None, **options):
    """The engine for a command's ``--engine`` / ``--ray-address``, closed at the end.

    ``"local"`` yields None: the steps run in one pass in this process, as without an engine
    (the Ray engine's results are checked against this path). ``"ray"`` yields a
    :class:`~fewlabels.engine.ray_engine.RayEngine`, and stops a cluster it started."""
    if name not in ENGINES:
        raise ConfigError(f"unknown engine {name!r}; use one of: {', '.join(ENGINES)}")
    if name == "local":
        if address is not None:
            raise ConfigError("--ray-address goes with --engine ray; drop it or add --engine ray")
        yield None
        return
    engine = get_engine(name, address=address, **options)
    try:
        yield engine
    finally:
        engine.close()


__all__ = ["DEFAULT_BLOCK_ROWS", "ENGINES", "ClosingEngine", "Engine", "get_engine", "open_engine", "row_blocks"]
