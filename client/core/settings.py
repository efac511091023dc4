"""The app's settings: one dataclass, validated on construction.

Defaults come from the local TorchServe instance (its ``instance.json`` and key file in
the state directory), so an agent who ran ``feedback serve start`` needs no set-up. How
they are stored (QSettings) is the UI's business: ``client.ui.settings_store``.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from pathlib import Path

from client.core import instance


def _user_name() -> str:
    try:
        return getpass.getuser()
    except OSError:  # no login name in the environment or the password database
        return ""


@dataclass
class ClientSettings:
    """Server URLs, key file, timeouts, review threshold, the agent's name and how long used corrections are kept."""

    inference_url: str
    management_url: str
    key_file: Path
    timeout: float = 30.0
    management_timeout: float = 120.0
    review_threshold: float = 0.0
    agent: str = ""
    chunk_size: int = 64
    retention_days: int = 0  # delete corrections saved over N days ago once a promoted version consumed them (CorrectionsStore.purge_consumed); 0: keep forever

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
        if self.retention_days < 0:
            raise ValueError(f"retention_days must be 0 (keep forever) or a number of days. But it was: {self.retention_days}")

    @classmethod
    def defaults(cls) -> ClientSettings:
        urls = instance.server_urls()
        return cls(
            inference_url=urls["inference"],
            management_url=urls["management"],
            key_file=instance.key_file(),
            agent=_user_name(),
        )
