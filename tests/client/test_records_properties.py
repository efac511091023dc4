"""Properties of the file readers over random and hostile files, and the streaming bound.

Every line that holds anything comes back as (part of) a row, the header, or a
``RowError`` with its line number; only blank lines are skipped. Files are written the
way help desks write them: any of four separators, a byte-order mark or none, UTF-16,
Windows-1252, mixed line endings, newlines and quotes inside cells.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from client.core.errors import DataError
from client.core.records import SEPARATORS, RecordReader, Row, RowError, read_header, read_records, sniff_encoding, write_records

PROPERTY = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REPO = Path(__file__).parents[2]

# Line endings as the readers count them: \r\n is one, a lone \r or \n is one.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def physical_lines(text: str) -> list[str]:
    return io.StringIO(text, newline="").readlines()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("records")


# ----------------------------------------------------------------------------- CSV as written by tools

CELL = st.text(alphabet=st.one_of(st.characters(blacklist_categories=("Cs",)), st.sampled_from(list(',;\t|"\r\n '))), max_size=25)
# Windows-1252 files drawn from Latin letters, accents and punctuation that real exports hold.
CP1252_CELL = st.text(alphabet=st.sampled_from(list("abcXYZ 019,;\t|\"'\r\n.!?-éèàçüöäßñÉÀÇÖÜ")), max_size=25)


@st.composite
def csv_tables(draw):
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"]))
    cell = CP1252_CELL if encoding == "cp1252" else CELL
    extra = draw(st.lists(st.sampled_from(["channel", "note", "created_at"]), unique=True, max_size=2))
    header = draw(st.permutations(["id", "text", *extra]))
    rows = draw(st.lists(st.fixed_dictionaries({name: cell for name in header}), max_size=8))
    separator = draw(st.sampled_from(SEPARATORS))
    endings = draw(st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=len(rows) + 1, max_size=len(rows) + 1))
    excel_sep_line = draw(st.booleans())
    return encoding, header, rows, separator, endings, excel_sep_line


def render_csv(header, rows, separator, endings, excel_sep_line) -> tuple[str, list[int]]:
    """The file's text and the line each row starts on. Each record is written with
    ``\\r\\n`` so every cell holding a line break is quoted, then given its own ending."""
    parts, starts = [], []
    line = 1
    if excel_sep_line:
        parts.append(f"sep={separator}\n")
        line += 1
    for values, ending in zip([header, *[[r[h] for h in header] for r in rows]], endings):
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=separator, lineterminator="\r\n").writerow(values)
        record = buffer.getvalue()[: -len("\r\n")] + ending
        starts.append(line)
        line += len(physical_lines(record))
        parts.append(record)
    return "".join(parts), starts[1:]


@PROPERTY
@given(table=csv_tables())
@example(table=("cp1252", ["id", "text"], [{"id": "1", "text": "Préférences perdues, déçu"}], ";", ["\r\n", "\r\n"], False))
@example(table=("utf-16", ["text", "id"], [{"id": "7", "text": 'He said "stop"\r\nthen left'}], "\t", ["\n", "\r"], True))
def test_csv_written_by_any_tool_reads_back_row_for_row(folder, table):
    encoding, header, rows, separator, endings, excel_sep_line = table
    text, starts = render_csv(header, rows, separator, endings, excel_sep_line)
    path = folder / "table.csv"
    path.write_bytes(text.encode(encoding))

    result = read_records(path)

    assert result.columns == header and result.text_column == "text" and result.id_column == "id"
    assert result.separator == separator
    assert codecs.lookup(result.encoding).name == codecs.lookup(encoding).name or (result.encoding == "utf-8" and not any(ord(c) > 127 for c in text))
    by_line = {entry.line: entry for entry in [*result.rows, *result.errors]}
    assert len(by_line) == len(result.rows) + len(result.errors), "two entries for one line"
    for start, row in zip(starts, rows):
        values = [row[h] for h in header]
        entry = by_line.pop(start, None)
        if not any(v.strip() for v in values):
            if any(values):  # a row of blanks is named; a wholly empty line is a blank line
                assert entry == RowError(start, "empty row")
            continue
        if not row["text"].strip():
            assert entry == RowError(start, "empty text")
            continue
        assert isinstance(entry, Row), (start, entry)
        assert entry.text == row["text"] and entry.id == (row["id"] or None) and entry.fields == row
    assert by_line == {}, f"entries for lines no row starts on: {by_line}"


# ----------------------------------------------------------------------------- any bytes at all

RANDOM_FILE = st.one_of(
    st.binary(max_size=600),
    st.lists(st.one_of(st.binary(max_size=30), st.sampled_from([b"\n", b"\r", b"\r\n", b'"', b",", b";", b"\t", b"\xef\xbb\xbf", b"\xff\xfe", b"\x00", b"\xe9", b"\xc3\xa9", b'{"text": "x"}', b"text,id"])), max_size=40).map(b"".join),
)


def assert_every_line_accounted_for(path: Path, result, fmt: str, header_line: int | None) -> None:
    """Rows and errors in file order, one per line; every non-blank line is a row, an
    error, the header or a line inside a row's quoted cell or an erroneous record."""
    entries = sorted([*result.rows, *result.errors], key=lambda e: e.line)
    lines = [e.line for e in entries]
    assert lines == sorted(set(lines)), "two entries for one line"
    text = path.read_bytes().decode(sniff_encoding(path), errors="replace")  # a codec that reads a BOM drops it
    physical = physical_lines(text)
    non_blank = {n for n, line in enumerate(physical, start=1) if line.strip()}
    assert set(lines) <= set(range(1, len(physical) + 1))
    if fmt != "csv":
        assert set(lines) == non_blank
        return
    covered = set(range(1, (header_line or 0) + 1))
    for entry, following in zip(entries, [*lines[1:], len(physical) + 1]):
        if isinstance(entry, Row):  # a row covers the lines its quoted cells run over
            span = sum(len(_LINE_BREAK.findall(str(v))) for v in entry.fields.values())
            covered.update(range(entry.line, entry.line + span + 1))
        else:  # an error covers its record, which runs at most to the next entry
            covered.update(range(entry.line, following))
    assert non_blank <= covered, f"lines read as nothing: {sorted(non_blank - covered)[:5]}"


@PROPERTY
@given(data=RANDOM_FILE, fmt=st.sampled_from(["csv", "jsonl", "txt"]))
@example(data=b'id,text\n1,"open quote\n2,fine\n3,also fine\n', fmt="csv")
@example(data=b"text\n\xff\xfe\n\x00\x00\r\r\n", fmt="csv")
@example(data=b"\xef\xbb\xbf\xff\xfe", fmt="txt")
@example(data=b'{"text": 1e999999}\n{"text": ' + b"[" * 5000 + b"\n" + b'{"id": ' + b"9" * 5000 + b', "text": "x"}\n', fmt="jsonl")
def test_random_bytes_never_crash_and_every_line_is_accounted_for(folder, data, fmt):
    path = folder / f"random.{fmt}"
    path.write_bytes(data)
    try:
        result = read_records(path)
    except DataError as exc:  # only what spoils the whole CSV: its header
        assert fmt == "csv" and ("text column" in exc.message or "header" in exc.message), exc.message
        return
    header_lines = None
    if fmt == "csv":
        with RecordReader(path) as reader:
            header_lines = reader.header_lines
    assert_every_line_accounted_for(path, result, fmt, header_lines)
    for error in result.errors:
        assert error.line >= 1 and error.message and "\n" not in error.message


# ----------------------------------------------------------------------------- encodings and separators


@pytest.mark.parametrize(
    ("encoding", "separator", "data"),
    [
        ("cp1252", ";", "ticket;message\r\n1;Préférences perdues – déçu “vraiment” €\r\n2;Ça plante\r\n".encode("cp1252")),
        ("utf-8-sig", "\t", "\ufeffticket\tmessage\n1\tLöschen geht nicht\n2\tGrüße\n".encode("utf-8")),
        ("utf-16", ",", "ticket,message\r\n1,Crash beim Export\r\n2,Merci 😀\r\n".encode("utf-16")),
        ("utf-16-le", "|", "ticket|message\n1|No BOM here\n2|still read\n".encode("utf-16-le")),
        ("utf-16-be", ",", "ticket,message\n1,Big endian\n2,no BOM\n".encode("utf-16-be")),
    ],
)
def test_help_desk_encodings_and_separators_are_detected(tmp_path, encoding, separator, data):
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    result = read_records(path)
    assert (result.encoding, result.separator) == (encoding, separator)
    assert [r.id for r in result.rows] == ["1", "2"] and result.errors == []
    expected = data.decode(encoding).lstrip("\ufeff").splitlines()[1].split(separator)[1]
    assert result.rows[0].text == expected
    assert read_header(path) == ["ticket", "message"]


def test_utf8_with_a_few_bad_bytes_names_the_lines_and_says_how_to_fix(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes("id,text\n1,Grüße\n2,caf\xe9 latin-1 line\n3,fine\n".encode("utf-8").replace(b"caf\xc3\xa9", b"caf\xe9"))
    result = read_records(path)
    assert result.encoding == "utf-8" and [r.id for r in result.rows] == ["1", "3"]
    assert result.errors[0].line == 3 and "re-save the file as UTF-8" in result.errors[0].message


def test_empty_and_blank_files(tmp_path):
    for name in ("empty.csv", "empty.jsonl", "empty.txt"):
        (tmp_path / name).write_bytes(b"")
        (tmp_path / ("blank-" + name)).write_bytes(b"\n\r\n  \r")
        for file in (tmp_path / name, tmp_path / ("blank-" + name)):
            result = read_records(file)
            assert result.rows == [] and result.errors == []


def test_a_duplicate_or_empty_header_keeps_every_column(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("text,note,note,\nhello,a,b,c\n", encoding="utf-8")
    row = read_records(path).rows[0]
    assert row.fields == {"text": "hello", "note": "a", "note (2)": "b", "column 4": "c"}


# ----------------------------------------------------------------------------- a million lines

# The peak resident memory of this process's own address space (VmHWM): ``ru_maxrss``
# would carry over the peak of the pytest process that forked it.
STREAM_SCRIPT = """
import re, sys
from client.core.records import RecordReader, Row
def rss_kb():
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1))
before = rss_kb()
rows = errors = 0
bad = []
with RecordReader(sys.argv[1]) as reader:
    for entry in reader:
        if isinstance(entry, Row):
            rows += 1
        else:
            errors += 1
            bad.append(entry.line)
streamed = rss_kb()
held = open(sys.argv[1], "rb").read().splitlines()  # what the reader did before: every line at once
print(before, streamed, rss_kb(), rows, errors, *bad)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak memory from Linux's /proc")
def test_a_million_line_file_streams_in_bounded_memory(tmp_path):
    """The peak resident memory of a process reading a 1,000,000-line CSV row by row grows
    by a small fraction of the file's size (it held every line as a list before)."""
    path = tmp_path / "million.csv"
    bad_lines = {2 + i * 250_000 for i in range(4)}
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("ticket_id;channel;message\n")
        for n in range(2, 1_000_002):
            fh.write(f"{n};email\n" if n in bad_lines else f"{n};email;The export to PDF fails with error {n % 977} since the update, please help\n")
    size_kb = path.stat().st_size // 1024
    out = subprocess.run([sys.executable, "-c", STREAM_SCRIPT, str(path)], cwd=REPO, capture_output=True, text=True, timeout=300, check=True)
    before, streamed, held, rows, errors, *bad = (int(v) for v in out.stdout.split())
    assert rows == 1_000_000 - len(bad_lines) and errors == len(bad_lines) and set(bad) == bad_lines
    assert size_kb > 60_000
    assert streamed - before < size_kb // 20, f"reading grew the process by {streamed - before} KB for a {size_kb} KB file"
    assert held - before > size_kb // 2, "the measurement must see a file held in memory"


# ----------------------------------------------------------------------------- JSONL and TXT lines


@PROPERTY
@given(
    items=st.lists(
        st.one_of(
            st.fixed_dictionaries({"text": st.text(max_size=20)}, optional={"id": st.one_of(st.integers(), st.text(max_size=5))}),
            st.fixed_dictionaries({"text": st.one_of(st.integers(), st.none(), st.lists(st.text(max_size=3), max_size=2))}),
            st.text(max_size=10).map(lambda t: {"msg": t}),
        ),
        max_size=10,
    ),
    endings=st.lists(st.sampled_from(["\n", "\r\n", "\r", "\n\n"]), min_size=10, max_size=10),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
)
def test_jsonl_reads_every_object_on_its_line(folder, items, endings, encoding):
    text = "".join(json.dumps(item, ensure_ascii=False) + ending for item, ending in zip(items, endings))
    path = folder / "items.jsonl"
    path.write_bytes(text.encode(encoding))
    result = read_records(path)
    starts = [n for n, line in enumerate(physical_lines(text), start=1) if line.strip()]
    entries = {e.line: e for e in [*result.rows, *result.errors]}
    assert sorted(entries) == starts
    for line, item in zip(starts, items):
        good = isinstance(item.get("text"), str) and item["text"].strip()
        assert isinstance(entries[line], Row) == bool(good), (item, entries[line])
        if good:
            assert entries[line].text == item["text"] and entries[line].fields == item


# ----------------------------------------------------------------------------- Excel in and out


def test_xlsx_written_by_openpyxl_reads_back(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Ticket", "Created", "Message", "Score"])
    sheet.append([1001, "2025-02-10", "The export button crashes", 3.0])
    sheet.append([None, None, None, None])  # an empty row, as in a sheet with gaps
    sheet.append([1002, "2025-02-11", "", 4.5])
    sheet.append([1003, "2025-02-11", "Line one\nline two", None, "a note without a header"])
    sheet.append([1004, "2025-02-12", "=1+1 is what I typed", None])
    sheet["C6"].data_type = "s"  # typed as text in Excel, not a formula
    sheet.append([1005, "2025-02-12", 42, None])
    path = tmp_path / "helpdesk.xlsx"
    book.save(path)

    result = read_records(path)
    assert result.columns == ["Ticket", "Created", "Message", "Score"]
    assert (result.text_column, result.id_column, result.encoding) == ("Message", "Ticket", "xlsx")
    assert [(r.line, r.text, r.id) for r in result.rows] == [(2, "The export button crashes", "1001"), (6, "=1+1 is what I typed", "1004"), (7, "42", "1005")]
    assert result.rows[0].fields == {"Ticket": "1001", "Created": "2025-02-10", "Message": "The export button crashes", "Score": "3"}
    errors = {e.line: e.message for e in result.errors}
    assert errors[4] == "empty text" and "column E, which has no header" in errors[5]
    assert read_header(path) == result.columns


def test_xlsx_export_round_trips_and_keeps_text_as_text(tmp_path):
    pytest.importorskip("openpyxl")
    records = [
        {"id": "T-1", "text": "=HYPERLINK(\"http://evil\")", "label": "bug", "confidence": 0.91, "scores": {"bug": 0.91}, "needs_review": False},
        {"id": "T-2", "text": "bell \x07 and NUL \x00 inside", "label": "praise", "confidence": 0.5, "scores": {"praise": 0.5}, "needs_review": True},
    ]
    path = write_records(tmp_path / "out.xlsx", records)
    back = read_records(path, text_column="text")
    assert [r.text for r in back.rows] == ["=HYPERLINK(\"http://evil\")", "bell \\x07 and NUL \\x00 inside"]
    assert json.loads(back.rows[0].fields["scores"]) == {"bug": 0.91}
    assert back.rows[1].fields["needs_review"] == "TRUE" and back.rows[0].fields["confidence"] == "0.91"


def test_xlsx_export_refuses_a_cell_excel_cannot_hold(tmp_path):
    pytest.importorskip("openpyxl")
    with pytest.raises(DataError, match="at most 32,767") as info:
        write_records(tmp_path / "long.xlsx", [{"text": "x" * 40_000}])
    assert ".csv" in info.value.hint and not (tmp_path / "long.xlsx").exists()


def test_a_broken_xlsx_gets_a_clear_error(tmp_path):
    pytest.importorskip("openpyxl")
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="not a readable .xlsx") as info:
        read_records(path)
    assert "CSV UTF-8" in info.value.hint


def test_xlsx_without_openpyxl_says_how_to_install_it(tmp_path):
    """``client.core`` on a base install (requests only): an Excel file asks for openpyxl."""
    script = (
        "import sys; sys.modules['openpyxl'] = None\n"
        "from client.core.errors import DataError\n"
        "from client.core.records import read_records, write_records\n"
        "for call in (lambda: read_records(sys.argv[1]), lambda: write_records(sys.argv[1], [{'text': 'x'}])):\n"
        "    try:\n"
        "        call()\n"
        "    except DataError as exc:\n"
        "        print(exc.message, '|', exc.hint)\n"
    )
    (tmp_path / "sheet.xlsx").write_bytes(b"")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "sheet.xlsx")], cwd=REPO, capture_output=True, text=True, timeout=120, check=True)
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and all("need openpyxl" in line and "pip install openpyxl" in line for line in lines)


def test_export_writes_what_utf8_cannot_hold_as_escapes(tmp_path):
    """A lone surrogate in a column (a JSONL input can carry one) made the export raise."""
    records = [{"id": "1", "text": "fine", "channel": "\ud800 lone"}]
    expected = {"out.csv": "\\ud800 lone", "out.jsonl": "\ud800 lone", "out.xlsx": "\\ud800 lone"}
    for name, channel in expected.items():
        if name.endswith(".xlsx"):
            pytest.importorskip("openpyxl")
        back = read_records(write_records(tmp_path / name, records))
        assert back.rows[0].fields["channel"] == channel and back.rows[0].text == "fine"
