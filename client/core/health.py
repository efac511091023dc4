"""Is the server usable? One probe for the banner and the dashboard; plain Python."""

from __future__ import annotations

from dataclasses import dataclass

from client.core.api import START_HINT, InferenceClient
from client.core.errors import ServerError
from client.core.api import ManagementClient, ModelVersion


@dataclass(frozen=True)
class ServerStatus:
    """``ok`` when TorchServe answers, takes the key and has a READY worker; else what to do."""

    ok: bool
    message: str
    hint: str = ""
    versions: tuple[ModelVersion, ...] = ()

    @property
    def default_version(self) -> str | None:
        return next((v.version for v in self.versions if v.is_default), None)


def probe(inference: InferenceClient, management: ManagementClient) -> ServerStatus:
    """Ping the inference API, then list the model's versions; errors become a status, not a raise."""
    url = inference.session.base_url
    try:
        if not inference.ping():
            return ServerStatus(False, f"TorchServe is not reachable at {url}", START_HINT)
        versions = tuple(management.versions())
    except ServerError as exc:
        return ServerStatus(False, exc.message, exc.hint)
    if not versions:
        return ServerStatus(
            False, f"TorchServe at {url} serves no feedback-classifier model", "restart it with `feedback serve stop` then `feedback serve start`"
        )
    ready = sum(v.ready_workers for v in versions if v.is_default)
    default = next((v.version for v in versions if v.is_default), "?")
    if ready == 0:
        return ServerStatus(False, f"model v{default} has no READY worker yet", "wait a few seconds and press Retry, or add workers in the Dashboard", versions)
    return ServerStatus(True, f"TorchServe at {url}: model v{default}, {ready} worker(s) ready", "", versions)
