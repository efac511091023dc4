"""Where the app's settings are kept: a QSettings INI file (tests pass one on a temporary file)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from PySide6.QtCore import QSettings

from client.core.settings import ClientSettings

ORGANIZATION = "feedback-analyzer"
APPLICATION = "client"


def default_qsettings() -> QSettings:
    """The user's settings file (INI under ``$XDG_CONFIG_HOME/feedback-analyzer/``)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def load_settings(store: QSettings) -> ClientSettings:
    """Saved values over the defaults; a value that no longer validates falls back to its default."""
    base = ClientSettings.defaults()
    values = {}
    for f in fields(ClientSettings):
        default = getattr(base, f.name)
        kind = type(default) if not isinstance(default, Path) else str
        raw = store.value(f.name, None)
        if raw is None or raw == "":
            values[f.name] = default
            continue
        try:
            values[f.name] = kind(raw)
        except (TypeError, ValueError):
            values[f.name] = default
    try:
        return ClientSettings(**values)
    except ValueError:
        return base


def save_settings(store: QSettings, settings: ClientSettings) -> None:
    """Store the values that differ from the defaults; the others follow the running instance."""
    base = ClientSettings.defaults()
    for f in fields(ClientSettings):
        value = getattr(settings, f.name)
        if value == getattr(base, f.name):
            store.remove(f.name)
        else:
            store.setValue(f.name, str(value) if isinstance(value, Path) else value)
    store.sync()
