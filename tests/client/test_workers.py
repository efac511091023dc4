"""The background worker: its outcome reaches the window as queued signals, and
nothing ever leaves ``run()`` (Qt's thread pool cannot handle an exception from a worker)."""

from __future__ import annotations

import logging

import shiboken6

from client.core.errors import FeedbackError
from client.ui.workers import Worker, WorkerPool


def test_results_and_errors_reach_the_gui_thread_and_the_pool_forgets_finished_workers(qtbot):
    pool = WorkerPool(2)
    seen: list[tuple[str, object]] = []

    def fails() -> None:
        raise FeedbackError("the server is down", "start it with `feedback serve start`")

    ok = Worker(lambda: 42).on(returned=lambda value: seen.append(("returned", value)))
    bad = Worker(fails).on(errored=lambda exc: seen.append(("errored", exc.message)))
    with qtbot.waitSignals([ok.signals.finished, bad.signals.finished], timeout=10_000):
        pool.start(ok)
        pool.start(bad)
    qtbot.waitUntil(lambda: pool.active() == 0, timeout=5_000)
    assert sorted(seen) == [("errored", "the server is down"), ("returned", 42)]
    assert pool.shutdown(5_000)


def test_a_task_that_outlives_its_window_ends_quietly(caplog):
    """When the app closes while a task runs, Qt deletes the signals object first; the
    task's result has no one to go to, and the worker must end without raising."""
    for fn in (lambda: 42, lambda: 1 / 0):
        worker = Worker(fn)
        shiboken6.delete(worker.signals)
        with caplog.at_level(logging.INFO, logger="client.ui.workers"):
            worker.run()  # raised RuntimeError ("Internal C++ object already deleted") before
    assert caplog.text.count("after its window closed") == 4  # result or error, then finished, each time


def test_nothing_starts_after_the_pool_is_shut_down(qtbot, caplog):
    """A closing window's timer (the explanation's debounce) can fire while Qt processes its
    last events; a task started then ran while Python exited, and Qt's pool printed "Qt
    Concurrent has caught an exception" at exit. After ``shutdown`` the pool starts nothing."""
    pool = WorkerPool(1)
    assert pool.shutdown(5_000)
    ran: list[int] = []
    late = Worker(lambda: ran.append(1)).on(returned=lambda _value: ran.append(2))
    with caplog.at_level(logging.INFO, logger="client.ui.workers"):
        assert pool.start(late) is late
    qtbot.wait(200)
    assert ran == [] and pool.active() == 0 and "not started: the window is closing" in caplog.text
