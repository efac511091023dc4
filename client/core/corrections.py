"""The local corrections store: agents' verdicts, kept for retraining.

SQLite in WAL mode, schema versioned by ``user_version``; stdlib only, so the desktop
client and ``feedback retrain`` share it without torch.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from client.core.errors import DataError
from client.core.labels import LABELS, unknown_label_message
from client.core.records import read_records, write_records

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS corrections (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    text             TEXT NOT NULL,
    predicted_label  TEXT,
    final_label      TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('correction', 'confirmation')),
    confidence       REAL,
    model_version    TEXT,
    created_at       TEXT NOT NULL,
    agent            TEXT,
    source           TEXT,
    consumed_by      TEXT
);
CREATE INDEX IF NOT EXISTS corrections_pending ON corrections (consumed_by);
"""
KINDS = ("correction", "confirmation")


@dataclass(frozen=True)
class Correction:
    """An agent's verdict on one prediction: a changed label or a confirmed one."""

    text: str
    final_label: str
    predicted_label: str | None = None
    kind: str = "correction"
    confidence: float | None = None
    model_version: str | None = None
    created_at: str = ""
    agent: str | None = None
    source: str | None = None
    consumed_by: str | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if self.final_label not in LABELS:
            raise DataError(unknown_label_message(self.final_label))
        if self.kind not in KINDS:
            raise DataError(f"unknown correction kind {self.kind!r}; expected one of: {', '.join(KINDS)}")
        if not self.text or not self.text.strip():
            raise DataError("a correction needs the text it corrects")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class CorrectionsStore:
    """The local retraining set: SQLite in WAL mode, schema versioned by ``user_version``.

    Every ``add`` commits at once, so a crash of the app never loses a saved correction.
    Connections are opened per call: the client writes from the GUI thread while a
    retrain process may read the same file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise DataError(
                    f"{self.path}: corrections store has schema version {version}, newer than this program ({SCHEMA_VERSION})",
                    "upgrade Feedback Analyzer, or point FEEDBACK_CORRECTIONS_DB at another file",
                )
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def add(self, correction: Correction) -> int:
        values = correction.to_dict()
        values.pop("id")
        values["created_at"] = values["created_at"] or now_iso()
        names = ", ".join(values)
        marks = ", ".join(f":{k}" for k in values)
        with self._connect() as db:
            cursor = db.execute(f"INSERT INTO corrections ({names}) VALUES ({marks})", values)
            return int(cursor.lastrowid)

    def undo(self, correction_id: int) -> bool:
        """Remove a correction that no model has consumed yet; True when one was removed."""
        with self._connect() as db:
            cursor = db.execute("DELETE FROM corrections WHERE id = ? AND consumed_by IS NULL", (correction_id,))
            return cursor.rowcount > 0

    def all(self, pending_only: bool = False) -> list[Correction]:
        query = "SELECT * FROM corrections"
        if pending_only:
            query += " WHERE consumed_by IS NULL"
        with self._connect() as db:
            return [Correction(**dict(row)) for row in db.execute(query + " ORDER BY id")]

    def pending_count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM corrections WHERE consumed_by IS NULL").fetchone()[0])

    def mark_consumed(self, ids: Iterable[int], version: str) -> int:
        ids = list(ids)
        with self._connect() as db:
            db.executemany("UPDATE corrections SET consumed_by = ? WHERE id = ?", [(version, i) for i in ids])
        return len(ids)

    def export(self, path: str | Path, pending_only: bool = False) -> Path:
        return write_records(path, [c.to_dict() for c in self.all(pending_only)])


def read_corrections(path: str | Path) -> list[Correction]:
    """Corrections from a SQLite store or an exported JSONL/CSV file (so teams can pool them)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: corrections file not found", "check the path, or run the app to collect corrections")
    if path.suffix.lower() in (".sqlite3", ".sqlite", ".db"):
        return CorrectionsStore(path).all()
    result = read_records(path)
    if result.errors:
        first = result.errors[0]
        raise DataError(f"{path}:{first.line}: {first.message}", "fix or remove the row, then retry")
    known = set(Correction.__dataclass_fields__)
    out = []
    for row in result.rows:
        values = {k: (v if v != "" else None) for k, v in row.fields.items() if k in known}
        values["text"] = row.text
        for key in ("id",):
            if values.get(key) is not None:
                values[key] = int(values[key])
        if values.get("confidence") is not None:
            values["confidence"] = float(values["confidence"])
        values.setdefault("created_at", "")
        try:
            out.append(Correction(**values))
        except (DataError, TypeError) as exc:
            raise DataError(f"{path}:{row.line}: {exc}", "fix or remove the row, then retry") from exc
    return out
