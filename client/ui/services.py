"""What every panel shares: settings, server clients, the worker pool, corrections, statistics.

Panels ask this object for clients and start their work through it; they never build
HTTP sessions or touch the store themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal

from client.core.api import InferenceClient, Prediction
from client.ui.corrections_service import CorrectionsService
from client.core.health import ServerStatus, probe
from client.core.settings import ClientSettings
from client.ui.settings_store import load_settings, save_settings
from client.ui.signals import emit
from client.core.stats import SessionStats, needs_review
from client.ui.workers import Worker, WorkerPool
from client.core.errors import ServerError
from client.core.corrections import Correction
from client.core.api import ManagementClient
from client.core import paths
from client.core.traffic_history import open_history, record_predictions

logger = logging.getLogger(__name__)


class Services(QObject):
    settings_changed = Signal()
    stats_changed = Signal()
    request_logged = Signal(dict)  # emitted from pool threads; Qt queues it to the GUI thread
    server_checked = Signal(object)  # ServerStatus
    server_failed = Signal(object)  # a ServerError met while working

    def __init__(self, qsettings: QSettings, store_path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.qsettings = qsettings
        self.settings = load_settings(qsettings)
        self.pool = WorkerPool(4, self)
        self.stats = SessionStats()
        self.corrections = CorrectionsService(store_path, self)
        self.corrections.saved.connect(self._count_verdict)
        self.corrections.undone.connect(self._uncount_verdict)
        self.last_status: ServerStatus | None = None
        self.history = open_history(paths.traffic_history_path())  # what was classified, for the drift view
        self._verdicts_this_session: set[int] = set()

    # ------------------------------------------------------------------ clients and work

    def inference(self, retries: int = 3) -> InferenceClient:
        """A fresh client per task: requests.Session is not shared between pool threads."""
        s = self.settings
        return InferenceClient(s.inference_url, s.key_file, s.timeout, retries, chunk_size=s.chunk_size, on_request=partial(emit, self.request_logged))

    def management(self, retries: int = 2) -> ManagementClient:
        s = self.settings
        client = ManagementClient(s.management_url, s.key_file, s.management_timeout, retries)
        client.session.on_request = partial(emit, self.request_logged)
        return client

    def start(self, worker: Worker) -> Worker:
        """Run a worker whose slots are connected; a server error it meets also goes to the banner."""
        worker.signals.errored.connect(self.report_failure)
        return self.pool.start(worker)

    def check_server(self) -> Worker:
        """Probe without retries: the banner should say at once that nothing answers."""
        return self.start(Worker(probe, self.inference(retries=0), self.management(retries=0)).on(returned=self._checked))

    def _checked(self, status: ServerStatus) -> None:
        self.last_status = status
        emit(self.server_checked, status)

    def report_failure(self, exc: object) -> None:
        if isinstance(exc, ServerError):
            emit(self.server_failed, exc)

    def apply_settings(self, settings: ClientSettings) -> None:
        save_settings(self.qsettings, settings)
        self.settings = settings
        logger.info("settings saved (inference %s, management %s)", settings.inference_url, settings.management_url)
        emit(self.settings_changed)

    def shutdown(self) -> bool:
        """Stop both pools, the corrections writer too even when the other pool ran late: the
        last verdicts must reach the disk. True when both ended in time."""
        others = self.pool.shutdown()
        corrections = self.corrections.pool.shutdown()
        return others and corrections

    # ------------------------------------------------------------------ statistics

    def count_predictions(self, predictions: Iterable[Prediction], flags: Iterable[bool] | None = None) -> list[bool]:
        """Add predictions to the session statistics; returns each one's needs-review flag."""
        predictions = list(predictions)
        threshold = self.settings.review_threshold
        flagged = list(flags) if flags is not None else [needs_review(p, threshold) for p in predictions]
        for prediction, flag in zip(predictions, flagged):
            self.stats.add_prediction(prediction, flag)
        record_predictions(self.history, predictions)
        emit(self.stats_changed)
        return flagged

    def _count_verdict(self, saved: Correction, replaced: Correction | None, _tag: object) -> None:
        self._verdicts_this_session.add(saved.id)
        self.stats.add_verdict(saved.kind)
        if replaced is not None:
            self._uncount_verdict(replaced)
        emit(self.stats_changed)

    def _uncount_verdict(self, removed: Correction) -> None:
        """Undoing a verdict of this session takes it out of the session's numbers (older ones never were in)."""
        if removed.id in self._verdicts_this_session:
            self._verdicts_this_session.discard(removed.id)
            self.stats.add_verdict(removed.kind, -1)
            emit(self.stats_changed)
