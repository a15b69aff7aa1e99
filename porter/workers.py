"""A process pool that Ctrl-C stops at once: workers ignore SIGINT, and the parent terminates them instead of
letting them drain the queue (which is what hangs a plain pool's exit for minutes)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import signal
from collections.abc import Iterator
from contextlib import contextmanager


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextmanager
def worker_pool(jobs: int) -> Iterator[multiprocessing.pool.Pool]:
    """Workers are started with SIGINT blocked, so a Ctrl-C sent to the whole process group before they install
    SIG_IGN cannot kill one mid-start. Any exception in the block (KeyboardInterrupt included) terminates them."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    pool = None
    try:
        pool = multiprocessing.Pool(jobs, initializer=_ignore_interrupts)
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
