"""Reading and writing feedback files: CSV, JSONL and TXT.

Stdlib only: the desktop client, ``feedback classify`` and ``feedback retrain`` all use
this module, and none of them should need torch to read a CSV.

Readers never stop at a bad row: each malformed row becomes a ``RowError`` with its line
number and the rest of the file is still read.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from client.core.errors import DataError

FORMATS = ("csv", "jsonl", "txt")
TEXT_COLUMN_GUESSES = ("text", "message", "feedback", "comment", "body", "content", "review")
ID_COLUMN_GUESSES = ("id", "ticket_id", "ticket", "message_id", "review_id")


@dataclass(frozen=True)
class Row:
    """One readable item of an input file; ``fields`` keeps every original column."""

    line: int
    text: str
    id: str | None = None
    fields: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


@dataclass
class ReadResult:
    rows: list[Row]
    errors: list[RowError]
    columns: list[str]
    text_column: str | None = None
    id_column: str | None = None


def detect_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    mapping = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".txt": "txt"}
    if suffix not in mapping:
        raise DataError(
            f"{path}: unsupported file type {suffix or '(none)'!r}",
            "use a .csv (with a text column), .jsonl (one {\"text\": ...} per line) or .txt (one text per line)",
        )
    return mapping[suffix]


def _decode_lines(data: bytes) -> list[str]:
    """Split into lines, decoding each on its own so one bad byte spoils one line only.

    Undecodable bytes are kept as surrogates (``surrogateescape``) so the reader can
    report the row rather than guess a replacement character.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return [chunk.decode("utf-8", errors="surrogateescape") for chunk in data.splitlines(keepends=True)]


def _has_bad_bytes(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _clean_text(value: object, line: int) -> str | RowError:
    if value is None:
        return RowError(line, "missing text")
    if not isinstance(value, str):
        return RowError(line, f"text must be a string, got {type(value).__name__}")
    if _has_bad_bytes(value):
        return RowError(line, "text is not valid UTF-8; re-save the file as UTF-8")
    if not value.strip():
        return RowError(line, "empty text")
    return value


def _guess(columns: Sequence[str], guesses: Sequence[str]) -> str | None:
    lowered = {c.lower().strip(): c for c in columns}
    return next((lowered[g] for g in guesses if g in lowered), None)


def read_records(
    path: str | Path,
    text_column: str | None = None,
    id_column: str | None = None,
    fmt: str | None = None,
) -> ReadResult:
    """Read a CSV, JSONL or TXT file of feedback; bad rows are reported, not fatal."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found", "check the path") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror})", "check the file's permissions") from exc
    lines = _decode_lines(data)
    if fmt == "txt":
        return _read_txt(lines)
    if fmt == "jsonl":
        return _read_jsonl(lines, text_column or "text", id_column or "id")
    return _read_csv(lines, path, text_column, id_column)


def _read_txt(lines: list[str]) -> ReadResult:
    rows, errors = [], []
    for number, raw in enumerate(lines, start=1):
        content = raw.rstrip("\r\n")
        if not content.strip():
            continue  # blank lines separate items in a TXT file; they are not rows
        text = _clean_text(content, number)
        if isinstance(text, RowError):
            errors.append(text)
        else:
            rows.append(Row(number, text, None, {"text": text}))
    return ReadResult(rows, errors, ["text"], "text", None)


def _jsonl_objects(lines: list[str]) -> Iterator[tuple[int, dict[str, object] | RowError]]:
    """Each non-blank line as (line number, object or the error that line has)."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        if _has_bad_bytes(raw):
            yield number, RowError(number, "line is not valid UTF-8; re-save the file as UTF-8")
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield number, RowError(number, f"broken JSON: {exc.msg} at column {exc.colno}")
            continue
        yield number, obj if isinstance(obj, dict) else RowError(number, "expected a JSON object")


def read_jsonl_objects(path: str | Path) -> Iterator[tuple[int, dict[str, object] | RowError]]:
    """Each non-blank line of a JSONL file as (line number, object or error)."""
    return _jsonl_objects(_decode_lines(Path(path).read_bytes()))


def _read_jsonl(lines: list[str], text_column: str, id_column: str) -> ReadResult:
    rows, errors, columns = [], [], {}
    for number, obj in _jsonl_objects(lines):
        if isinstance(obj, RowError):
            errors.append(obj)
            continue
        columns.update(dict.fromkeys(obj))
        if text_column not in obj:
            errors.append(RowError(number, f"missing {text_column!r} field"))
            continue
        text = _clean_text(obj[text_column], number)
        if isinstance(text, RowError):
            errors.append(text)
            continue
        item_id = obj.get(id_column)
        rows.append(Row(number, text, None if item_id is None else str(item_id), obj))
    return ReadResult(rows, errors, list(columns), text_column, id_column)


class _LineFeed:
    """Feeds lines to ``csv.reader`` and remembers where each record started."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.position = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self.position >= len(self.lines):
            raise StopIteration
        self.position += 1
        return self.lines[self.position - 1]


def _read_csv(lines: list[str], path: Path, text_column: str | None, id_column: str | None) -> ReadResult:
    feed = _LineFeed(lines)
    header: list[str] | None = None
    rows, errors = [], []
    while header is None and feed.position < len(lines):
        start = feed.position + 1
        try:
            header = next(csv.reader(feed, strict=True))
        except csv.Error as exc:
            raise DataError(f"{path}:{start}: the header row is malformed ({exc})", "fix the first line") from None
        except StopIteration:
            break
        if not any(h.strip() for h in header):
            header = None
    if header is None:
        return ReadResult([], [], [], None, None)
    text_column = text_column or _guess(header, TEXT_COLUMN_GUESSES)
    if text_column is None or text_column not in header:
        raise DataError(
            f"{path}: no text column {'named ' + repr(text_column) if text_column else 'found'}",
            f"choose one of the columns: {', '.join(header)}",
        )
    if id_column is None:
        id_column = _guess(header, ID_COLUMN_GUESSES)
    text_at = header.index(text_column)
    while feed.position < len(lines):
        start = feed.position + 1
        reader = csv.reader(feed, strict=True)
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(start, f"malformed CSV row ({exc}); check for an unbalanced quote"))
            continue
        if not record or not any(cell.strip() for cell in record):
            if record:
                errors.append(RowError(start, "empty row"))
            continue
        if len(record) != len(header):
            errors.append(
                RowError(start, f"expected {len(header)} columns, got {len(record)}; check for an unbalanced quote or a stray comma")
            )
            continue
        values = dict(zip(header, record))
        text = _clean_text(record[text_at], start)
        if isinstance(text, RowError):
            errors.append(text)
            continue
        bad = [name for name, value in values.items() if _has_bad_bytes(value)]
        if bad:
            errors.append(RowError(start, f"column {bad[0]!r} is not valid UTF-8; re-save the file as UTF-8"))
            continue
        item_id = values.get(id_column) if id_column else None
        rows.append(Row(start, text, item_id or None, values))
    return ReadResult(rows, errors, header, text_column, id_column)


def write_records(path: str | Path, records: Sequence[dict[str, object]], columns: Sequence[str] | None = None) -> Path:
    """Write dicts as CSV or JSONL (by suffix); CSV columns are the union in first-seen order."""
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "txt":
        raise DataError(f"{path}: results cannot be exported as TXT", "export to .csv or .jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        with path.open("w", encoding="utf-8") as fh:
            for record in records:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        return path
    names = list(columns) if columns else list(dict.fromkeys(k for r in records for k in r))
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=names, extrasaction="ignore")
        writer.writeheader()
        for record in records:
            writer.writerow({k: _csv_cell(v) for k, v in record.items()})
    return path


def _csv_cell(value: object) -> object:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value


def dumps_jsonl(records: Iterable[dict[str, object]]) -> str:
    buf = io.StringIO()
    for record in records:
        buf.write(json.dumps(record, ensure_ascii=False) + "\n")
    return buf.getvalue()
