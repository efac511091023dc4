"""Ctrl+Z for verdicts: the verdicts this window saved, newest last, and how to take each back.

A verdict that was the first on its item is removed from the store; one that replaced an
earlier verdict (the agent changed their mind) brings the earlier one back. Both go
through the corrections service, so the store, the tables and the statistics follow the
same signals as any other save or undo. The caller's tag travels with a restored verdict,
so the panel that made it shows it again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtCore import QObject, Signal

from client.core.corrections import Correction
from client.core.labels import LABEL_NAMES
from client.ui.corrections_service import CorrectionsService
from client.ui.signals import emit


@dataclass
class _Entry:
    saved: Correction
    replaced: Correction | None
    tag: object


class VerdictHistory(QObject):
    changed = Signal()  # something to undo, or nothing any more

    def __init__(self, service: CorrectionsService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self._entries: list[_Entry] = []
        self._restoring: list[Correction] = []  # earlier verdicts being written back, without id
        self._removing: set[int] = set()
        service.saved.connect(self._saved)
        service.undone.connect(self._undone)

    def can_undo(self) -> bool:
        return bool(self._entries)

    def undo_text(self) -> str:
        if not self._entries:
            return "Undo verdict"
        last = self._entries[-1]
        if last.replaced is not None:
            return f"Undo verdict (back to {LABEL_NAMES[last.replaced.final_label]})"
        return f"Undo verdict ({LABEL_NAMES[last.saved.final_label]})"

    def undo(self) -> bool:
        """Take back the newest verdict; False when there is none."""
        if not self._entries:
            return False
        entry = self._entries.pop()
        if entry.replaced is None:
            if entry.saved.id is not None:
                self._removing.add(entry.saved.id)
            self.service.undo(entry.saved)
        else:
            earlier = replace(entry.replaced, id=None)
            self._restoring.append(earlier)
            self.service.save(earlier, tag=entry.tag, replaces=entry.saved)
        emit(self.changed)
        return True

    def _saved(self, saved: Correction, replaced: Correction | None, tag: object) -> None:
        plain = replace(saved, id=None)
        if plain in self._restoring:
            # An earlier verdict is back under a new id: older entries must name that id.
            self._restoring.remove(plain)
            for entry in self._entries:
                if _same_verdict(entry.saved, saved):
                    entry.saved = saved
                if entry.replaced is not None and _same_verdict(entry.replaced, saved):
                    entry.replaced = saved
            return
        self._entries.append(_Entry(saved, replaced, tag))
        emit(self.changed)

    def _undone(self, removed: Correction) -> None:
        if removed.id in self._removing:
            self._removing.discard(removed.id)
            return
        # Undone elsewhere (the Corrections tab): entries that name it can no longer be taken back.
        self._entries = [e for e in self._entries if removed.id not in (e.saved.id, e.replaced.id if e.replaced else None)]
        emit(self.changed)


def _same_verdict(a: Correction, b: Correction) -> bool:
    return replace(a, id=None) == replace(b, id=None)
