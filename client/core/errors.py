"""The project's error family.

    FeedbackError            anything a user can act on: message + hint (next step)
    ├── DataError            a data file is missing, unreadable or invalid
    ├── ModelError           a model folder or base model cannot be found or loaded
    ├── ServerError          TorchServe cannot be started, reached or refuses a request
    │   ├── ServerDownError      nothing answers at the URL, or not in time
    │   ├── KeyRefusedError      the key is missing, wrong, expired or for the other API
    │   └── RequestRejectedError the server answered this request with an error status
    └── NotPromotedError     retraining finished but the gate refused the new version

The CLI prints ``error: <message>`` and ``hint: <hint>`` and maps the class to an
exit code in one place (``training.cli.main``); ``EXIT_NOT_PROMOTED`` is the
number the desktop app's Retrain tab reads back.
"""

from __future__ import annotations

EXIT_NOT_PROMOTED = 3


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

    exit_code = EXIT_NOT_PROMOTED


class KeyRefusedError(ServerError):
    """TorchServe refused the key (missing, wrong, expired, or for the other API)."""


class ServerDownError(ServerError):
    """Nothing answers at the server URL, or not within the timeout."""


class RequestRejectedError(ServerError):
    """The server answered with an error for this request (e.g. 400 for bad input)."""

    def __init__(self, message: str, hint: str = "", status: int = 0) -> None:
        super().__init__(message, hint)
        self.status = status
