"""The corrections store seen from the app: every verdict is written at once, off the GUI thread.

All store operations run on one dedicated thread, so they land in the order the agent
made them and a slow disk (or a retrain holding the file) never freezes the window.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from client.ui.signals import emit
from client.ui.workers import Worker, WorkerPool
from client.core.errors import DataError
from client.core.corrections import Correction, CorrectionsStore

logger = logging.getLogger(__name__)


class CorrectionsService(QObject):
    """Save, undo, list and export corrections; each outcome comes back as a signal."""

    saved = Signal(object, object, object)  # saved Correction (with id), the one it replaced or None, caller's tag
    undone = Signal(object)  # the Correction removed
    listed = Signal(object)  # list of every Correction, oldest first
    pending_changed = Signal(int)  # how many no model has been trained on yet
    exported = Signal(object)  # Path
    failed = Signal(object)  # FeedbackError
    purged = Signal(int)  # how many corrections the retention setting deleted

    def __init__(self, path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = Path(path)
        self.pool = WorkerPool(1, self)
        # Read and written on the writer thread only: the verdict that replaced each replaced one.
        # Two verdicts on one item in quick succession both name the first as the one they replace;
        # the second must replace what the first saved, or both would stay.
        self._successor: dict[int, Correction] = {}

    def _start(self, worker: Worker, returned: Callable[..., None]) -> Worker:
        return self.pool.start(worker.on(returned=returned, errored=self.failed))

    def save(self, correction: Correction, tag: object = None, replaces: Correction | None = None) -> Worker:
        """Add ``correction``; when it ``replaces`` an earlier verdict on the same item, that one goes."""
        return self._start(Worker(self._save, correction, replaces), lambda out: self._saved(out, tag))

    def _save(self, correction: Correction, replaces: Correction | None) -> tuple[Correction, Correction | None, int]:
        store = CorrectionsStore(self.path)
        while replaces is not None and replaces.id in self._successor:
            replaces = self._successor[replaces.id]
        removed = replaces if replaces is not None and replaces.id is not None and store.undo(replaces.id) else None
        saved = replace(correction, id=store.add(correction))
        if replaces is not None and replaces.id is not None:
            self._successor[replaces.id] = saved
        logger.info("saved %s id=%s label=%s source=%s", saved.kind, saved.id, saved.final_label, saved.source)
        return saved, removed, store.pending_count()

    def _saved(self, out: tuple[Correction, Correction | None, int], tag: object) -> None:
        saved, removed, pending = out
        emit(self.saved, saved, removed, tag)
        emit(self.pending_changed, pending)

    def undo(self, correction: Correction) -> Worker:
        return self._start(Worker(self._undo, correction), self._undone)

    def _undo(self, correction: Correction) -> tuple[Correction, int]:
        store = CorrectionsStore(self.path)
        if correction.id is None or not store.undo(correction.id):
            raise DataError(
                f"correction {correction.id} cannot be undone: a retrained model has already used it",
                "correct the item again instead; the newer verdict will be used next time",
            )
        logger.info("undid %s id=%s", correction.kind, correction.id)
        return correction, store.pending_count()

    def _undone(self, out: tuple[Correction, int]) -> None:
        emit(self.undone, out[0])
        emit(self.pending_changed, out[1])

    def after_saves(self, fn: Callable[[Callable[[], list[Correction]]], object], returned: Callable[[object], None], errored: Callable[[object], None]) -> Worker:
        """Run ``fn`` on the writer thread, after each verdict saved before it was asked (a
        channel fitted right after the last verdict of a sample must count that verdict), with
        a reader of every stored correction that it calls when it is ready to read (a channel
        reads under its file's lock); its result or error comes back to ``returned`` or
        ``errored``."""
        return self.pool.start(Worker(lambda: fn(CorrectionsStore(self.path).all)).on(returned=returned, errored=errored))

    def refresh(self) -> Worker:
        return self._start(Worker(self._list), self._listed)

    def purge(self, retention_days: int) -> Worker:
        """Apply the retention setting: corrections a promoted version has learnt from and
        that are older than ``retention_days`` go (0 keeps everything); then the list is read
        again. On the store's one writer thread, like every other write."""
        return self._start(Worker(self._purge, retention_days), self._purged)

    def _purge(self, retention_days: int) -> tuple[int, list[Correction], int]:
        store = CorrectionsStore(self.path)
        erased = store.purge_consumed(retention_days, datetime.now(timezone.utc))
        if erased.deleted:
            logger.info("retention: deleted %d learnt corrections older than %d days", erased.deleted, retention_days)
        return (erased.deleted, *self._list())

    def _purged(self, out: tuple[int, list[Correction], int]) -> None:
        emit(self.purged, out[0])
        self._listed(out[1:])

    def _list(self) -> tuple[list[Correction], int]:
        store = CorrectionsStore(self.path)
        return store.all(), store.pending_count()

    def _listed(self, out: tuple[list[Correction], int]) -> None:
        emit(self.listed, out[0])
        emit(self.pending_changed, out[1])

    def export(self, path: Path, pending_only: bool = False) -> Worker:
        return self._start(Worker(lambda: CorrectionsStore(self.path).export(path, pending_only)), partial(emit, self.exported))
