"""The in-process engine: the same blocks as on Ray, one after another in this process.

It is the reference the Ray engine is checked against (same blocks, same results), and a
way to bound the memory of a step to one block of rows.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

from .base import DEFAULT_BLOCK_ROWS, ClosingEngine


class LocalEngine(ClosingEngine):
    """Run each block in this process, in order.

    Parameters
    ----------
    block_rows : int, default=65,536
        Rows per block.
    """

    name = "local"

    def __init__(self, block_rows: int = DEFAULT_BLOCK_ROWS):
        self.block_rows = int(block_rows)
        self.num_workers = 1

    def map(self, fn: Callable[..., Any], items: Iterable[Any], *, shared: dict | None = None) -> Iterator[Any]:
        shared = shared or {}
        for item in items:
            yield fn(item, **shared)

    def map_stateful(self, make: Callable[[], Any], method: str, items: Iterable[Any]) -> Iterator[Any]:
        worker = None
        for item in items:
            if worker is None:  # made only if there is work
                worker = make()
            yield getattr(worker, method)(item)

    def __repr__(self) -> str:
        return f"LocalEngine(block_rows={self.block_rows})"
