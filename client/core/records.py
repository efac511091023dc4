"""Reading and writing feedback files: CSV, JSONL, TXT and Excel (.xlsx).

Stdlib only for CSV, JSONL and TXT: the desktop client, ``feedback classify`` and
``feedback retrain`` all use this module, and none of them should need torch to read a
CSV. Excel files need openpyxl (the ``app`` extra), imported only when one is opened.

Readers never stop at a bad row: each malformed row becomes a ``RowError`` with its line
number and the rest of the file is still read. Every line that holds anything is either
part of a row, part of the header, or named in a ``RowError``; only blank lines are
skipped. Files are read as a stream (``RecordReader``), so a million-line export needs
memory for one row at a time, not for the file.

What help desks export, and how it is recognised:

- encodings: a byte-order mark (UTF-8, UTF-16, UTF-32); UTF-16 without one (NUL bytes
  in every other place); otherwise UTF-8 when the file has any UTF-8 character, else
  Windows-1252 when the file has bytes above 127 that Windows-1252 can read. A UTF-8 file
  with a few bad bytes keeps the bad lines as errors that say how to re-save the file;
- CSV separators: ``,``, ``;``, tab or ``|``, the one that splits the header into the
  most columns (an Excel ``sep=;`` first line decides it outright);
- line endings: ``\\n``, ``\\r\\n`` and ``\\r``, mixed, and newlines inside quoted cells.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO

from client.core.errors import DataError

FORMATS = ("csv", "jsonl", "txt", "xlsx")
TEXT_COLUMN_GUESSES = ("text", "message", "feedback", "comment", "body", "content", "review", "description")
ID_COLUMN_GUESSES = ("id", "ticket_id", "ticket", "message_id", "review_id")
SEPARATORS = (",", ";", "\t", "|")
SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
XLSX_MAX_CELL = 32_767  # Excel's limit on the characters in one cell
XLSX_HINT = "install the Excel support with `pip install openpyxl` (it comes with the app extra: pip install 'feedback-analyzer[app]'), or save the sheet as CSV UTF-8"
RESAVE_HINT = "re-save the file as UTF-8 (in Excel: Save As > CSV UTF-8)"

_SNIFF_BYTES = 1 << 16
_SCAN_CHUNK = 1 << 18
_BAD_BYTES = "feedback-records-bad-bytes"


def _mark_bad_bytes(exc: UnicodeError) -> tuple[str, int]:
    """Undecodable bytes become lone surrogates U+DC80..U+DCFF (as ``surrogateescape``
    does for UTF-8, but for every codec), so the row that holds them is reported."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "".join(chr(0xDC80 | (b & 0x7F)) for b in exc.object[exc.start : exc.end]), exc.end


codecs.register_error(_BAD_BYTES, _mark_bad_bytes)

# A character above ASCII that is not an undecodable byte: a UTF-8 sequence decoded.
_DECODED_NON_ASCII = re.compile("[\u0080-\udc7f\udd00-\U0010ffff]")
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


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
    encoding: str = "utf-8"  # as read: "utf-8", "utf-16", "cp1252", ... ("xlsx" for Excel)
    separator: str | None = None  # CSV only


def detect_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    mapping = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".txt": "txt", ".xlsx": "xlsx"}
    if suffix not in mapping:
        hint = "use a .csv (with a text column), .xlsx, .jsonl (one {\"text\": ...} per line) or .txt (one text per line)"
        if suffix in (".xls", ".xlsm", ".ods", ".numbers"):
            hint = "save the sheet as .xlsx or as CSV UTF-8 and open that"
        raise DataError(f"{path}: unsupported file type {suffix or '(none)'!r}", hint)
    return mapping[suffix]


# ----------------------------------------------------------------------------- bytes -> lines


def json_encoding(path: str | Path) -> str:
    """The codec for a JSONL file: a byte-order mark is honoured, but never a legacy code page,
    because JSON is UTF-8 (RFC 8259): a byte that is not UTF-8 is an error on its line."""
    codec = sniff_encoding(path)
    return "utf-8" if codec == "cp1252" else codec


def sniff_encoding(path: str | Path) -> str:
    """The codec to read ``path`` with (see the module docstring for the rules).

    Without a byte-order mark this scans the whole file once, a chunk at a time: one
    UTF-8 character anywhere makes it UTF-8, and only a file with none is read as
    Windows-1252."""
    with _open_binary(Path(path)) as fh:
        head = fh.read(_SNIFF_BYTES)
        for bom, codec in _BOMS:
            if head.startswith(bom):
                return codec
        utf16 = _utf16_without_bom(head)
        if utf16:
            return utf16
        decoder = codecs.getincrementaldecoder("utf-8")()
        invalid = has_utf8 = undefined_1252 = False
        chunk = head
        while chunk:
            if not invalid:
                try:
                    has_utf8 = has_utf8 or not decoder.decode(chunk).isascii()
                except UnicodeDecodeError:
                    invalid = True
            if invalid and not chunk.isascii():
                has_utf8 = has_utf8 or bool(_DECODED_NON_ASCII.search(chunk.decode("utf-8", "surrogateescape")))
                undefined_1252 = undefined_1252 or bool(_CP1252_UNDEFINED.search(chunk))
                if has_utf8:
                    break
            chunk = fh.read(_SCAN_CHUNK)
        if not invalid:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                invalid = True
    if invalid and not has_utf8 and not undefined_1252:
        return "cp1252"
    return "utf-8"


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 text mostly in Latin script has a NUL in every other byte."""
    pairs = len(head) // 2
    if pairs < 2 or b"\x00" not in head:
        return None
    even, odd = head[0 : 2 * pairs : 2].count(0), head[1 : 2 * pairs : 2].count(0)
    if odd >= 0.4 * pairs and even <= 0.05 * pairs:
        return "utf-16-le"
    if even >= 0.4 * pairs and odd <= 0.05 * pairs:
        return "utf-16-be"
    return None


def _open_binary(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found", "check the path") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not a file", "choose a file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror})", "check the file's permissions") from exc


def _open_text(path: Path, encoding: str) -> io.TextIOWrapper:
    """Lines ending in ``\\n``, ``\\r\\n`` or ``\\r`` (kept, for the CSV parser), decoded
    lazily; bad bytes marked (``_mark_bad_bytes``) rather than replaced."""
    return io.TextIOWrapper(_open_binary(path), encoding=encoding, errors=_BAD_BYTES, newline="")


_MARKED_BYTE = re.compile("[\udc80-\udcff]")


def _has_bad_bytes(text: str) -> bool:
    return _MARKED_BYTE.search(text) is not None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean_text(value: object, line: int) -> str | RowError:
    if value is None:
        return RowError(line, "missing text")
    if not isinstance(value, str):
        return RowError(line, f"text must be a string, got {type(value).__name__}")
    surrogate = _SURROGATE.search(value)
    if surrogate and _MARKED_BYTE.match(surrogate.group()):
        return RowError(line, f"text is not valid UTF-8; {RESAVE_HINT}")
    if not value.strip():
        return RowError(line, "empty text")
    if surrogate:
        return RowError(line, "text contains a lone surrogate (a \\ud800-\\udfff escape); fix the JSON")
    return value


def _guess(columns: Sequence[str], guesses: Sequence[str]) -> str | None:
    lowered = {c.lower().strip(): c for c in columns}
    return next((lowered[g] for g in guesses if g in lowered), None)


def _unique_names(header: Sequence[str]) -> list[str]:
    """Header names as keys: an empty one is named by its position, a repeated one gets
    " (2)", so no column's values are lost in the row's ``fields``."""
    names: list[str] = []
    for position, raw in enumerate(header, start=1):
        base = raw.strip() and raw or f"column {position}"
        name, n = base, 2
        while name in names:
            name, n = f"{base} ({n})", n + 1
        names.append(name)
    return names


class _Lines:
    """Numbered lines of a text stream, with a way to re-read a failed CSV record.

    When a record fails (an unbalanced quote swallows the lines after it), every line of
    that record but its first is given back, so those lines are read again as records of
    their own: a stray quote costs one row, not the rest of the file. The record's lines
    are the only ones held (a quoted cell stops at ``csv.field_size_limit()``)."""

    def __init__(self, stream: Iterable[str]) -> None:
        self._stream = iter(stream)
        self._back: list[str] = []
        self.number = 0  # lines handed out so far
        self.taken: list[str] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self._back.pop() if self._back else next(self._stream)
        self.number += 1
        self.taken.append(line)
        return line

    def begin(self) -> int:
        """Start a record; returns its first line number."""
        self.taken = []
        return self.number + 1

    def push_back(self, line: str) -> None:
        self._back.append(line)
        self.number -= 1

    def give_back_all_but_first(self) -> None:
        rest = self.taken[1:]
        self._back.extend(reversed(rest))
        self.number -= len(rest)
        self.taken = self.taken[:1]


# ----------------------------------------------------------------------------- the reader


class RecordReader:
    """One feedback file, read a row at a time: iterate for ``Row`` or ``RowError`` in
    file order. ``columns``, ``text_column``, ``id_column``, ``encoding`` and
    ``separator`` are known once it is open (a JSONL file's ``columns`` grow as it is read).

    Opening raises ``DataError`` for what spoils the whole file (missing, unreadable, no
    text column); everything else is a ``RowError``. Use it as a context manager, or
    read it to the end, so the file is closed."""

    def __init__(
        self, path: str | Path, text_column: str | None = None, id_column: str | None = None, fmt: str | None = None, *, need_text_column: bool = True
    ) -> None:
        self.path = Path(path)
        self._need_text_column = need_text_column
        self.fmt = fmt or detect_format(self.path)
        self.text_column = text_column
        self.id_column = id_column
        self.columns: list[str] = []
        self.separator: str | None = None
        self.header_lines = 0  # lines before the first row: blank ones, Excel's "sep=" line, the header
        self.encoding = {"xlsx": lambda _: "xlsx", "jsonl": json_encoding}.get(self.fmt, sniff_encoding)(self.path)
        self._close = lambda: None
        if self.fmt == "xlsx":
            self._items = self._open_xlsx()
        elif self.fmt == "csv":
            self._items = self._open_csv()
        elif self.fmt == "jsonl":
            self.text_column, self.id_column = text_column or "text", id_column or "id"
            self._items = self._read_jsonl(self._open_lines())
        else:
            self.columns, self.text_column = ["text"], "text"
            self._items = self._read_txt(self._open_lines())

    def __iter__(self) -> Iterator[Row | RowError]:
        try:
            yield from self._items
        finally:
            self.close()

    def __enter__(self) -> RecordReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._close()

    def _open_lines(self) -> _Lines:
        stream = _open_text(self.path, self.encoding)
        self._close = stream.close
        return _Lines(stream)

    # --- TXT and JSONL

    def _read_txt(self, lines: _Lines) -> Iterator[Row | RowError]:
        for raw in lines:
            content = raw.rstrip("\r\n")
            if not content.strip():
                continue  # blank lines separate items in a TXT file; they are not rows
            text = _clean_text(content, lines.number)
            yield text if isinstance(text, RowError) else Row(lines.number, text, None, {"text": text})

    def _read_jsonl(self, lines: _Lines) -> Iterator[Row | RowError]:
        seen: dict[str, None] = {}
        text_column, id_column = self.text_column or "text", self.id_column or "id"
        for number, obj in _jsonl_objects(lines):
            if isinstance(obj, RowError):
                yield obj
                continue
            for key in obj:
                if key not in seen:
                    seen[key] = None
                    self.columns.append(key)
            if text_column not in obj:
                yield RowError(number, f"missing {text_column!r} field")
                continue
            text = _clean_text(obj[text_column], number)
            if isinstance(text, RowError):
                yield text
                continue
            item_id = obj.get(id_column)
            yield Row(number, text, None if item_id is None else str(item_id), obj)

    # --- CSV

    def _open_csv(self) -> Iterator[Row | RowError]:
        lines = self._open_lines()
        try:
            header, start = self._csv_header(lines)
        except BaseException:
            self.close()
            raise
        if header is None:
            return iter(())
        self.columns = header
        try:
            self._choose_columns()
        except DataError:
            self.close()
            raise
        return self._read_csv(lines)

    def _csv_header(self, lines: _Lines) -> tuple[list[str] | None, int]:
        """The first non-blank record, split by the sniffed separator, and its line."""
        first = _next_non_blank(lines)
        if first is None:
            return None, 0
        sep = re.fullmatch(r"sep=(.)", first.rstrip("\r\n"))
        if sep:  # Excel's "sep=;" first line names the separator
            self.separator = sep.group(1)
            first = _next_non_blank(lines)
            if first is None:
                return None, 0
        else:
            self.separator = _sniff_separator(first)
        start = lines.number
        lines.push_back(first)
        return self._parse_header(lines, start)

    def _parse_header(self, lines: _Lines, start: int) -> tuple[list[str], int]:
        lines.begin()
        try:
            header = next(csv.reader(lines, delimiter=self.separator or ",", strict=True))
        except (csv.Error, StopIteration) as exc:
            raise DataError(f"{self.path}:{start}: the header row is malformed ({exc})", "fix the first line") from None
        if any(_has_bad_bytes(h) for h in header):
            raise DataError(f"{self.path}:{start}: the header row is not valid UTF-8", RESAVE_HINT)
        self.header_lines = lines.number
        return _unique_names(header), start

    def _choose_columns(self) -> None:
        header = self.columns
        if not self._need_text_column:
            return
        if self.text_column is None:
            self.text_column = _guess(header, TEXT_COLUMN_GUESSES)
        if self.text_column is None or self.text_column not in header:
            named = "named " + repr(self.text_column) if self.text_column else "found"
            raise DataError(f"{self.path}: no text column {named}", f"choose one of the columns: {', '.join(header)}")
        if self.id_column is None:
            self.id_column = _guess(header, ID_COLUMN_GUESSES)

    def _read_csv(self, lines: _Lines) -> Iterator[Row | RowError]:
        header, text_column, id_column = self.columns, self.text_column, self.id_column
        text_at = header.index(text_column)
        reader = csv.reader(lines, delimiter=self.separator or ",", strict=True)
        while True:
            start = lines.begin()
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield RowError(start, f"malformed CSV row ({exc}); check for an unbalanced quote")
                lines.give_back_all_but_first()
                continue
            if not record:
                continue  # a blank line
            joined = "".join(record)
            if not joined.strip():
                yield RowError(start, "empty row")
                continue
            if len(record) != len(header):
                sep = SEPARATOR_NAMES.get(self.separator or ",", repr(self.separator))
                yield RowError(start, f"expected {len(header)} columns, got {len(record)}; check for an unbalanced quote or a stray {sep}")
                if len(lines.taken) > 1:
                    lines.give_back_all_but_first()
                continue
            values = dict(zip(header, record))
            text = _clean_text(record[text_at], start)
            if isinstance(text, RowError):
                yield text
                continue
            if _MARKED_BYTE.search(joined):
                bad = next(name for name, value in values.items() if _has_bad_bytes(value))
                yield RowError(start, f"column {bad!r} is not valid UTF-8; {RESAVE_HINT}")
                continue
            item_id = values.get(id_column) if id_column else None
            yield Row(start, text, item_id or None, values)

    # --- Excel

    def _open_xlsx(self) -> Iterator[Row | RowError]:
        sheet = _XlsxSheet(self.path)
        self._close = sheet.close
        try:
            found = sheet.header()
            if found is None:
                sheet.close()
                return iter(())
            self.columns, header_width = _unique_names(found[1]), len(found[1])
            self.header_lines = found[0]
            self._choose_columns()
        except BaseException:
            sheet.close()
            raise
        return self._read_xlsx(sheet, header_width)

    def _read_xlsx(self, sheet: _XlsxSheet, width: int) -> Iterator[Row | RowError]:
        header, text_column, id_column = self.columns, self.text_column, self.id_column
        for number, cells in sheet.rows():
            values = [_cell_text(v) for v in cells]
            if not any(v.strip() for v in values):
                continue  # empty sheet rows are what blank lines are in a CSV
            beyond = [i for i in range(width, len(values)) if values[i].strip()]
            if beyond:
                yield RowError(number, f"a value in column {_column_letter(beyond[0])}, which has no header; add a header or delete it")
                continue
            values += [""] * (width - len(values))
            fields = dict(zip(header, values))
            text = _clean_text(fields[text_column], number)
            if isinstance(text, RowError):
                yield text
                continue
            item_id = fields.get(id_column) if id_column else None
            yield Row(number, text, item_id or None, fields)


def _next_non_blank(lines: _Lines) -> str | None:
    return next((raw for raw in lines if raw.strip()), None)


def _sniff_separator(line: str) -> str:
    """The separator that splits the header line into the most columns (comma on a tie)."""
    best, most = ",", 1
    for sep in SEPARATORS:
        try:
            count = len(next(csv.reader([line], delimiter=sep)))
        except (csv.Error, StopIteration):
            continue
        if count > most:
            best, most = sep, count
    return best


def _jsonl_objects(lines: _Lines) -> Iterator[tuple[int, dict[str, object] | RowError]]:
    """Each non-blank line as (line number, object or the error that line has)."""
    for raw in lines:
        number = lines.number
        if not raw.strip():
            continue
        if _has_bad_bytes(raw):
            yield number, RowError(number, f"line is not valid UTF-8; {RESAVE_HINT}")
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield number, RowError(number, f"broken JSON: {exc.msg} at column {exc.colno}")
            continue
        except RecursionError:
            yield number, RowError(number, "broken JSON: nested too deeply")
            continue
        except ValueError:
            yield number, RowError(number, "broken JSON: a number is too long (over 4300 digits); write it as a string")
            continue
        yield number, obj if isinstance(obj, dict) else RowError(number, "expected a JSON object")


def read_jsonl_objects(path: str | Path) -> Iterator[tuple[int, dict[str, object] | RowError]]:
    """Each non-blank line of a JSONL file as (line number, object or error), streamed."""
    path = Path(path)
    with _open_text(path, json_encoding(path)) as stream:
        yield from _jsonl_objects(_Lines(stream))


def read_records(
    path: str | Path,
    text_column: str | None = None,
    id_column: str | None = None,
    fmt: str | None = None,
) -> ReadResult:
    """Read a CSV, Excel, JSONL or TXT file of feedback; bad rows are reported, not fatal."""
    rows: list[Row] = []
    errors: list[RowError] = []
    with RecordReader(path, text_column, id_column, fmt) as reader:
        for entry in reader:
            (rows if isinstance(entry, Row) else errors).append(entry)  # type: ignore[arg-type]
    return ReadResult(rows, errors, reader.columns, reader.text_column, reader.id_column, reader.encoding, reader.separator)


def read_header(path: str | Path) -> list[str]:
    """The column names of a CSV or Excel file (for choosing the text column by hand),
    read with the same encoding and separator rules as its rows; [] when it has none."""
    with RecordReader(path, need_text_column=False) as reader:
        return reader.columns if reader.fmt in ("csv", "xlsx") else []


# ----------------------------------------------------------------------------- Excel


def _openpyxl() -> Any:
    try:
        import openpyxl
    except ImportError:
        raise DataError("Excel files need openpyxl, which is not installed", XLSX_HINT) from None
    return openpyxl


class _XlsxSheet:
    """The first sheet of a workbook, read row by row (openpyxl's read-only mode)."""

    def __init__(self, path: Path) -> None:
        openpyxl = _openpyxl()
        _open_binary(path).close()  # the same messages as the other formats for a missing file
        try:
            self.book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError, openpyxl.utils.exceptions.InvalidFileException) as exc:
            raise DataError(f"{path}: not a readable .xlsx workbook ({type(exc).__name__})", "open it in Excel and save it again as .xlsx, or save it as CSV UTF-8") from None
        self.sheet = self.book.worksheets[0] if self.book.worksheets else None
        if self.sheet is not None and hasattr(self.sheet, "reset_dimensions"):
            self.sheet.reset_dimensions()  # a wrong stored size would cut rows off
        self._rows: Iterator[tuple[int, tuple[Any, ...]]] = iter(()) if self.sheet is None else enumerate(self.sheet.iter_rows(values_only=True), start=1)

    def header(self) -> tuple[int, list[str]] | None:
        for number, cells in self._rows:
            values = [_cell_text(v) for v in cells]
            while values and not values[-1].strip():
                values.pop()
            if values:
                return number, values
        return None

    def rows(self) -> Iterator[tuple[int, tuple[Any, ...]]]:
        return self._rows

    def close(self) -> None:
        self.book.close()


def _cell_text(value: Any) -> str:
    """A cell as the text a CSV export of the sheet would hold."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return str(value)


def _column_letter(index: int) -> str:
    letters, n = "", index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


# ----------------------------------------------------------------------------- writing


def write_records(path: str | Path, records: Sequence[dict[str, object]], columns: Sequence[str] | None = None) -> Path:
    """Write dicts as CSV, JSONL or Excel (by suffix); columns are the union in first-seen order."""
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "txt":
        raise DataError(f"{path}: results cannot be exported as TXT", "export to .csv, .xlsx or .jsonl")
    names = list(columns) if columns else list(dict.fromkeys(k for r in records for k in r))
    if fmt == "xlsx":
        return _write_xlsx(path, records, names)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        with path.open("w", encoding="utf-8", errors="backslashreplace") as fh:
            for record in records:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        return path
    with path.open("w", encoding="utf-8", errors="backslashreplace", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=names, extrasaction="ignore")
        writer.writeheader()
        for record in records:
            writer.writerow({k: _csv_cell(v) for k, v in record.items()})
    return path


def _csv_cell(value: object) -> object:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value


def _xlsx_cell(value: object) -> object:
    """A value Excel shows as it is: dicts and lists as JSON, text always as text (a
    customer's "=HYPERLINK(...)" must not become a formula), characters XML cannot hold
    written as visible escapes (``\\x07``)."""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        value = _XML_ILLEGAL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), value)
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _write_xlsx(path: Path, records: Sequence[dict[str, object]], names: list[str]) -> Path:
    openpyxl = _openpyxl()
    from openpyxl.cell import WriteOnlyCell

    rows = [[_xlsx_cell(record.get(name)) for name in names] for record in records]
    for number, row in enumerate(rows, start=2):
        long = next((i for i, v in enumerate(row) if isinstance(v, str) and len(v) > XLSX_MAX_CELL), None)
        if long is not None:
            raise DataError(
                f"{path}: row {number}, column {names[long]!r} holds {len(row[long]):,} characters; an Excel cell holds at most {XLSX_MAX_CELL:,}",
                "export to .csv or .jsonl instead, which keep every character",
            )
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("results")

    def cells(values: Sequence[object]) -> list[Any]:
        out = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"
            out.append(cell)
        return out

    sheet.append(cells([_xlsx_cell(n) for n in names]))
    for row in rows:
        sheet.append(cells(row))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    book.save(partial)
    partial.replace(path)
    return path


def dumps_jsonl(records: Iterable[dict[str, object]]) -> str:
    buf = io.StringIO()
    for record in records:
        buf.write(json.dumps(record, ensure_ascii=False) + "\n")
    return buf.getvalue()
