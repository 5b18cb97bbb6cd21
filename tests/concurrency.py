"""Harness for tests of requests that arrive at the same moment: a database of the test's own (threads need real
connections, not the rolled-back test one) and threads let go together."""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from eventapp.extensions import db
from tests.conftest import TEST_DATABASE_URL, scratch_database

BACKENDS = ["sqlite"] + ([pytest.param("postgresql", marks=pytest.mark.postgres)] if TEST_DATABASE_URL else [])


@contextlib.contextmanager
def own_database(backend: str, tmp_path, name: str) -> Iterator[str]:
    """The URL of an empty database for one test on `backend` (one of BACKENDS)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / (name + '.sqlite3')}"
        return
    with scratch_database(tmp_path, name) as url:
        yield url


def at_once(app, threads: int, work: Callable[[int, Callable[..., Any]], Any], *, timeout: float = 120,
            context: Callable[[], contextlib.AbstractContextManager] | None = None) -> tuple[list, list[BaseException]]:
    """Runs work(i, ready) for i in range(threads), each in a thread and an app context of its own (or `context()`)
    whose session is removed afterwards; work calls ready() where the threads wait for each other, to go on together.
    Returns what the calls returned, in the order they returned, and what any of them raised."""
    barrier = threading.Barrier(threads)
    results: list = []
    errors: list[BaseException] = []
    guard = threading.Lock()

    def run(i: int):
        with (context or app.app_context)():
            try:
                result = work(i, barrier.wait)
                with guard:
                    results.append(result)
            except BaseException as err:  # noqa: BLE001 - collected and asserted on
                errors.append(err)
            finally:
                db.session.remove()

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=timeout)
    return results, errors
