"""The Ray engine: the blocks run as Ray tasks (stateless steps) or on a pool of Ray actors
(an encoder loaded once per worker), on a cluster started here or an existing one.

``RayEngine(address=None)`` starts a cluster on this machine for the run and stops it at
:meth:`close`; ``address="auto"`` joins the cluster started with ``ray start --head`` on this
machine, ``"ray://host:10001"`` a remote one through Ray Client (fewlabels and its
dependencies must be installed on its nodes, and files the steps read, such as a rules file,
must be at the same path there). A Ray session already started in this process
(``ray.init`` by the caller) is used as it is and left running.

Memory: what every block shares (the model, the index, the encoder's settings) goes into the
object store once; blocks are sent as they are submitted, at most ``2 × num_workers`` at a
time, so the store holds a few blocks of rows, not all of them.
"""

from __future__ import annotations

import os
from collections import deque
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

from ..errors import ConfigError, FewLabelsError
from .base import DEFAULT_BLOCK_ROWS, ClosingEngine


def _call(fn, item, **shared):
    return fn(item, **shared)


def _import_all(item, *, modules):
    import importlib
    import time

    for m in modules:
        importlib.import_module(m)
    time.sleep(0.05)  # hold the worker a moment so the next task goes to another one
    return os.getpid()


class _Worker:
    """A Ray actor holding ``make()``'s object (e.g. a loaded encoder)."""

    def __init__(self, make):
        self.obj = make()

    def call(self, method, item):
        return getattr(self.obj, method)(item)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("--engine ray needs the package ray: pip install 'fewlabels[ray]' (or pip install ray), "
                          "or use --engine local") from None
    return ray


class RayEngine(ClosingEngine):
    """Run blocks on a Ray cluster.

    Parameters
    ----------
    address : str, optional
        None or ``"local"``: start a cluster on this machine (``num_cpus`` CPUs); ``"auto"``
        or ``"ray://host:port"``: connect to a running one.
    block_rows : int, default=65,536
    num_workers : int, optional
        Actors for stateful steps, and the number of tasks kept running. Default: the
        cluster's CPUs.
    num_cpus : int, optional
        CPUs of a cluster started here (default: all of this machine's).
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, block_rows: int = DEFAULT_BLOCK_ROWS,
                 num_workers: int | None = None, num_cpus: int | None = None):
        ray = _import_ray()
        self.block_rows = int(block_rows)
        self._owns = False
        if not ray.is_initialized():
            local = address in (None, "local")
            try:
                if local:
                    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False,
                             log_to_driver=False, configure_logging=False)
                else:
                    ray.init(address=address, log_to_driver=False, configure_logging=False)
            except ConfigError:
                raise
            except Exception as exc:  # ConnectionError, RuntimeError, ValueError from a bad address
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                where = "start a local Ray cluster" if local else f"connect to the Ray cluster at {address!r}"
                raise ConfigError(f"could not {where} ({first}); check --ray-address (e.g. auto, or "
                                  "ray://HOST:10001) and that the cluster is running") from None
            self._owns = True
        self.address = address
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.num_workers = max(1, int(num_workers) if num_workers else cpus)
        self._ray = ray
        self._task = ray.remote(_call)
        self._actor = ray.remote(_Worker)

    # -- the two calls --------------------------------------------------------------
    def map(self, fn: Callable[..., Any], items: Iterable[Any], *, shared: dict | None = None) -> Iterator[Any]:
        """``fn(item, **shared)`` for each item, as Ray tasks, in order."""
        ray = self._ray
        refs = {k: ray.put(v) for k, v in (shared or {}).items()}  # one copy in the object store
        window: deque = deque()
        with self._unwrapped():
            for item in items:
                window.append(self._task.remote(fn, item, **refs))
                if len(window) >= 2 * self.num_workers:
                    yield ray.get(window.popleft())
            while window:
                yield ray.get(window.popleft())

    def map_stateful(self, make: Callable[[], Any], method: str, items: Iterable[Any]) -> Iterator[Any]:
        """``getattr(make(), method)(item)`` for each item, on ``num_workers`` actors, in order."""
        ray = self._ray
        items = list(items)
        if not items:
            return
        from ray.util import ActorPool

        actors = [self._actor.remote(make) for _ in range(min(self.num_workers, len(items)))]
        try:
            with self._unwrapped():
                yield from ActorPool(actors).map(lambda a, item: a.call.remote(method, item), items)
        finally:
            for a in actors:
                ray.kill(a)

    def warm_up(self, modules: tuple[str, ...] = ("fewlabels.engine.ops", "fewlabels.endmodel", "faiss")) -> None:
        """Start the task workers and import ``modules`` in each, so that the first blocks of
        a step are not charged with Python start-up (seconds per worker; benches time it apart)."""
        list(self.map(_import_all, range(2 * self.num_workers), shared={"modules": modules}))

    # -- helpers ----------------------------------------------------------------------
    @contextmanager
    def _unwrapped(self):
        """A fewlabels error raised in a task comes out as itself, one line, not as Ray's
        wrapper with the worker's traceback."""
        try:
            yield
        except self._ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, FewLabelsError):
                raise cause from None
            raise

    def close(self) -> None:
        """Stop the cluster if this engine started it."""
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns = False

    def __repr__(self) -> str:
        return f"RayEngine(address={self.address!r}, block_rows={self.block_rows}, num_workers={self.num_workers})"
