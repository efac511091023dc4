"""One file's batch: its readable rows, the results so far, the errors, the export.

Plain Python: ``classify.classify_chunks`` sends a run's rows to the server with several requests
in flight, the Qt controller (or ``feedback classify``) feeds each answered chunk in, and
the table model reads ``results``. Answers can come back in any order, so the run keeps
the *set* of finished rows: a run interrupted by the server keeps what it finished, and
``pending()`` lists exactly the unfinished rows, so a resume never classifies an item twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from client.core.api import ItemError, Prediction
from client.core.stats import SessionStats, needs_review
from client.core.classify import result_record
from client.core.errors import DataError
from client.core.corrections import Correction
from client.core.records import ReadResult, Row, RowError, detect_format, read_header, read_records, write_records


def csv_header(path: Path) -> list[str]:
    """The column names of a CSV or Excel file (its encoding and separator detected as for
    its rows), for choosing the text column by hand."""
    return read_header(path)


def load_file(path: Path, text_column: str | None = None, id_column: str | None = None) -> ReadResult:
    """Read a feedback file; a CSV whose text column cannot be guessed comes back with no rows.

    Then ``text_column`` is None and ``columns`` lists the header, so the agent can pick one.
    """
    try:
        return read_records(path, text_column=text_column, id_column=id_column)
    except DataError:
        if text_column is None and detect_format(path) in ("csv", "xlsx"):
            header = csv_header(path)
            if header:
                return ReadResult([], [], header, None, None)
        raise


DIGEST_CHARS = 16  # 64 bits of SHA-256: two different files of one team never share it by chance


def file_digest(path: Path) -> str:
    """A fingerprint of the file's bytes (the first 16 hex digits of its SHA-256). Verdicts
    carry it, so files of the same name (every day's export.csv, or two tools' exports) are
    told apart when a channel pools the spot checks of its files."""
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:DIGEST_CHARS]


def open_file(path: Path, text_column: str | None = None, id_column: str | None = None) -> tuple[ReadResult, str]:
    """``load_file`` and the file's digest, for one background task. The bytes are fingerprinted
    before and after the rows are read; a file that changed in between (a tool still writing it,
    or another copied over it) is refused, so a fingerprint always names the bytes whose rows
    were classified. Sizes and modification times would miss a copy of the same size and time
    (``cp -p``, ``rsync -a``) and a rewrite within a coarse clock tick (FAT, some shares)."""
    try:
        before: str | None = file_digest(path)
    except OSError:
        before = None  # load_file says what is wrong with it
    read = load_file(path, text_column, id_column)
    try:
        after = file_digest(path)
    except OSError as exc:
        raise DataError(f"{path}: the file could not be read again ({exc.strerror or exc})", "check that it is still there, then open it again") from None
    if before != after:
        raise DataError(f"{path}: the file changed while it was being read", "wait until whatever writes it has finished, then open it again")
    return read, after


@dataclass
class BatchResult:
    """One classified row, and the agent's verdict on it once the store has saved it."""

    row: Row
    prediction: Prediction
    flagged: bool
    verdict: Correction | None = None
    folded_text: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.folded_text = self.row.text.casefold()

    @property
    def reviewed_label(self) -> str | None:
        return self.verdict.final_label if self.verdict is not None else None


class BatchRun:
    """The state of classifying one file: which rows are finished (a set: answers may come
    back out of file order), their results in the order they arrived, and the errors."""

    def __init__(self, source: Path, read: ReadResult, review_threshold: float, digest: str | None = None) -> None:
        self.source = Path(source)
        self.digest = digest  # client.core.batch.file_digest of the file as opened
        self.read = read
        self.review_threshold = review_threshold
        self.results: list[BatchResult] = []
        self.server_errors: list[RowError] = []
        self.stats = SessionStats()
        self._finished: set[int] = set()
        self._first_unfinished = 0  # every row before it is finished

    @property
    def total(self) -> int:
        return len(self.read.rows)

    @property
    def done(self) -> int:
        """How many rows are finished (classified, or refused by the server)."""
        return len(self._finished)

    @property
    def finished(self) -> bool:
        return self.done >= self.total

    def is_finished(self, index: int) -> bool:
        return index in self._finished

    def pending(self) -> list[tuple[int, str]]:
        """(row index, text) of every unfinished row, in file order."""
        rows = self.read.rows
        return [(index, rows[index].text) for index in self._unfinished()]

    def _unfinished(self) -> Iterator[int]:
        return (index for index in range(self._first_unfinished, self.total) if index not in self._finished)

    def add(self, chunk: Sequence[Prediction | ItemError], indices: Sequence[int] | None = None) -> list[BatchResult]:
        """Take the server's answers for the rows ``indices`` (in the order they were sent);
        returns the new results.

        Without ``indices``, each answer's ``id`` names its row (the server echoes the ids
        ``pending()`` sent); answers without ids take the next unfinished rows in file order.
        An answer for a row that is already finished is ignored, so a chunk delivered twice
        never counts twice. A refused row keeps its file line number.
        """
        if indices is None:
            ids = [answer.id for answer in chunk]
            if all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                indices = ids
            else:
                indices = list(islice(self._unfinished(), len(chunk)))
        if len(indices) != len(chunk):
            raise ValueError(f"{len(chunk)} answers for {len(indices)} rows")
        added = []
        for index, answer in zip(indices, chunk):
            if index in self._finished or not 0 <= index < self.total:
                continue
            self._finished.add(index)
            row = self.read.rows[index]
            if isinstance(answer, ItemError):
                self.server_errors.append(RowError(row.line, f"the server refused this row: {answer.error}"))
                continue
            result = BatchResult(row, answer, needs_review(answer, self.review_threshold))
            self.stats.add_prediction(answer, result.flagged)
            added.append(result)
        while self._first_unfinished < self.total and self._first_unfinished in self._finished:
            self._first_unfinished += 1
        self.results.extend(added)
        return added

    def errors(self) -> list[RowError]:
        """Rows skipped while reading and rows the server refused, by line number."""
        return sorted([*self.read.errors, *self.server_errors], key=lambda e: e.line)


def export_records(results: list[BatchResult]) -> list[dict[str, object]]:
    """Original columns + label, confidence, every score, the review flag and the agent's label."""
    out = []
    for result in results:
        record = result_record(result.row.fields, result.prediction)
        record["needs_review"] = result.flagged
        record["reviewed_label"] = result.reviewed_label or ""
        out.append(record)
    return out


def export_results(path: Path, results: list[BatchResult]) -> Path:
    """Write results as CSV, Excel or JSONL (by the file's suffix), in the source file's row
    order: answers arrive shortest text first (``classify_chunks``), people read files top down."""
    return write_records(path, export_records(sorted(results, key=lambda result: result.row.line)))

