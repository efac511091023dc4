"""Thousands of emits (a long batch) must not wear down Python's ``True``: the app would abort."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal

from client.ui.signals import emit


class Source(QObject):
    changed = Signal(object)


def test_emitting_many_times_keeps_true_alive(qtbot) -> None:  # noqa: ARG001 - needs the QApplication
    source, seen = Source(), []
    source.changed.connect(seen.append)
    before = sys.getrefcount(True)
    for i in range(2000):
        emit(source.changed, i)
    assert len(seen) == 2000
    assert abs(sys.getrefcount(True) - before) < 10  # unguarded, PySide6 6.12.0 loses 2000
