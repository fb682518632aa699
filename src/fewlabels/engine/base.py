"""What every engine is: the :class:`Engine` calls, the blocks of rows, closing on the way
out. The engines (:mod:`.local`, :mod:`.ray_engine`) build on this; see :mod:`fewlabels.engine`."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Protocol

from ..errors import ConfigError

#: rows per block, unless an engine is given another
DEFAULT_BLOCK_ROWS = 65_536

class Engine(Protocol):
    """What the pipeline needs of an engine (see the module docstring)."""

    name: str
    block_rows: int

    def map(self, fn: Callable[..., Any], items: Iterable[Any], *, shared: dict | None = None) -> Iterator[Any]:
        ...

    def map_stateful(self, make: Callable[[], Any], method: str, items: Iterable[Any]) -> Iterator[Any]:
        ...

    def close(self) -> None:
        ...


class ClosingEngine:
    """``with engine: ...`` closes the engine on the way out (shared by the engines)."""

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def row_blocks(n: int, block_rows: int) -> list[tuple[int, int]]:
    """The fixed contiguous blocks ``[(start, stop), ...]`` covering rows ``0..n-1``."""
    if block_rows < 1:
        raise ConfigError(f"block_rows={block_rows!r}; it must be >= 1")
    return [(s, min(s + block_rows, n)) for s in range(0, n, block_rows)]
