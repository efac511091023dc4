"""The app's settings: one dataclass, read from and written to a QSettings store.

Defaults come from the local TorchServe instance (its ``instance.json`` and key file in
the state directory), so an agent who ran ``feedback serve start`` needs no set-up.
Tests pass a QSettings on a temporary INI file, never the user's.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, fields
from pathlib import Path

from PySide6.QtCore import QSettings

from client.api import DEFAULT_MANAGEMENT_URL, default_key_file
from training.classify import server_urls

ORGANIZATION = "feedback-analyzer"
APPLICATION = "client"


def _user_name() -> str:
    try:
        return getpass.getuser()
    except OSError:  # no login name in the environment or the password database
        return ""


@dataclass
class ClientSettings:
    """Server URLs, key file, timeouts, review threshold and the agent's name."""

    inference_url: str
    management_url: str
    key_file: Path
    timeout: float = 30.0
    management_timeout: float = 120.0
    review_threshold: float = 0.0
    agent: str = ""
    chunk_size: int = 64

    def __post_init__(self) -> None:
        self.key_file = Path(self.key_file)
        for name in ("inference_url", "management_url"):
            if not getattr(self, name).startswith(("http://", "https://")):
                raise ValueError(f"{name} must start with http:// or https://, e.g. http://127.0.0.1:8080. But it was: {getattr(self, name)!r}")
        if self.timeout <= 0 or self.management_timeout <= 0:
            raise ValueError(f"timeouts must be positive. But they were: {self.timeout}, {self.management_timeout}")
        if not 0.0 <= self.review_threshold <= 1.0:
            raise ValueError(f"review_threshold must be between 0 and 1 (0: the model's own). But it was: {self.review_threshold}")
        if not 1 <= self.chunk_size <= 256:
            raise ValueError(f"chunk_size must be between 1 and 256 (the server's limit). But it was: {self.chunk_size}")

    @classmethod
    def defaults(cls) -> ClientSettings:
        urls = server_urls()
        return cls(
            inference_url=urls["inference"],
            management_url=urls.get("management", DEFAULT_MANAGEMENT_URL),
            key_file=default_key_file(),
            agent=_user_name(),
        )


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
