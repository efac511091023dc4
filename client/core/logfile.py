"""The app's rotating log file, with keys scrubbed from every line; plain Python."""

from __future__ import annotations

import logging
import re
from logging.handlers import RotatingFileHandler
from pathlib import Path

from client.core import paths

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_BEARER = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)


def log_file_path() -> Path:
    return paths.client_log_path()


class RedactKeys(logging.Filter):
    """Replaces ``Bearer <key>`` in a record's final message: a key must never reach the file."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _BEARER.search(message):
            record.msg, record.args = _BEARER.sub(r"\1***", message), None
        return True


def install_file_log(path: Path | None = None, max_bytes: int = 1_000_000, backups: int = 3) -> RotatingFileHandler:
    """Attach a rotating file handler to the root logger (INFO and up); returns it for removal."""
    path = path or log_file_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RedactKeys())
    root = logging.getLogger()
    root.addHandler(handler)
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)
    return handler
