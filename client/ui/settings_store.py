"""Where the app's settings are kept: a QSettings INI file (tests pass one on a temporary file)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

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


# ---------------------------------------------------------------------- window and table layout
# Kept under "ui/" and "window/", apart from the ClientSettings fields above.

LAST_FOLDER = "ui/last_folder"
_UI_KEYS = {
    "geometry": "window/geometry",
    "window_state": "window/state",
    "results_header": "ui/results_header",
    "queue_header": "ui/queue_header",
    "queue_order": "ui/queue_order",
}


@dataclass
class UiState:
    """What the window looked like when it was last closed; None where nothing was saved."""

    geometry: QByteArray | None = None
    window_state: QByteArray | None = None
    results_header: QByteArray | None = None
    queue_header: QByteArray | None = None
    queue_order: str | None = None


def load_ui(store: QSettings) -> UiState:
    values = {name: store.value(key, None) for name, key in _UI_KEYS.items()}
    return UiState(**{name: (value if value not in ("", None) else None) for name, value in values.items()})


def save_ui(store: QSettings, **values: QByteArray | str) -> None:
    """Save some of UiState's fields, e.g. ``save_ui(store, queue_order="margin")``."""
    for name, value in values.items():
        store.setValue(_UI_KEYS[name], value)
    store.sync()


def last_folder(store: QSettings) -> Path | None:
    """Where the agent last opened or saved a file, if it still exists (file dialogs start there)."""
    value = store.value(LAST_FOLDER, None)
    return Path(value) if value and Path(value).is_dir() else None


def set_last_folder(store: QSettings, folder: Path) -> None:
    store.setValue(LAST_FOLDER, str(folder))
