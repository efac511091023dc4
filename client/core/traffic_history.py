"""What the app classified, kept across restarts for the dashboard's drift view.

One small SQLite table in the state folder (``paths.traffic_history_path()``): time, label,
confidence, the model's review flag and the model version of every prediction the app
showed. Never the customer's text: the file says how traffic looked, not what it said.

Bounded twice, applied at every write: rows older than ``MAX_DAYS`` go, and only the
newest ``MAX_ROWS`` rows stay (about 60 bytes a row: a few MB at most).

The history is a convenience, not a record anyone depends on: ``record`` never raises
(a read-only or full disk logs one warning and the app classifies on), and the file is
written with ``synchronous=NORMAL`` (a power cut may take back the last rows).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from client.core.api import Prediction
from client.core.drift import Seen
from client.core.errors import DataError

logger = logging.getLogger(__name__)

MAX_DAYS = 30
"""A month: enough for the per-day view's fortnight and a comparison with the one before."""

MAX_ROWS = 200_000
"""A few hundred messages an hour for a month is ~100,000 rows; twice that leaves room for
big batch files while keeping the file near 12 MB and a full read under a second."""

SCHEMA_VERSION = 1
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS seen (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             REAL NOT NULL,
    label          TEXT NOT NULL,
    confidence     REAL NOT NULL,
    needs_review   INTEGER NOT NULL,
    model_version  TEXT NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS seen_at ON seen (at)",
)


class TrafficHistory:
    """The bounded table of predictions seen; a connection per call (the file may be read by
    a worker thread while the GUI thread records)."""

    def __init__(self, path: str | Path, max_rows: int = MAX_ROWS, max_days: float = MAX_DAYS) -> None:
        if max_rows < 1 or max_days <= 0:
            raise ValueError(f"max_rows and max_days must be positive. But they were: {max_rows}, {max_days}")
        self.path = Path(path)
        self.max_rows = max_rows
        self.max_days = max_days
        self._warned = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise DataError(
                        f"{self.path}: traffic history has schema version {version}, newer than this program ({SCHEMA_VERSION})",
                        "upgrade Feedback Analyzer, or delete the file (it holds no customer text) to start a new history",
                    )
                db.execute("PRAGMA journal_mode=WAL")
                for statement in _SCHEMA:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except (sqlite3.Error, OSError) as exc:
            raise DataError(
                f"{self.path}: cannot open the traffic history ({exc})",
                "make the state folder writable, or point FEEDBACK_TRAFFIC_DB at a file in a writable folder",
            ) from None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=5.0)
        try:
            db.execute("PRAGMA synchronous=NORMAL")
            with db:  # one transaction, committed on success
                yield db
        finally:
            db.close()

    def record(self, seen: Iterable[Seen], now: float | None = None) -> bool:
        """Append ``seen`` and apply the bounds; False (and one logged warning) when the file
        cannot be written. Never raises: a lost history row must not lose a prediction."""
        rows = [(s.at, s.label, float(s.confidence), int(bool(s.needs_review)), str(s.model_version)) for s in seen]
        if not rows:
            return True
        try:
            with self._connect() as db:
                db.executemany("INSERT INTO seen (at, label, confidence, needs_review, model_version) VALUES (?, ?, ?, ?, ?)", rows)
                self._prune(db, time.time() if now is None else now)
        except sqlite3.Error as exc:
            if not self._warned:
                logger.warning("traffic history %s not written (%s); the drift view will miss these predictions", self.path, exc)
                self._warned = True
            return False
        return True

    def _prune(self, db: sqlite3.Connection, now: float) -> None:
        db.execute("DELETE FROM seen WHERE at < ?", (now - self.max_days * 86400,))
        db.execute("DELETE FROM seen WHERE id <= (SELECT id FROM seen ORDER BY id DESC LIMIT 1 OFFSET ?)", (self.max_rows,))

    def since(self, start: float) -> list[Seen]:
        """Every row from ``start`` (seconds since the epoch) on, oldest first."""
        try:
            with self._connect() as db:
                rows = db.execute("SELECT at, label, confidence, needs_review, model_version FROM seen WHERE at >= ? ORDER BY at, id", (start,)).fetchall()
        except sqlite3.Error as exc:
            raise DataError(f"{self.path}: cannot read the traffic history ({exc})", "delete the file (it holds no customer text) to start a new history") from None
        return [Seen(at, label, confidence, bool(flag), version) for at, label, confidence, flag, version in rows]

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM seen").fetchone()[0])


def open_history(path: str | Path) -> TrafficHistory | None:
    """The history at ``path``, or None (with a warning in the log) when it cannot be opened:
    the app works without one."""
    try:
        return TrafficHistory(path)
    except DataError as exc:
        logger.warning("%s %s", exc.message, exc.hint)
        return None


def record_predictions(history: TrafficHistory | None, predictions: Iterable[Prediction], now: float | None = None) -> bool:
    """Record what the app showed, with the model's own review flag (see ``client.core.drift``);
    False when there is no history or it was not written."""
    if history is None:
        return False
    at = time.time() if now is None else now
    return history.record((Seen(at, p.label, p.confidence, p.needs_review, p.model_version) for p in predictions), at)
