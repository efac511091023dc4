"""The project's error family.

    FeedbackError            anything a user can act on: message + hint (next step)
    ├── DataError            a data file is missing, unreadable or invalid
    ├── ModelError           a model folder or base model cannot be found or loaded
    ├── ServerError          TorchServe cannot be started, reached or refuses a request
    └── NotPromotedError     retraining finished but the gate refused the new version

The CLI prints ``error: <message>`` and ``hint: <hint>`` and maps the class to an
exit code in one place (``training.cli.main``).
"""

from __future__ import annotations


class FeedbackError(Exception):
    """An error a user can fix; ``hint`` says what to do next."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class DataError(FeedbackError):
    """A data file is missing, unreadable or invalid."""


class ModelError(FeedbackError):
    """A model folder or base model cannot be found or loaded."""


class ServerError(FeedbackError):
    """TorchServe cannot be started or reached, or refused a request."""


class NotPromotedError(FeedbackError):
    """Retraining produced a version that the gate refused; nothing was changed."""

    exit_code = 3
