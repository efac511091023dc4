"""Feedback Analyzer desktop client. ``api.py`` is Qt-free; the rest is PySide6."""
