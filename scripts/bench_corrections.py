"""Benchmark the corrections store: concurrent writers, per-commit cost, backup, deletion.

Prints figures; asserts nothing (speed goals live here, not in timed tests). Everything
happens in a temporary folder (or --dir), bounded by the row counts; the writers are real
processes, each committing row by row through ``CorrectionsStore.add`` as the app does.

    python scripts/bench_corrections.py [--rows 1000] [--writers 2] [--backup-rows 100000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from client.core.corrections import Correction, CorrectionsStore


def write(db: str, rows: int, tag: str) -> None:
    store = CorrectionsStore(db)
    for i in range(rows):
        store.add(Correction(f"{tag} {i} The export button does nothing since the last update", "bug", "question", agent=tag))


def concurrent_writers(folder: Path, writers: int, rows: int) -> None:
    db = folder / "writers.sqlite3"
    CorrectionsStore(db)
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, __file__, "--write", str(db), str(rows), f"w{n}"]) for n in range(writers)]
    codes = [p.wait() for p in procs]
    seconds = time.perf_counter() - started
    total = CorrectionsStore(db).counts().total
    print(f"{writers} writer processes x {rows} rows, one commit each: {total}/{writers * rows} rows kept, "
          f"{seconds:.1f} s, {total / seconds:.0f} rows/s together (exit codes {codes})")


def per_commit_cost(folder: Path, rows: int) -> None:
    """Why synchronous=FULL: with a connection per call, closing the last connection
    checkpoints the WAL, and that (not the commit's fsync) is most of the cost."""
    for synchronous in ("FULL", "NORMAL"):
        for per_call in (True, False):
            db = folder / f"raw-{synchronous}-{per_call}.sqlite3"
            CorrectionsStore(db)
            keep = None if per_call else sqlite3.connect(db, isolation_level=None)
            started = time.perf_counter()
            for i in range(rows):
                con = sqlite3.connect(db, isolation_level=None) if per_call else keep
                con.execute(f"PRAGMA synchronous={synchronous}")
                con.execute("BEGIN IMMEDIATE")
                con.execute("INSERT INTO corrections (text, final_label, kind, created_at) VALUES (?, 'bug', 'correction', 'now')", (f"row {i}",))
                con.execute("COMMIT")
                if per_call:
                    con.close()
            seconds = time.perf_counter() - started
            if keep is not None:
                keep.close()
            print(f"  synchronous={synchronous:<6} {'connection per commit' if per_call else 'one open connection':<22} {rows / seconds:7.0f} commits/s")


def backup_and_delete(folder: Path, rows: int) -> None:
    db = folder / "big.sqlite3"
    store = CorrectionsStore(db)
    started = time.perf_counter()
    store.add_many(Correction(f"customer {i} says the export button does nothing", "bug", "question") for i in range(rows))
    print(f"add_many: {rows} rows in one transaction, {time.perf_counter() - started:.2f} s; store {db.stat().st_size / 1e6:.1f} MB")
    result = store.backup(folder / "big-backup.sqlite3")
    print(f"backup (idle store): {result.rows} rows, {result.bytes / 1e6:.1f} MB, {result.seconds:.2f} s (copy + integrity check)")
    writer = subprocess.Popen([sys.executable, __file__, "--write", str(db), "100000", "live"])
    try:
        time.sleep(1.0)
        result = store.backup(folder / "big-backup-live.sqlite3")
        print(f"backup (a writer process adding rows meanwhile): {result.rows} rows, {result.seconds:.2f} s")
    finally:
        writer.kill()
        writer.wait()
    started = time.perf_counter()
    erasure = store.delete_where(text_contains="customer 4711 ")
    print(f"delete_where --text-contains over {CorrectionsStore(db).counts().total + erasure.deleted} rows: {erasure.deleted} deleted, "
          f"{time.perf_counter() - started:.2f} s (secure_delete + WAL truncated: {erasure.erased})")


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--write":
        write(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000, help="rows per writer process (default: 1000)")
    parser.add_argument("--writers", type=int, default=2, help="writer processes at once (default: 2)")
    parser.add_argument("--commits", type=int, default=300, help="commits per per-commit-cost case (default: 300)")
    parser.add_argument("--backup-rows", type=int, default=100_000, help="rows in the store that is backed up (default: 100000)")
    parser.add_argument("--dir", type=Path, default=None, help="work here instead of a temporary folder (its disk is what is measured)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        print(f"SQLite {sqlite3.sqlite_version}, folder {folder}, load average {os.getloadavg()[0]:.1f}")
        concurrent_writers(folder, args.writers, args.rows)
        print("per-commit cost (raw SQLite, WAL):")
        per_commit_cost(folder, args.commits)
        backup_and_delete(folder, args.backup_rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
