"""Threads of the linear algebra under the labelers.

The labelers' BLAS calls are small: a logistic regression's gradient on a 2,000 × 384 pool
is a few million multiply-adds, done hundreds of times. OpenBLAS splits each call over its
threads and has them wait for each other; on a 2-core machine that is busy with other work
(the laptop this tool is for), a waiting thread is often descheduled and every call stalls.
Measured on the 2-core reference machine under load (4 other busy processes), one
class-balanced self-training fit on 2,000 TREC rows took 16-20 s with 2 BLAS threads and
0.5-0.7 s with one; the whole frozen labeling step (five folds, seven candidates) 52 s
against 6 s. On a quiet machine one thread is as fast for these sizes. So the labeling
steps run with one BLAS thread; the encoder (torch, its own thread pool), FAISS (OpenMP)
and the ray workers are not touched.

Cost: O(1) (threadpoolctl swaps the libraries' thread counts and restores them).
"""

from __future__ import annotations

import functools
from contextlib import contextmanager

from threadpoolctl import threadpool_limits


@contextmanager
def one_blas_thread():
    """Run the block with every BLAS library on one thread (restored on exit)."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def with_one_blas_thread(func):
    """Decorator: ``func`` runs under :func:`one_blas_thread`."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with one_blas_thread():
            return func(*args, **kwargs)

    return wrapper
