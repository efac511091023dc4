"""Emit Qt signals from Python safely: a guard for a reference-count bug in PySide6 6.12.0.

PySide6 6.12.0's ``SignalInstance.emit`` returns ``True`` without taking a reference to
it, so every emit from Python drops one reference to ``True``. After a few hundred emits
the count reaches zero and Python aborts with "bool_dealloc: deallocating True or False"
(seen here while rendering the screenshots). The same release's ``disconnect()`` has the
same fault, so the client never disconnects a signal.

The guard is installed by the app's start-up (``install_emit_guard``), never at import,
and only on the releases listed in ``BROKEN_RELEASES``; ``tests/client/test_signals.py``
fails when a listed release no longer has the bug, so the patch goes when it can.
All Python-side emits in the client go through ``emit``.
"""

from __future__ import annotations

import ctypes
import sys

import PySide6
from PySide6.QtCore import QObject, Signal, SignalInstance

BROKEN_RELEASES = frozenset({"6.12.0"})
_guard = {"on": False}


class _Probe(QObject):
    ping = Signal()


def emit_drops_true(tries: int = 8) -> bool:
    """Whether a plain ``emit`` loses a reference to ``True`` on this PySide6 (given back here)."""
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(tries):
        probe.ping.emit()
    dropped = before - sys.getrefcount(True) >= tries
    if dropped:
        for _ in range(tries):
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
    return dropped


def install_emit_guard() -> bool:
    """Called once at start-up, on the main thread before any worker starts (so nothing else
    moves the count); True when the guard is on."""
    if PySide6.__version__ in BROKEN_RELEASES and not _guard["on"]:
        _guard["on"] = emit_drops_true()
    return _guard["on"]


def emit(signal: SignalInstance, *args: object) -> None:
    """``signal.emit(*args)``, keeping ``True``'s reference count right on a broken release."""
    result = signal.emit(*args)
    if _guard["on"] and result is True:
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
