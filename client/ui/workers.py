"""Background work: a QRunnable that reports through signals, and a pool that keeps it alive.

The GUI thread never waits on the network or the disk: every HTTP call, file read,
export and store write runs in a ``Worker`` on a ``QThreadPool``. Its outcome comes back
as queued signals (``returned``, ``errored``, ``progress``, ``finished``), which Qt
delivers on the GUI thread in the order they were emitted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from client.core.errors import FeedbackError
from client.ui.signals import emit

logger = logging.getLogger(__name__)


class WorkerSignals(QObject):
    progress = Signal(object)
    returned = Signal(object)
    errored = Signal(object)
    finished = Signal()


class Worker(QRunnable):
    """Runs ``fn(*args, **kwargs)`` on a pool thread; ``cancel()`` asks it to stop between steps."""

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.signals = WorkerSignals()
        self._cancel = threading.Event()

    @classmethod
    def stepped(cls, fn: Callable[..., Any], *args: Any) -> Worker:
        """A worker for ``fn(worker, *args)``: a task that reports progress and checks ``is_cancelled``."""
        worker = cls(fn, *args)
        worker.args = (worker, *args)
        return worker

    def on(
        self,
        returned: Callable[..., Any] | None = None,
        errored: Callable[..., Any] | None = None,
        progress: Callable[..., Any] | None = None,
    ) -> Worker:
        """Connect the slots; do it before the pool starts the worker, or a fast result is lost."""
        for signal, slot in ((self.signals.returned, returned), (self.signals.errored, errored), (self.signals.progress, progress)):
            if slot is not None:
                signal.connect(slot)
        return self

    def cancel(self) -> None:
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def report(self, value: object) -> None:
        """Send ``value`` to the GUI thread as ``progress`` (callable from ``fn``)."""
        emit(self.signals.progress, value)

    def run(self) -> None:
        # The name is Qt's: QThreadPool calls run() on one of its threads.
        try:
            result = self.fn(*self.args, **self.kwargs)
        except FeedbackError as exc:
            logger.info("background task stopped: %s", exc.message)
            self._send("errored", exc)
        except Exception as exc:  # noqa: BLE001 - an error must reach the window, not die in a pool thread
            logger.error("background task failed", exc_info=True)
            self._send("errored", exc)
        else:
            self._send("returned", result)
        finally:
            self._send("finished")

    def _send(self, name: str, *args: object) -> None:
        """Emit, unless the window that would receive it is gone: when the app closes while a
        task still runs, Qt deletes the signals object first, and the emit raises. Nothing
        may leave ``run()`` (Qt's thread pool reports an exception escaping a worker as
        unsupported), and there is no one left to tell, so it is logged and dropped."""
        try:
            emit(getattr(self.signals, name), *args)
        except RuntimeError:  # "Internal C++ object (WorkerSignals) already deleted."
            logger.info("background task ended after its window closed; its result was dropped")


class WorkerPool(QObject):
    """A QThreadPool that holds a reference to each started worker until it has finished."""

    def __init__(self, max_threads: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        # Without this reference Python may collect a queued worker and its signals.
        self._running: dict[WorkerSignals, Worker] = {}
        self._closed = False

    def start(self, worker: Worker) -> Worker:
        """Run ``worker`` on the pool; after ``shutdown`` it is not started. A timer of the
        closing window (the explanation's debounce, say) can still fire while Qt processes the
        last events, and a task started then runs while Python exits: it cannot finish, and Qt's
        pool reports "Qt Concurrent has caught an exception" on its way out."""
        if self._closed:
            logger.info("background task not started: the window is closing")
            return worker
        self._running[worker.signals] = worker
        worker.signals.finished.connect(self._forget)
        self._pool.start(worker)
        return worker

    @Slot()
    def _forget(self) -> None:
        self._running.pop(self.sender(), None)  # type: ignore[arg-type]

    def active(self) -> int:
        return len(self._running)

    def shutdown(self, msecs: int = 15000) -> bool:
        """Ask every worker to stop and wait for them; True when all ended in time. The pool
        starts nothing after this: the window that asked is closing."""
        self._closed = True
        for worker in list(self._running.values()):
            worker.cancel()
        return self._pool.waitForDone(msecs)
