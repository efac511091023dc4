"""The one HTTP client for TorchServe: key header, timeouts, retries, typed results.

No Qt here: ``feedback classify``, the retraining command and the desktop app all use
it. Every call has a timeout. Connection errors, 503 (a full queue) and "Worker died" are
retried with jittered back-off; a key refused with ``InvalidKeyException`` (TorchServe 0.12
answers 400, not 401) makes the session re-read the key file once, because ``serve start``
writes new keys every time;
a key that expired (``token_expiration_min``) is renewed through TorchServe's token API,
before it expires or when it is refused.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from client.core.errors import KeyRefusedError, RequestRejectedError, ServerDownError, ServerError
from client.core import instance
from client.core.instance import DEFAULT_INFERENCE_URL, DEFAULT_MANAGEMENT_URL, read_key

logger = logging.getLogger(__name__)

MODEL_NAME = "feedback-classifier"
START_HINT = "start it with `feedback serve start`, or check the server URL in the settings"
# One renewal at a time in this process: two threads renewing at once would each make the
# other's fresh key stale.
_RENEWAL_LOCK = threading.Lock()


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    scores: dict[str, float]
    needs_review: bool
    model_version: str
    truncated: bool = False
    cleaned: bool = False
    language_supported: bool = True
    id: Any = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Prediction:
        return cls(
            label=data["label"],
            confidence=float(data["confidence"]),
            scores={k: float(v) for k, v in data["scores"].items()},
            needs_review=bool(data["needs_review"]),
            model_version=str(data["model_version"]),
            truncated=bool(data.get("truncated", False)),
            cleaned=bool(data.get("cleaned", False)),
            language_supported=bool(data.get("language_supported", True)),
            id=data.get("id"),
        )


@dataclass(frozen=True)
class WordWeight:
    """One unit of an explanation: a word (or, for a long text, a span of words) of the text
    the model saw, how far the predicted label's calibrated probability falls without it
    (negative: it held the prediction back), and the label it speaks for."""

    word: str
    weight: float
    label: str


@dataclass(frozen=True)
class Explanation:
    """Why the model chose ``label`` for one text (``/explanations/<model>``): ``words``
    sorted by weight, the strongest first. ``unit`` is "word", or "span" when the text was
    long enough to be explained ``words_per_unit`` words at a time."""

    label: str
    confidence: float
    words: tuple[WordWeight, ...]
    unit: str = "word"
    words_per_unit: int = 1
    model_version: str = ""
    truncated: bool = False
    cleaned: bool = False
    id: Any = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Explanation:
        return cls(
            label=data["label"],
            confidence=float(data["confidence"]),
            words=tuple(WordWeight(str(w["word"]), float(w["weight"]), str(w["label"])) for w in data["words"]),
            unit=str(data.get("unit", "word")),
            words_per_unit=int(data.get("words_per_unit", 1)),
            model_version=str(data.get("model_version", "")),
            truncated=bool(data.get("truncated", False)),
            cleaned=bool(data.get("cleaned", False)),
            id=data.get("id"),
        )


@dataclass(frozen=True)
class ItemError:
    error: str
    id: Any = None


@dataclass
class Session:
    """A requests.Session bound to one base URL and one kind of key."""

    base_url: str
    key_kind: str
    key_file: Path | None = None
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5
    on_request: Callable[[dict[str, Any]], None] | None = None
    renew_url: str | None = None
    renew_margin: float = 60.0
    _http: requests.Session = field(default_factory=requests.Session, repr=False)
    _key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._key = read_key(self.key_file, self.key_kind)
        if self.renew_url is None:
            self.renew_url = instance.renewal_url(self.key_file)

    def _pause(self, attempt: int) -> float:
        """Exponential back-off with jitter: clients refused by a full queue at the same moment
        must not all come back at the same moment (they would fill it again)."""
        return self.backoff * 2 ** (attempt - 1) * (0.5 + random.random())

    def _expires_soon(self) -> bool:
        """True when the key has less than the renewal margin left. The margin is at most half
        the lifetime of this server's keys (``instance.key_lifetime``): with keys shorter than
        ``renew_margin`` every request would renew first, and every other client of the same
        key file would then be refused with the key just replaced."""
        expiry = instance.key_expiry(self.key_file, self.key_kind)
        if expiry is None:
            return False
        lifetime = instance.key_lifetime(self.key_file)
        margin = self.renew_margin if lifetime is None else min(self.renew_margin, lifetime / 2)
        return (expiry - datetime.now(timezone.utc)).total_seconds() < margin

    def renew_key(self, refused: str | None = None) -> bool:
        """Get a fresh key of this session's kind before the old one expires (or after it did).

        TorchServe's keys expire after ``token_expiration_min`` and re-reading the key file
        returns the same expired key, so the session asks TorchServe's token API (on the
        management port, authorised by the never-expiring ``API`` key of the same file) to
        issue a new one; TorchServe rewrites ``key_file.json`` itself. Another process may
        have renewed it already: then the file holds a newer, unexpired key and we take it.
        ``refused`` is the key a request was refused with: a file that holds another key (a
        restarted server, or a renewal by another thread or process) needs no renewal, and
        renewing then would make that fresh key stale for its other users.
        False when renewal is impossible (no key file, no API key, or a remote server).
        """
        with _RENEWAL_LOCK:
            current = read_key(self.key_file, self.key_kind)
            if current and current != refused and not self._expires_soon():
                # The file holds a key with time left that was not refused: another thread or
                # process renewed it (perhaps while we waited for the lock), or the server
                # restarted. Renewing again would make it stale for everyone already using it.
                self._key = current
                return True
            api_key = read_key(self.key_file, "API")
            if not api_key or not self.renew_url:
                return False
            try:
                response = self._http.request(
                    "POST", f"{self.renew_url.rstrip('/')}/token", params={"type": self.key_kind}, headers={"Authorization": f"Bearer {api_key}"}, timeout=self.timeout
                )
            except requests.RequestException:
                return False
            if response.status_code != 200:
                logger.warning("renewing the %s key failed (%s)", self.key_kind, response.status_code)
                return False
            self._key = read_key(self.key_file, self.key_kind)
            logger.info("renewed the %s key", self.key_kind)
            return True

    def request(self, method: str, path: str, items: int = 0, **kwargs: Any) -> requests.Response:
        url = f"{self.base_url}{path}"
        reread = False
        attempt = 0
        # Taken out once, outside the loop: every retry must resend the same headers
        # (Content-Type included) with the current key.
        extra_headers = dict(kwargs.pop("headers", None) or {})
        if self._expires_soon():
            self.renew_key()
        while True:
            headers = dict(extra_headers)
            if self._key:
                headers["Authorization"] = f"Bearer {self._key}"
            started = time.perf_counter()
            try:
                response = self._http.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
            except requests.ConnectionError as exc:
                self._log(method, path, items, started, "connection refused")
                if attempt < self.retries:
                    attempt += 1
                    time.sleep(self._pause(attempt))
                    continue
                raise ServerDownError(f"TorchServe is not reachable at {self.base_url}", START_HINT) from exc
            except requests.Timeout as exc:
                self._log(method, path, items, started, "timeout")
                raise ServerDownError(f"TorchServe at {self.base_url} did not answer within {self.timeout:g} s", "try again, or raise the timeout in the settings") from exc
            self._log(method, path, items, started, str(response.status_code))
            if _is_transient(response) and attempt < self.retries:
                attempt += 1
                time.sleep(self._pause(attempt))
                continue
            if _is_key_refusal(response):
                # Once per request: a restarted server wrote a new key file (re-read it), or
                # the key expired (the file still holds it: renew through the token API).
                if not reread:
                    reread = True
                    if self.renew_key(refused=headers.get("Authorization", "").removeprefix("Bearer ")):
                        continue
                raise KeyRefusedError(
                    f"TorchServe refused the {self.key_kind} key (InvalidKeyException)",
                    f"check the key file ({self.key_file or 'not set'}); `feedback serve start` writes a new one on every start",
                )
            return response

    def _log(self, method: str, path: str, items: int, started: float, outcome: str) -> None:
        record = {"time": time.time(), "method": method, "path": path, "items": items, "ms": round((time.perf_counter() - started) * 1000, 1), "outcome": outcome}
        logger.info("%s %s items=%d %.0f ms -> %s", method, path, items, record["ms"], outcome)
        if self.on_request is not None:
            self.on_request(record)


def _is_key_refusal(response: requests.Response) -> bool:
    return response.status_code in (400, 401) and "InvalidKeyException" in response.text


def _is_transient(response: requests.Response) -> bool:
    """503 (queue full: designed back-pressure) or a worker that died mid-request (TorchServe
    answers 500 or 507 "Worker died." and restarts it): classifying is idempotent, so retry."""
    return response.status_code == 503 or (response.status_code >= 500 and "Worker died" in response.text)


def error_message(response: requests.Response) -> str:
    """The server's own message for a refused request (TorchServe JSON, or the raw text)."""
    try:
        data = response.json()
        if isinstance(data, dict):
            return str(data.get("message") or data.get("error") or data)
    except ValueError:
        pass
    return response.text.strip()[:300] or response.reason


# The handler explains at most this many texts per request (its EXPLAIN_MAX_ITEMS; a
# contract test keeps the two equal): each costs up to 41 forward passes.
EXPLAIN_CHUNK = 16


class InferenceClient:
    """Classify texts against ``/predictions/<model>`` and explain them against
    ``/explanations/<model>``; lists are sent in chunks."""

    def __init__(
        self,
        base_url: str = DEFAULT_INFERENCE_URL,
        key_file: Path | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        model: str = MODEL_NAME,
        chunk_size: int = 64,
        on_request: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.session = Session(base_url, "inference", key_file, timeout, retries, on_request=on_request)
        self.model = model
        self.chunk_size = chunk_size

    def ping(self) -> bool:
        try:
            return self.session.request("GET", "/ping").status_code == 200
        except ServerDownError:
            return False

    def classify(self, text: str) -> Prediction:
        """One text -> Prediction; a refused text raises RequestRejectedError with the reason."""
        response = self.session.request(
            "POST", f"/predictions/{self.model}", items=1, data=text.encode("utf-8"), headers={"Content-Type": "text/plain; charset=utf-8"}
        )
        if response.status_code != 200:
            raise RequestRejectedError(f"the server refused the text: {error_message(response)}", "", response.status_code)
        return Prediction.from_json(response.json())

    def classify_chunk(self, items: Sequence[tuple[Any, str]]) -> list[Prediction | ItemError]:
        payload = {"items": [{"id": item_id, "text": text} for item_id, text in items]}
        response = self.session.request("POST", f"/predictions/{self.model}", items=len(items), json=payload)
        if response.status_code != 200:
            raise RequestRejectedError(f"the server refused a batch: {error_message(response)}", "", response.status_code)
        return [ItemError(r["error"], r.get("id")) if "error" in r else Prediction.from_json(r) for r in response.json()]

    def classify_many(
        self,
        items: Sequence[tuple[Any, str]],
        progress: Callable[[int, list[Prediction | ItemError]], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> list[Prediction | ItemError]:
        """Classify in chunks; ``progress(done, chunk_results)`` after each chunk; stops when ``cancelled()``."""
        results: list[Prediction | ItemError] = []
        for start in range(0, len(items), self.chunk_size):
            if cancelled is not None and cancelled():
                break
            chunk = self.classify_chunk(items[start : start + self.chunk_size])
            results.extend(chunk)
            if progress is not None:
                progress(len(results), chunk)
        return results


    def explain(self, text: str) -> Explanation:
        """One text -> Explanation (the words behind its label); a refused text raises
        RequestRejectedError with the reason."""
        response = self.session.request(
            "POST", f"/explanations/{self.model}", items=1, data=text.encode("utf-8"), headers={"Content-Type": "text/plain; charset=utf-8"}
        )
        if response.status_code != 200:
            raise RequestRejectedError(f"the server could not explain the text: {error_message(response)}", "", response.status_code)
        return Explanation.from_json(response.json())

    def explain_many(self, items: Sequence[tuple[Any, str]], cancelled: Callable[[], bool] | None = None) -> list[Explanation | ItemError]:
        """(id, text) pairs -> one Explanation or ItemError each, in order, sent
        ``EXPLAIN_CHUNK`` at a time; stops between chunks when ``cancelled()``."""
        results: list[Explanation | ItemError] = []
        for start in range(0, len(items), EXPLAIN_CHUNK):
            if cancelled is not None and cancelled():
                break
            chunk = items[start : start + EXPLAIN_CHUNK]
            payload = {"items": [{"id": item_id, "text": text} for item_id, text in chunk]}
            response = self.session.request("POST", f"/explanations/{self.model}", items=len(chunk), json=payload)
            if response.status_code != 200:
                raise RequestRejectedError(f"the server could not explain a batch: {error_message(response)}", "", response.status_code)
            results.extend(ItemError(r["error"], r.get("id")) if "error" in r else Explanation.from_json(r) for r in response.json())
        return results


@dataclass(frozen=True)
class ModelVersion:
    version: str
    is_default: bool
    workers: int
    ready_workers: int
    batch_size: int
    max_batch_delay: int
    url: str


class ManagementClient:
    def __init__(self, base_url: str = DEFAULT_MANAGEMENT_URL, key_file: Path | None = None, timeout: float = 120.0, retries: int = 2) -> None:
        self.session = Session(base_url, "management", key_file, timeout, retries)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, path, **kwargs)
        if response.status_code >= 300:
            raise RequestRejectedError(
                f"management API {method} {path.split('?')[0]} failed ({response.status_code}): {error_message(response)}",
                "see the server log in the state directory's logs/ folder",
                response.status_code,
            )
        return response.json() if response.content else None

    def models(self) -> list[str]:
        return [m["modelName"] for m in self._call("GET", "/models").get("models", [])]

    def versions(self, model: str = MODEL_NAME) -> list[ModelVersion]:
        """Every registered version of ``model`` with its workers (empty if not registered)."""
        try:
            described = self._call("GET", f"/models/{model}/all")
        except RequestRejectedError as exc:
            if exc.status == 404:
                return []
            raise
        out = []
        for entry in described:
            workers = entry.get("workers", [])
            out.append(
                ModelVersion(
                    version=str(entry.get("modelVersion")),
                    is_default=False,
                    workers=len(workers),
                    ready_workers=sum(1 for w in workers if w.get("status") == "READY"),
                    batch_size=int(entry.get("batchSize", 1)),
                    max_batch_delay=int(entry.get("maxBatchDelay", 0)),
                    url=str(entry.get("modelUrl", "")),
                )
            )
        default = self.default_version(model)
        return [ModelVersion(**{**v.__dict__, "is_default": v.version == default}) for v in out]

    def default_version(self, model: str = MODEL_NAME) -> str | None:
        try:
            described = self._call("GET", f"/models/{model}")
        except RequestRejectedError as exc:
            if exc.status == 404:
                return None
            raise
        return str(described[0].get("modelVersion")) if described else None

    def register(self, archive: str) -> None:
        """Register an archive of the model store; workers and batching come from its model-config YAML."""
        self._call("POST", f"/models?url={quote(archive, safe='')}&synchronous=true")

    def set_default(self, version: str, model: str = MODEL_NAME) -> None:
        self._call("PUT", f"/models/{model}/{version}/set-default")

    def scale(self, min_worker: int, max_worker: int | None = None, version: str | None = None, model: str = MODEL_NAME) -> None:
        target = f"/models/{model}" + (f"/{version}" if version else "")
        query = f"min_worker={min_worker}&max_worker={max_worker if max_worker is not None else min_worker}&synchronous=true"
        self._call("PUT", f"{target}?{query}")

    def unregister(self, version: str, model: str = MODEL_NAME) -> None:
        self._call("DELETE", f"/models/{model}/{version}")


def connect(state_dir: Path, timeout: float = 120.0) -> ManagementClient | None:
    """A management client for the TorchServe instance of ``state_dir`` if it answers, else None."""
    if instance.read_instance(state_dir) is None:
        return None
    client = ManagementClient(instance.server_urls(state_dir)["management"], instance.key_file(state_dir), timeout=timeout, retries=0)
    try:
        client.models()
    except ServerError:
        return None
    return client
