"""Emit Qt signals from Python safely: a guard for a reference-count bug in PySide6 6.12.0.

PySide6 6.12.0's ``SignalInstance.emit`` returns ``True`` without taking a reference to
it, so every emit from Python drops one reference to ``True``. After a few hundred emits
the count reaches zero and Python aborts with "bool_dealloc: deallocating True or False"
(seen here while rendering the screenshots). ``emit`` checks once, at import, whether the
running PySide6 has the bug, and if so gives the reference back after each emit.
All Python-side emits in the client go through it. The same release's ``disconnect()``
has the same fault, so the client never disconnects a signal.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal, SignalInstance


class _Probe(QObject):
    ping = Signal()


def _emit_drops_true(tries: int = 8) -> bool:
    # Runs at import, on the main thread before any worker starts, so nothing else moves the count.
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(tries):
        probe.ping.emit()
    dropped = before - sys.getrefcount(True) >= tries
    if dropped:
        for _ in range(tries):
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
    return dropped


_DROPS_TRUE = _emit_drops_true()


def emit(signal: SignalInstance, *args: object) -> None:
    """``signal.emit(*args)``, keeping ``True``'s reference count right on PySide6 6.12.0."""
    result = signal.emit(*args)
    if _DROPS_TRUE and result is True:
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
