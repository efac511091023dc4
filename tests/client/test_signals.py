"""Thousands of emits (a long batch) must not wear down Python's ``True``: the app would abort."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal

import PySide6

from client.ui.signals import BROKEN_RELEASES, emit, emit_drops_true


class Source(QObject):
    changed = Signal(object)


def test_the_guard_is_listed_exactly_for_releases_that_need_it(qtbot) -> None:  # noqa: ARG001
    """Fails when PySide6 is upgraded past the bug (then drop the guard) or to a new broken release."""
    assert emit_drops_true() == (PySide6.__version__ in BROKEN_RELEASES), (
        f"PySide6 {PySide6.__version__}: update BROKEN_RELEASES in client/ui/signals.py"
    )


def test_emitting_many_times_keeps_true_alive(qtbot) -> None:  # noqa: ARG001 - needs the QApplication
    source, seen = Source(), []
    source.changed.connect(seen.append)
    before = sys.getrefcount(True)
    for i in range(2000):
        emit(source.changed, i)
    assert len(seen) == 2000
    assert abs(sys.getrefcount(True) - before) < 10  # unguarded, PySide6 6.12.0 loses 2000
