"""A process pool that Ctrl-C stops at once: workers ignore SIGINT, and the parent terminates them instead of
letting them drain the queue (which is what hangs a plain pool's exit for minutes). Porting runs with fewer
garbage collections, in the workers and in the process that ports without them."""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.pool
import signal
from collections.abc import Iterator
from contextlib import contextmanager


# Allocations between two collections of the youngest generation (Python's default: 700). A file's syntax tree is
# millions of objects alive until the file is done: at 700 the collector ran ~113 full collections over the 682
# let-through Python files of the bench corpus, each scanning every live tree; at 20,000, 6. port_python over those
# files: 89-91 -> 73 CPU s, peak RSS 301 -> 325 MiB. At 100,000, over the whole corpus with the parity facts: 254
# young and 25 older collections, 1.55 s of collecting -> 30 and 2, 0.92 s; port_file 33.66/33.17 -> 33.10/32.69 CPU s,
# peak RSS 236 -> 252 MiB (bench/RESULTS.md).
YOUNG_GENERATION_THRESHOLD = 100_000


def _collect_less() -> None:
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])


@contextmanager
def fewer_collections() -> Iterator[None]:
    previous = gc.get_threshold()
    _collect_less()
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def _start_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _collect_less()


@contextmanager
def worker_pool(jobs: int) -> Iterator[multiprocessing.pool.Pool]:
    """Workers are started with SIGINT blocked, so a Ctrl-C sent to the whole process group before they install
    SIG_IGN cannot kill one mid-start. Any exception in the block (KeyboardInterrupt included) terminates them."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    pool = None
    try:
        pool = multiprocessing.Pool(jobs, initializer=_start_worker)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        yield pool
        pool.close()
    except BaseException:
        if pool is not None:
            pool.terminate()
        raise
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        if pool is not None:
            pool.join()
