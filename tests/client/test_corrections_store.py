"""The corrections store loses nothing: concurrent writers, kill -9, live readers, every failure
a clear ``DataError``, retention, deletion requests and online backups.

Real SQLite files in ``tmp_path`` and real processes (``corrections_writer.py``): locking,
durability and crashes are the operating system's, not simulated. Each writer commits row by
row with ``synchronous=FULL`` and a connection per call, as the app does (not a faster setting
just for the tests): 40-100 commits/s on a busy disk, so the two-writer test takes 10-35 s
(figures and the reasoning in docs/RELIABILITY.md).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from client.core.corrections import SCHEMA_VERSION, Correction, CorrectionsStore, expired, matches, parse_day, read_corrections
from client.core.errors import DataError

ROWS = 1000  # per writer when two write at once, as issue #11 asks
LIVE_ROWS = 300  # a writer beside a reader: enough for many reads to overlap its commits
WRITER = Path(__file__).with_name("corrections_writer.py")
DEADLINE_S = 120  # a writer that has not finished by then has hung: fail, never wait forever


class Writer:
    """A writer process and the ids (or versions) it has reported as committed, read live."""

    def __init__(self, *args: object) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(WRITER), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.reported: list[int] = []
        self._seen = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._seen:
                self.reported.append(int(line))
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    def wait_for(self, count: int) -> None:
        with self._seen:
            ok = self._seen.wait_for(lambda: len(self.reported) >= count or self.process.poll() is not None, timeout=DEADLINE_S)
        assert ok and len(self.reported) >= count, f"writer reported {len(self.reported)} commits, expected {count}"

    def finish(self) -> list[int]:
        try:
            code = self.process.wait(timeout=DEADLINE_S)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        self._reader.join(timeout=10)
        assert self.process.stderr is not None
        assert code == 0, self.process.stderr.read()
        return list(self.reported)

    def kill(self) -> list[int]:
        """SIGKILL: no atexit, no close, no rollback; what it reported before dying is committed."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=DEADLINE_S)
        self._reader.join(timeout=10)
        return list(self.reported)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def seeded(path: Path, n: int, **fields: object) -> CorrectionsStore:
    store = CorrectionsStore(path)
    store.add_many(Correction(f"seed {i}", "bug", "praise", **fields) for i in range(n))  # type: ignore[arg-type]
    return store


# --- several processes, crashes and live readers -------------------------------------------


def test_two_processes_writing_1000_each_at_once_lose_none(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    CorrectionsStore(db)
    writers = {tag: Writer("add", db, ROWS, tag) for tag in ("alpha", "beta")}
    reported = {tag: w.finish() for tag, w in writers.items()}

    store = CorrectionsStore(db)
    rows = store.all()
    assert len(rows) == 2 * ROWS and len({c.id for c in rows}) == 2 * ROWS
    for tag, ids in reported.items():
        mine = [c for c in rows if c.agent == tag]
        assert [c.id for c in mine] == ids  # every id the writer was given is there, in its order
        assert [c.text for c in mine] == [f"{tag} {i}" for i in range(ROWS)]
    alpha, beta = reported["alpha"], reported["beta"]
    assert min(beta) < max(alpha) and min(alpha) < max(beta), "the writers did not overlap: the test proved nothing"
    assert store.check() == []


def test_a_writer_killed_mid_write_leaves_a_consistent_store(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    CorrectionsStore(db)
    writer = Writer("add", db, 100 * ROWS, "doomed")
    writer.wait_for(50)
    committed = writer.kill()

    store = CorrectionsStore(db)
    assert store.check() == []
    rows = store.all()
    assert set(committed) <= {c.id for c in rows}
    assert len(rows) - len(committed) <= 1  # at most the row committed between COMMIT and its report
    assert [c.text for c in rows] == [f"doomed {i}" for i in range(len(rows))]
    new_id = store.add(Correction("after the crash", "question"))
    assert new_id > max(c.id for c in rows) and store.counts().total == len(rows) + 1


def test_a_transaction_killed_midway_is_all_or_nothing(tmp_path: Path) -> None:
    """Marking 3,000 rows consumed is one transaction; killed during it, no row is half-marked."""
    db = tmp_path / "c.sqlite3"
    seeded(db, 3 * ROWS)
    writer = Writer("consume", db, 10_000)
    writer.wait_for(3)
    done = writer.kill()

    store = CorrectionsStore(db)
    assert store.check() == []
    versions = {c.consumed_by for c in store.all()}
    assert len(versions) == 1, f"rows marked by different transactions: {sorted(versions, key=str)[:5]}"
    assert int(versions.pop()) in (done[-1], done[-1] + 1)


def test_the_app_reading_while_another_process_writes_sees_every_committed_row(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    store = CorrectionsStore(db)
    writer = Writer("add", db, LIVE_ROWS, "live")
    reads_while_writing = 0
    while writer.process.poll() is None:
        committed = set(writer.reported)  # taken before the read: all of these are on disk
        ids = [c.id for c in store.all()]
        assert committed <= set(ids), f"{len(committed - set(ids))} committed row(s) not seen"
        assert ids == list(range(1, len(ids) + 1)), "a read saw a later row without an earlier one"
        assert store.counts().total >= len(ids)
        reads_while_writing += 1
    reported = writer.finish()
    assert [c.id for c in store.all()] == reported and len(reported) == LIVE_ROWS
    assert reads_while_writing >= 10, "the reader hardly overlapped the writer: the test proved little"


# --- every failure is a DataError that says what to do, and loses nothing ----------------


def test_a_store_locked_longer_than_the_timeout_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    seeded(db, 3)
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # a writer that does not let go (a stuck retrain, say)
        with pytest.raises(DataError) as busy:
            CorrectionsStore(db, timeout=0.3).add(Correction("blocked", "bug"))
        assert "busy" in busy.value.message and "saving" in busy.value.message and "retry" in busy.value.hint
        assert CorrectionsStore(db, timeout=0.3).counts().total == 3  # WAL: readers are not blocked by a writer
        holder.execute("ROLLBACK")
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")  # a connection that keeps even readers out
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("COMMIT")
        with pytest.raises(DataError, match="busy"):
            CorrectionsStore(db, timeout=0.3).counts()
    finally:
        holder.close()
    assert [c.text for c in CorrectionsStore(db).all()] == ["seed 0", "seed 1", "seed 2"]


_PROBE = """
import json, sys
from client.core.corrections import Correction, CorrectionsStore
from client.core.errors import DataError
path, op = sys.argv[1], sys.argv[2]
try:
    store = CorrectionsStore(path)
    value = store.counts().total if op == "count" else store.add(Correction("new", "bug"))
    print(json.dumps({"ok": value}))
except DataError as exc:
    print(json.dumps({"message": exc.message, "hint": exc.hint}))
except Exception as exc:
    print(json.dumps({"raw": repr(exc)}))
"""


def _drop_file_override() -> None:
    """In the child before exec: lose CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (prctl
    PR_CAPBSET_DROP), so root obeys file modes like any user. Without it the read-only tests
    would pass vacuously as root."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def probe(path: Path, op: str) -> dict[str, object]:
    """Open the store in a process that file permissions apply to, and ``op`` it."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, str(path), op], capture_output=True, text=True, timeout=60,
            preexec_fn=_drop_file_override if os.geteuid() == 0 else None,
        )
    except subprocess.SubprocessError as exc:
        pytest.skip(f"cannot run a child that obeys file modes as root here: {exc}")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_read_only_file_reads_but_refuses_writes_clearly(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    seeded(db, 2)
    before = sha256(db)
    db.chmod(0o444)
    try:
        assert probe(db, "count") == {"ok": 2}
        refused = probe(db, "add")
        assert "read-only" in str(refused["message"]) and "chmod u+w" in str(refused["hint"]), refused
    finally:
        db.chmod(0o600)
    assert sha256(db) == before and CorrectionsStore(db).counts().total == 2


def test_a_read_only_folder_is_a_clear_error_for_a_new_or_an_existing_store(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    seeded(folder / "c.sqlite3", 2)
    before = sha256(folder / "c.sqlite3")
    folder.chmod(0o555)
    try:
        new = probe(folder / "new.sqlite3", "add")
        assert "cannot create the corrections store" in str(new["message"]) and "writable" in str(new["hint"]), new
        existing = probe(folder / "c.sqlite3", "add")
        assert "read-only" in str(existing["message"]) and "folder" in str(existing["hint"]), existing
    finally:
        folder.chmod(0o755)
    assert not (folder / "new.sqlite3").exists()
    assert sha256(folder / "c.sqlite3") == before and CorrectionsStore(folder / "c.sqlite3").counts().total == 2


@pytest.mark.parametrize("damage", ["garbage", "truncated", "cut-header", "csv"])
def test_a_damaged_file_is_a_clear_error_and_is_never_overwritten(tmp_path: Path, damage: str) -> None:
    db = tmp_path / "c.sqlite3"
    if damage == "garbage":
        db.write_bytes(os.urandom(8192))
    elif damage == "csv":
        db.write_text("id,text,label\n1,hello,bug\n", encoding="utf-8")
    else:
        seeded(db, ROWS)  # several pages, closed: everything is in the main file
        size = db.stat().st_size
        with db.open("r+b") as fh:
            fh.truncate(size // 2 if damage == "truncated" else 50)
    before = sha256(db)
    for attempt in (lambda: CorrectionsStore(db).all(), lambda: CorrectionsStore(db).add(Correction("new", "bug")),
                    lambda: CorrectionsStore(db).counts(), lambda: CorrectionsStore(db).backup(tmp_path / "b.sqlite3")):
        with pytest.raises(DataError) as error:
            attempt()
        assert "damaged or is not a corrections store" in error.value.message
        assert "restore your latest `feedback corrections backup`" in error.value.hint
    assert sha256(db) == before  # not repaired, replaced or emptied behind the user's back
    assert not (tmp_path / "b.sqlite3").exists()


def test_a_newer_schema_is_refused_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    seeded(db, 2)
    with sqlite3.connect(db) as raw:
        raw.execute("PRAGMA user_version = 7")
    raw.close()
    before = sha256(db)
    with pytest.raises(DataError) as error:
        CorrectionsStore(db)
    assert f"schema version 7, newer than this program ({SCHEMA_VERSION})" in error.value.message and "upgrade Feedback Analyzer" in error.value.hint
    assert sha256(db) == before


# The first schema, as version 1 of the app created it: the upgrade below must keep every row.
SCHEMA_V1 = """CREATE TABLE corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL, predicted_label TEXT, final_label TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('correction', 'confirmation')), confidence REAL, model_version TEXT,
    created_at TEXT NOT NULL, agent TEXT, source TEXT, consumed_by TEXT)"""


def test_a_store_of_the_first_schema_is_upgraded_in_place_and_keeps_every_row(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    with sqlite3.connect(db) as raw:
        raw.execute(SCHEMA_V1)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.executemany(
            "INSERT INTO corrections (text, predicted_label, final_label, kind, confidence, model_version, created_at, consumed_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [("the export hangs", "question", "bug", "correction", 0.61, "3", "2026-01-02T00:00:00+00:00", "4"),
             ("add a dark mode", "feature_request", "feature_request", "confirmation", 0.97, "3", "2026-01-03T00:00:00+00:00", None)],
        )
        raw.execute("PRAGMA user_version = 1")
    raw.close()

    store = CorrectionsStore(db)
    old = store.all()
    assert [(c.text, c.final_label, c.consumed_by, c.spot_check, c.needs_review) for c in old] == [
        ("the export hangs", "bug", "4", False, None), ("add a dark mode", "feature_request", None, False, None)]
    store.add(Correction("the app logs me out", "bug", "complaint", confidence=0.9, spot_check=True, needs_review=False))
    again = CorrectionsStore(db).all()  # opening an up-to-date store changes nothing
    assert (again[-1].spot_check, again[-1].needs_review) == (True, False) and again[:2] == old
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()
    assert store.check() == []


def test_a_first_schema_store_whose_version_was_lost_is_upgraded_too(tmp_path: Path) -> None:
    db = tmp_path / "restored.sqlite3"  # e.g. `sqlite3 old .dump | sqlite3 new`: the rows, not user_version
    with sqlite3.connect(db) as raw:
        raw.execute(SCHEMA_V1)
        raw.execute("INSERT INTO corrections (text, final_label, kind, created_at) VALUES ('the export hangs', 'bug', 'correction', '2026-01-02')")
    raw.close()
    store = CorrectionsStore(db)
    store.add(Correction("add a dark mode", "feature_request", spot_check=True))
    assert [(c.text, c.spot_check) for c in store.all()] == [("the export hangs", False), ("add a dark mode", True)]


@pytest.mark.parametrize("version", [2, 3])
def test_a_later_schema_store_whose_version_was_lost_opens_and_keeps_its_rows(tmp_path: Path, version: int) -> None:
    """``sqlite3 .dump`` (or ``.recover``) keeps the columns, not ``user_version``: the columns say the version."""
    db = tmp_path / "restored.sqlite3"
    with sqlite3.connect(db) as raw:
        raw.execute(SCHEMA_V1)
        raw.execute("ALTER TABLE corrections ADD COLUMN spot_check INTEGER NOT NULL DEFAULT 0")
        raw.execute("ALTER TABLE corrections ADD COLUMN needs_review INTEGER")
        raw.execute("ALTER TABLE corrections ADD COLUMN scores TEXT")
        if version == 3:
            raw.execute("ALTER TABLE corrections ADD COLUMN source_digest TEXT")
        raw.execute("INSERT INTO corrections (text, final_label, kind, created_at, spot_check) VALUES ('the export hangs', 'bug', 'correction', '2026-01-02', 1)")
    raw.close()
    store = CorrectionsStore(db)
    store.add(Correction("add a dark mode", "feature_request", source="export.csv", source_digest="0123456789abcdef"))
    assert [(c.text, c.spot_check, c.source_digest) for c in store.all()] == [
        ("the export hangs", True, None), ("add a dark mode", False, "0123456789abcdef")]
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()


def test_spot_check_marks_and_scores_survive_the_store_an_export_and_an_import(tmp_path: Path) -> None:
    store = CorrectionsStore(tmp_path / "c.sqlite3")
    scores = {"bug": 0.061, "complaint": 0.9, "other": 0.039}
    store.add(Correction("the app logs me out", "bug", "complaint", confidence=0.9, spot_check=True, needs_review=True, scores=scores,
                         source="export.csv", source_digest="0123456789abcdef"))
    store.add(Correction("add a dark mode", "feature_request"))
    expected = [(True, True, scores, "0123456789abcdef"), (False, None, None, None)]
    assert [(c.spot_check, c.needs_review, c.scores, c.source_digest) for c in store.all()] == expected
    for suffix in ("csv", "jsonl"):
        back = read_corrections(store.export(tmp_path / f"out.{suffix}"))
        assert [(c.spot_check, c.needs_review, c.scores, c.source_digest) for c in back] == expected, suffix


def test_a_spot_check_mark_that_is_not_yes_or_no_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("text,final_label,spot_check\nthe app logs me out,bug,maybe\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"in.csv:2: spot_check must be true or false"):
        read_corrections(path)


@pytest.mark.parametrize(("cell", "says"), [
    ('"{not json"', "scores must be a JSON object"), ('"[0.5, 0.5]"', "scores must be a JSON object"),
    ('"{""bug"": ""high""}"', "scores must be a JSON object"), ('"{""spam"": 0.5}"', "it had spam"), ('"{""bug"": 1.5}"', "outside 0 to 1"),
])
def test_scores_that_are_not_the_labels_scores_are_a_clear_error(tmp_path: Path, cell: str, says: str) -> None:
    path = tmp_path / "in.csv"
    path.write_text(f"text,final_label,scores\nthe app logs me out,bug,{cell}\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"in.csv:2: .*{says}"):
        read_corrections(path)


def test_a_store_removed_behind_its_back_is_an_error_not_a_new_empty_store(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    store = seeded(db, 2)
    db.unlink()
    with pytest.raises(DataError, match="cannot be opened"):
        store.add(Correction("lost?", "bug"))
    assert not db.exists()


def test_the_store_and_its_backups_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    store = seeded(tmp_path / "c.sqlite3", 1)
    backup = store.backup(tmp_path / "b.sqlite3").path
    for path in (store.path, backup):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


# --- retention and deletion requests --------------------------------------------------------

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=timezone.utc)


def _at(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat(timespec="seconds")


def test_retention_deletes_only_old_consumed_corrections(tmp_path: Path) -> None:
    store = CorrectionsStore(tmp_path / "c.sqlite3")
    old_used, new_used, old_pending, undated = store.add_many([
        Correction("old and used", "bug", created_at=_at(40)),
        Correction("recent and used", "bug", created_at=_at(5)),
        Correction("old but never trained on", "bug", created_at=_at(400)),
        Correction("used, time unreadable", "bug", created_at="last tuesday"),
    ])
    store.mark_consumed([old_used, new_used, undated], "2")
    assert store.purge_consumed(0, NOW).deleted == 0  # 0: keep forever
    assert store.purge_consumed(30, NOW).deleted == 1
    assert {c.id for c in store.all()} == {new_used, old_pending, undated}
    assert store.purge_consumed(1, NOW + timedelta(days=10)).deleted == 1
    assert {c.id for c in store.all()} == {old_pending, undated}
    assert not expired(_at(1000), None, 1, NOW) and expired(_at(31), "2", 30, NOW) and not expired(_at(29), "2", 30, NOW)
    with pytest.raises(DataError):
        store.purge_consumed(-1, NOW)


def test_a_deletion_request_matches_words_case_insensitively_and_dates(tmp_path: Path) -> None:
    assert matches("Contact JÜRGEN Müller please", None, text_contains="jürgen müller")
    assert not matches("nothing here", _at(3), text_contains="jürgen")
    assert matches("x", _at(3), before=NOW) and not matches("x", _at(3), before=NOW - timedelta(days=4))
    assert not matches("x", "", before=NOW)  # no readable time: never deleted on a guess
    assert parse_day("2025-01-31") == datetime(2025, 1, 31, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="expected a date"):
        parse_day("31/01/2025")
    store = CorrectionsStore(tmp_path / "c.sqlite3")
    with pytest.raises(DataError, match="needs --text-contains or --before"):
        store.delete_where()
    with pytest.raises(DataError, match="empty"):
        store.delete_where(text_contains="  ")


def test_deleted_words_leave_no_trace_in_the_files(tmp_path: Path) -> None:
    """A customer's deletion request: the text must not linger in free pages or the WAL.
    The control (secure_delete off, SQLite's usual default) leaves it behind, so the check is not vacuous."""
    secret = "Jane Roe, jane.roe@example.com, account 4711"
    words = secret.split(", ")[1].encode()

    def build(path: Path) -> CorrectionsStore:
        store = seeded(path, 50)
        store.add_many(Correction(f"{secret} asks {i}", "complaint") for i in range(3))
        store.mark_consumed([1, 51], "2")  # consumed or not, a deletion request removes it
        return store

    def traces(path: Path) -> bool:
        return any(words in p.read_bytes() for p in path.parent.glob(path.name + "*"))

    control = tmp_path / "control" / "c.sqlite3"
    build(control)
    with sqlite3.connect(control) as raw:  # some builds (this one) default to ON: the control says OFF
        raw.execute("PRAGMA secure_delete=OFF")
        raw.execute("DELETE FROM corrections WHERE text LIKE '%jane.roe%'")
    raw.close()
    assert traces(control), "a plain DELETE left no trace: the check below would prove nothing"

    store = build(tmp_path / "c.sqlite3")
    assert [c.id for c in store.find(text_contains="JANE.ROE@example.com")] == [51, 52, 53]
    erasure = store.delete_where(text_contains="JANE.ROE@example.com")
    assert erasure.deleted == 3 and erasure.erased
    assert not traces(store.path)
    assert store.counts().total == 50 and store.check() == []


# --- online backup ---------------------------------------------------------------------------


def test_a_backup_taken_while_another_process_writes_is_a_consistent_prefix(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    store = CorrectionsStore(db)
    writer = Writer("add", db, 100 * ROWS, "busy")
    writer.wait_for(50)
    committed_before = len(writer.reported)
    result = store.backup(tmp_path / "backup.sqlite3")
    committed_after = len(writer.reported)
    writer.wait_for(committed_after + 20)  # the writer goes on committing: the backup did not block it
    assert writer.process.poll() is None, "the writer stopped: it did not run alongside the backup"
    reported = writer.kill()

    copy = CorrectionsStore(result.path)
    assert copy.check() == []
    rows = copy.all()
    assert committed_before <= len(rows) <= committed_after + 1 and result.rows == len(rows)
    assert [c.id for c in rows] == reported[: len(rows)]  # exactly the first N commits: a snapshot, no holes
    assert [c.text for c in rows] == [f"busy {i}" for i in range(len(rows))]
    assert store.counts().total >= len(reported) > len(rows)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no partial file left


def test_a_backup_never_overwrites_a_file(tmp_path: Path) -> None:
    store = seeded(tmp_path / "c.sqlite3", 1)
    existing = tmp_path / "precious.sqlite3"
    existing.write_text("not mine to overwrite", encoding="utf-8")
    with pytest.raises(DataError, match="already exists"):
        store.backup(existing)
    assert existing.read_text(encoding="utf-8") == "not mine to overwrite"
    with pytest.raises(DataError, match="cannot write the backup"):
        store.backup(tmp_path / "no such folder" / "b.sqlite3")


def test_the_retention_setting_keeps_everything_by_default_and_refuses_negatives(tmp_path: Path) -> None:
    from client.core.settings import ClientSettings

    urls = {"inference_url": "http://127.0.0.1:8080", "management_url": "http://127.0.0.1:8081", "key_file": tmp_path / "key.json"}
    assert ClientSettings(**urls).retention_days == 0
    with pytest.raises(ValueError, match="retention_days must be 0"):
        ClientSettings(**urls, retention_days=-1)
