"""The local corrections store: agents' verdicts, kept for retraining.

SQLite in WAL mode, schema versioned by ``user_version``; stdlib only, so the desktop
client and ``feedback retrain`` share it without torch.

What the store promises (each shown by ``tests/client/test_corrections_store.py``):

- A correction is on disk when ``add`` returns: every write is one ``BEGIN IMMEDIATE`` ...
  ``COMMIT`` with ``synchronous=FULL``, so neither a killed process nor a power cut loses a
  saved correction, and several processes writing at once wait for each other (up to
  ``timeout`` seconds) instead of failing.
- Readers never wait for writers (WAL) and see every committed row.
- Every failure is a ``DataError`` that says what happened and what to do (busy, read-only,
  damaged, newer schema, disk full); the store never overwrites or deletes a file it
  cannot read.
- Customers' words leave the store for good: deleting (``delete_where``, ``purge_consumed``)
  zeroes the freed space (``secure_delete``) and empties the write-ahead log afterwards.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from client.core.errors import DataError
from client.core.labels import LABELS, unknown_label_message
from client.core.records import read_records, write_records

SCHEMA_VERSION = 3
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS corrections (
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
    consumed_by      TEXT,
    spot_check       INTEGER NOT NULL DEFAULT 0,
    needs_review     INTEGER,
    scores           TEXT,
    source_digest    TEXT
)""",
    "CREATE INDEX IF NOT EXISTS corrections_pending ON corrections (consumed_by)",
)
# What each version adds to the one before: a store of an older version is brought up to
# date when it is opened, in one transaction, keeping every row.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: (  # spot checks (client/core/spot_check.py): a verdict on a randomly drawn item, and the review flag it had
        "ALTER TABLE corrections ADD COLUMN spot_check INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE corrections ADD COLUMN needs_review INTEGER",
        "ALTER TABLE corrections ADD COLUMN scores TEXT",  # the eight scores as served, JSON: a source's temperature is fitted on them
    ),
    3: (  # which file a verdict came from, beyond its name (client/core/channels.py): two files named export.csv are two files
        "ALTER TABLE corrections ADD COLUMN source_digest TEXT",
    ),
}
KINDS = ("correction", "confirmation")
STORE_SUFFIXES = (".sqlite3", ".sqlite", ".db")
BUSY_TIMEOUT_S = 10.0
FILE_MODE = 0o600  # customers' words: readable by the agent's account only
_DELETE_CHUNK = 500  # ids per DELETE statement (SQLite's variable limit is far above)


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
    spot_check: bool = False  # the item was drawn at random for a spot check, not picked by the agent
    needs_review: bool | None = None  # the review flag on the prediction; None when not recorded
    scores: dict[str, float] | None = None  # every label's score as served; None when not recorded
    # A fingerprint of the file the item came from (client.core.batch.file_digest); None for a
    # text typed in the Classify tab, and for verdicts saved before it was recorded.
    source_digest: str | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        # SQLite and CSV give 0/1 or "true"/"false"; the dataclass always holds bools.
        object.__setattr__(self, "spot_check", bool(parse_flag(self.spot_check, "spot_check")))
        object.__setattr__(self, "needs_review", parse_flag(self.needs_review, "needs_review"))
        object.__setattr__(self, "scores", parse_scores(self.scores))
        if self.final_label not in LABELS:
            raise DataError(unknown_label_message(self.final_label))
        if self.kind not in KINDS:
            raise DataError(f"unknown correction kind {self.kind!r}; expected one of: {', '.join(KINDS)}")
        if not self.text or not self.text.strip():
            raise DataError("a correction needs the text it corrects")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def to_record(self) -> dict[str, object]:
        """A flat row, as the store and CSV files hold it: the scores as JSON text."""
        record = self.to_dict()
        record["scores"] = json.dumps(self.scores, sort_keys=True) if self.scores is not None else None
        return record


_COLUMNS = tuple(name for name in Correction.__dataclass_fields__ if name != "id")
_INSERT = f"INSERT INTO corrections ({', '.join(_COLUMNS)}) VALUES ({', '.join(':' + c for c in _COLUMNS)})"


@dataclass(frozen=True)
class StoreCounts:
    total: int
    pending: int

    @property
    def consumed(self) -> int:
        return self.total - self.pending


@dataclass(frozen=True)
class Erasure:
    """What a delete did: rows removed, and whether no trace of them is left in the files.

    ``erased`` is False when another program was reading the store at that moment, so the
    write-ahead log could not be emptied; the old pages go at the next quiet moment.
    """

    deleted: int
    erased: bool


@dataclass(frozen=True)
class BackupResult:
    path: Path
    rows: int
    bytes: int
    seconds: float


_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no")


def parse_flag(value: object, field: str) -> bool | None:
    """A yes/no field as stored (bool, 0/1, or text such as "True"); None when empty."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().casefold()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise DataError(f"{field} must be true or false (or 1 or 0). But it was {value!r}")


def parse_scores(value: object) -> dict[str, float] | None:
    """The eight scores as stored (JSON text, or a mapping from a JSONL file); None when empty."""
    if value is None or value == "":
        return None
    try:
        scores = json.loads(value) if isinstance(value, str) else value
        if not isinstance(scores, dict):
            raise ValueError("not an object")
        out = {str(label): float(score) for label, score in scores.items()}
    except (ValueError, TypeError) as exc:
        raise DataError(f"scores must be a JSON object of label: score. But it was {str(value)[:80]!r} ({exc})") from None
    unknown = sorted(set(out) - set(LABELS))
    if unknown or not all(0.0 <= v <= 1.0 for v in out.values()):
        raise DataError(f"scores must hold the labels' scores from 0 to 1. But it had {', '.join(unknown) or 'a score outside 0 to 1'}")
    return out


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def parse_time(value: str | None) -> datetime | None:
    """A stored ``created_at`` as an aware UTC datetime; None when it cannot be read.

    Imported corrections may carry naive times (taken as UTC) or none; rows without a
    readable time are never matched by age, so nothing is deleted on a guess.
    """
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def parse_day(value: str) -> datetime:
    """``YYYY-MM-DD`` (the start of that day, UTC) or a full ISO time; ValueError otherwise."""
    try:
        day = date.fromisoformat(value.strip())
        return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    except ValueError:
        pass
    parsed = parse_time(value)
    if parsed is None:
        raise ValueError(f"expected a date like 2025-01-31 or 2025-01-31T12:00:00+00:00. But it was: {value!r}")
    return parsed


def matches(text: str, created_at: str | None, text_contains: str | None = None, before: datetime | None = None) -> bool:
    """Does a row fall under a deletion request? Every given criterion must hold.

    Text is matched case-insensitively (``casefold``, so "Müller" finds "MÜLLER"); a row
    whose time cannot be read never matches ``before``.
    """
    if text_contains is not None and text_contains.casefold() not in text.casefold():
        return False
    if before is not None:
        saved = parse_time(created_at)
        if saved is None or saved >= before:
            return False
    return True


def expired(created_at: str | None, consumed_by: str | None, older_than_days: int, now: datetime) -> bool:
    """The retention rule: consumed by a promoted version and saved over N days before ``now``."""
    if consumed_by is None:
        return False
    return matches("", created_at, before=now - timedelta(days=older_than_days))


def store_error(path: Path, action: str, exc: sqlite3.Error, timeout: float = BUSY_TIMEOUT_S) -> DataError:
    """A SQLite failure told as what it means for the user, with the next step."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    detail = str(exc)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in detail:
        return DataError(
            f"{path}: the corrections store is busy: another program has held it for over {timeout:g} s, so {action} did not happen",
            "wait until the other program (a retrain, a backup, another copy of the app) is done and retry; nothing saved before was lost",
        )
    if name.startswith("SQLITE_READONLY") or "readonly database" in detail:
        return DataError(
            f"{path}: the corrections store is read-only, so {action} did not happen",
            f"make the file and its folder writable (chmod u+w '{path}' '{path.parent}'), or point FEEDBACK_CORRECTIONS_DB at a writable file",
        )
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in detail:
        return DataError(
            f"{path}: the corrections store cannot be opened, so {action} did not happen",
            f"check that '{path.parent}' exists and is writable: SQLite keeps two helper files (-wal, -shm) beside the store",
        )
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in detail or "not a database" in detail:
        return DataError(
            f"{path}: the corrections store is damaged or is not a corrections store ({detail}), so {action} did not happen",
            "leave the file where it is (nothing overwrites it): copy it aside, restore your latest `feedback corrections backup`, "
            "or save what is readable with `sqlite3 OLD .recover | sqlite3 NEW`; then point FEEDBACK_CORRECTIONS_DB at the good file",
        )
    if name == "SQLITE_FULL" or "disk is full" in detail:
        return DataError(f"{path}: the disk is full, so {action} did not happen", "free some space and retry; nothing saved before was lost")
    if name.startswith("SQLITE_IOERR") or "disk I/O error" in detail:
        return DataError(
            f"{path}: the disk reported an error, so {action} did not happen ({detail})",
            "check the disk and that the folder still exists; then run `feedback corrections check`",
        )
    return DataError(f"{path}: {action} failed: {detail}", "run `feedback corrections check`; if it reports problems, restore your latest backup")


def _upgrade(db: sqlite3.Connection, version: int) -> tuple[str, ...]:
    """The statements that bring a store of ``version`` to ``SCHEMA_VERSION``.

    Version 0 is a new file, or a store whose version was lost (``sqlite3 .dump`` does not
    keep it): its columns say which version it is.
    """
    if version == 0:
        columns = {row[1] for row in db.execute("PRAGMA table_info(corrections)")}
        if not columns:
            return _SCHEMA
        version = 3 if "source_digest" in columns else 2 if "spot_check" in columns else 1  # the columns each version added (see _MIGRATIONS)
    return tuple(statement for step in range(version + 1, SCHEMA_VERSION + 1) for statement in _MIGRATIONS[step])


class CorrectionsStore:
    """The local retraining set: SQLite in WAL mode, schema versioned by ``user_version``.

    Every ``add`` commits at once, so a crash of the app never loses a saved correction.
    Connections are opened per call: the client writes from the GUI thread while a
    retrain process may read the same file, and a connection left open would hold the
    write-ahead log (and deleted customers' words in it) for as long as the app runs.

    ``synchronous=FULL`` rather than NORMAL: NORMAL would also survive a killed process,
    but a power cut could take back the last commits; an agent's verdict is worth the
    ~2 ms of an fsync per click (figures in docs/RELIABILITY.md).
    """

    def __init__(self, path: str | Path, timeout: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._create_file()
        with self._connect("opening the store") as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            self._refuse_newer(version)
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            if version < SCHEMA_VERSION:
                db.execute("BEGIN IMMEDIATE")  # two processes creating or upgrading the store at once: one does it, the other sees it
                version = db.execute("PRAGMA user_version").fetchone()[0]
                self._refuse_newer(version)
                for statement in _upgrade(db, version):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                db.execute("COMMIT")

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise DataError(
                f"{self.path}: corrections store has schema version {version}, newer than this program ({SCHEMA_VERSION})",
                "upgrade Feedback Analyzer (the file is left as it is), or point FEEDBACK_CORRECTIONS_DB at another file",
            )

    def _create_file(self) -> None:
        """Create an empty store file readable by this account only; never touch an existing one."""
        if self.path.is_dir():
            raise DataError(f"{self.path} is a folder, not a corrections store", "point FEEDBACK_CORRECTIONS_DB at a file, e.g. corrections.sqlite3")
        if self.path.exists():
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
        except FileExistsError:  # another process created it a moment ago
            pass
        except OSError as exc:
            raise DataError(
                f"{self.path}: cannot create the corrections store ({exc.strerror})",
                f"make '{self.path.parent}' writable, or point FEEDBACK_CORRECTIONS_DB at a file in a writable folder",
            ) from None

    @contextmanager
    def _connect(self, action: str) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode (transactions are explicit), always closed; every
        SQLite error becomes a ``DataError`` naming ``action``. ``mode=rw``: a store removed
        behind our back is an error, not a new empty file."""
        db = None
        try:
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=rw", uri=True, timeout=self.timeout, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA synchronous=FULL")
            yield db
        except sqlite3.Error as exc:
            raise store_error(self.path, action, exc, self.timeout) from exc
        finally:
            if db is not None:
                db.close()  # rolls back anything not committed

    @contextmanager
    def _write(self, action: str) -> Iterator[sqlite3.Connection]:
        """One write transaction: the lock is taken up front (so the busy timeout applies,
        instead of failing when a read would have to become a write) and committed at the end."""
        with self._connect(action) as db:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")

    @contextmanager
    def _read(self, action: str) -> Iterator[sqlite3.Connection]:
        """One read snapshot: several queries see the same committed state."""
        with self._connect(action) as db:
            db.execute("BEGIN")
            yield db
            db.execute("COMMIT")

    def add(self, correction: Correction) -> int:
        return self.add_many([correction])[0]

    def add_many(self, corrections: Iterable[Correction]) -> list[int]:
        """Add several corrections in one transaction (an import): all of them, or none."""
        ids = []
        with self._write("saving the corrections") as db:
            for correction in corrections:
                values = correction.to_record()
                values.pop("id")
                values["created_at"] = values["created_at"] or now_iso()
                ids.append(int(db.execute(_INSERT, values).lastrowid))
        return ids

    def undo(self, correction_id: int) -> bool:
        """Remove a correction that no model has consumed yet; True when one was removed."""
        with self._write("undoing the correction") as db:
            cursor = db.execute("DELETE FROM corrections WHERE id = ? AND consumed_by IS NULL", (correction_id,))
            return cursor.rowcount > 0

    def all(self, pending_only: bool = False) -> list[Correction]:
        query = "SELECT * FROM corrections"
        if pending_only:
            query += " WHERE consumed_by IS NULL"
        with self._read("reading corrections") as db:
            return [Correction(**dict(row)) for row in db.execute(query + " ORDER BY id")]

    def pending_count(self) -> int:
        return self.counts().pending

    def counts(self) -> StoreCounts:
        with self._read("counting corrections") as db:
            total, pending = db.execute("SELECT COUNT(*), COUNT(*) - COUNT(consumed_by) FROM corrections").fetchone()
            return StoreCounts(int(total), int(pending))

    def mark_consumed(self, ids: Iterable[int], version: str) -> int:
        ids = list(ids)
        with self._write("marking corrections as used") as db:
            db.executemany("UPDATE corrections SET consumed_by = ? WHERE id = ?", [(version, i) for i in ids])
        return len(ids)

    def export(self, path: str | Path, pending_only: bool = False) -> Path:
        return write_records(path, [c.to_record() for c in self.all(pending_only)])

    def find(self, text_contains: str | None = None, before: datetime | None = None) -> list[Correction]:
        """The corrections a deletion request would remove (see ``matches``)."""
        return [c for c in self.all() if matches(c.text, c.created_at, text_contains, before)]

    def delete_where(self, text_contains: str | None = None, before: datetime | None = None) -> Erasure:
        """Delete every correction matching a deletion request, consumed or not, in one transaction.

        Refuses an empty request: deleting everything is done by removing the file.
        """
        if text_contains is None and before is None:
            raise DataError("a deletion request needs --text-contains or --before", "say which corrections to delete; to delete all, remove the store file")
        if text_contains is not None and not text_contains.strip():
            raise DataError("--text-contains is empty, which would match every correction", "pass the words to look for, e.g. a name or an e-mail address")
        return self._erase("deleting corrections", lambda row: matches(row["text"], row["created_at"], text_contains, before))

    def purge_consumed(self, older_than_days: int, now: datetime) -> Erasure:
        """The retention rule applied: delete corrections a promoted version has consumed and
        that were saved more than ``older_than_days`` days before ``now``. Pending ones stay,
        however old: they have not been learnt from yet. ``0`` keeps everything."""
        if older_than_days < 0:
            raise DataError(f"older_than_days must be 0 (keep forever) or more. But it was: {older_than_days}")
        if older_than_days == 0:
            return Erasure(0, True)
        return self._erase("purging old corrections", lambda row: expired(row["created_at"], row["consumed_by"], older_than_days, now))

    def _erase(self, action: str, selected: Callable[[sqlite3.Row], bool]) -> Erasure:
        with self._write(action) as db:
            db.execute("PRAGMA secure_delete=ON")  # freed pages are zeroed, not left holding the text
            ids = [row["id"] for row in db.execute("SELECT id, text, created_at, consumed_by FROM corrections") if selected(row)]
            for start in range(0, len(ids), _DELETE_CHUNK):
                chunk = ids[start : start + _DELETE_CHUNK]
                db.execute(f"DELETE FROM corrections WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
        erased = self._empty_log(action) if ids else True
        return Erasure(len(ids), erased)

    def _empty_log(self, action: str) -> bool:
        """Copy the write-ahead log into the store and truncate it, so the text of deleted rows
        (still in the log's older frames) is gone; False when a reader kept that from finishing."""
        with self._connect(action) as db:
            busy, _log, _done = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            return busy == 0

    def check(self) -> list[str]:
        """SQLite's full integrity check: an empty list when the store is sound."""
        with self._read("checking the store") as db:
            problems = [row[0] for row in db.execute("PRAGMA integrity_check")]
        return [] if problems == ["ok"] else problems

    def backup(self, out: str | Path) -> BackupResult:
        """Copy the store to ``out`` through SQLite's online backup API, safe while others write.

        The copy is taken in one step (``pages=-1``) inside one read snapshot, so it holds
        exactly the rows committed when it began, and writers are never blocked (WAL). It
        is written beside ``out`` under a temporary name, checked, then renamed: a failed
        backup leaves nothing behind, and an existing file is never overwritten.
        """
        out = Path(out)
        if out.exists():
            raise DataError(f"{out} already exists", "choose a new file name: a backup never overwrites a file")
        partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
        started = time.perf_counter()
        try:
            os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
        except OSError as exc:
            raise DataError(f"{out}: cannot write the backup ({exc.strerror})", f"check that '{out.parent}' exists and is writable") from None
        try:
            with self._connect("backing up the store") as source:
                rows = self._copy(source, partial, out)
            if out.exists():
                raise DataError(f"{out} appeared while the backup was written", "choose a new file name: a backup never overwrites a file")
            os.replace(partial, out)
        finally:
            partial.unlink(missing_ok=True)
        return BackupResult(out, rows, out.stat().st_size, time.perf_counter() - started)

    @staticmethod
    def _copy(source: sqlite3.Connection, partial: Path, out: Path) -> int:
        """Copy, switch the copy to a self-contained file, check it; the number of rows it holds."""
        target = sqlite3.connect(partial, isolation_level=None)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")  # no -wal beside it: readable from read-only media
            problems = [row[0] for row in target.execute("PRAGMA integrity_check")]
            rows = int(target.execute("SELECT COUNT(*) FROM corrections").fetchone()[0]) if problems == ["ok"] else 0
        except sqlite3.Error as exc:
            raise store_error(out, "writing the backup", exc) from exc
        finally:
            target.close()
        if problems != ["ok"]:
            raise DataError(f"{out}: the backup failed its integrity check: {problems[0]}", "run `feedback corrections check` on the store, then retry")
        return rows


def read_corrections(path: str | Path) -> list[Correction]:
    """Corrections from a SQLite store or an exported JSONL/CSV file (so teams can pool them)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: corrections file not found", "check the path, or run the app to collect corrections")
    if path.suffix.lower() in STORE_SUFFIXES:
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
