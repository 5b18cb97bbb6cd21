"""What the long-running workers (mail, allocation) share: stopping on a signal, pausing."""
from __future__ import annotations

import contextlib
import signal
import time
from typing import Callable, Iterator


@contextlib.contextmanager
def stop_on_signals() -> Iterator[Callable[[], bool]]:
    """Yield ``stop()``, true once SIGTERM or SIGINT has arrived; the previous handlers come back after.

    The worker finishes what it is doing (a batch, a solve) and then returns, instead of dying mid-way.
    """
    stopping: list[int] = []

    def note(signum, frame) -> None:
        stopping.append(signum)

    previous = signal.signal(signal.SIGTERM, note), signal.signal(signal.SIGINT, note)
    try:
        yield lambda: bool(stopping)
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])


def pause(seconds: float, stop: Callable[[], bool]) -> None:
    """Sleep up to ``seconds``, waking early once ``stop()`` is true."""
    waited = 0.0
    while waited < seconds and not stop():
        time.sleep(min(0.2, seconds))
        waited += 0.2
