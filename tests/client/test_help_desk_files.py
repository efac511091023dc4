"""Files help desks export, dropped on the Batch tab of the real app and classified by the real
server: an Excel workbook (and results exported back to one), a `;`-separated cp1252 CSV
and a tab-separated .tsv."""

from __future__ import annotations

from pathlib import Path

import pytest
from drive import open_and_run

from client.core.labels import LABELS

pytestmark = pytest.mark.server

MESSAGES = [
    ("T-101", "The invoice PDF shows €0.00 although I paid €49 — café branch, Zürich"),
    ("T-102", "Could you add an export to Excel for the weekly report?"),
    ("T-103", "Where do I change the billing address on my account?"),
    ("T-104", "Since the update the app crashes when I open the calendar"),
]


def test_an_excel_workbook_loads_runs_and_exports_back_to_excel(qtbot, window, tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Ticket", "Created", "Message"])
    for ticket, text in MESSAGES:
        sheet.append([ticket, "2026-11-27", text])
    source = tmp_path / "helpdesk.xlsx"
    book.save(source)

    open_and_run(qtbot, window, source)
    controller = window.batch_controller
    assert controller.run.read.text_column == "Message" and controller.run.read.encoding == "xlsx"
    assert [r.row.text for r in sorted(controller.run.results, key=lambda r: r.row.line)] == [t for _, t in MESSAGES]

    out = tmp_path / "helpdesk-classified.xlsx"
    with qtbot.waitSignal(controller.exported, timeout=20000):
        controller.export(out)
    rows = list(openpyxl.load_workbook(out, read_only=True).active.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert header[:3] == ("Ticket", "Created", "Message") and "label" in header
    by_ticket = {row[0]: row for row in body}
    assert set(by_ticket) == {t for t, _ in MESSAGES}
    for result in controller.run.results:
        assert by_ticket[result.row.id][header.index("label")] == result.prediction.label in LABELS
    assert by_ticket["T-101"][2] == MESSAGES[0][1]  # € and accents survive the round trip


def test_a_semicolon_separated_cp1252_export_loads_with_its_accents(qtbot, window, tmp_path: Path) -> None:
    source = tmp_path / "zendesk_export.csv"
    lines = ["Ticket;Message"] + [f'{ticket};"{text}"' for ticket, text in MESSAGES]
    source.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))

    open_and_run(qtbot, window, source)
    read = window.batch_controller.run.read
    assert (read.separator, read.encoding, read.text_column) == (";", "cp1252", "Message")
    assert sorted(r.row.text for r in window.batch_controller.run.results) == sorted(t for _, t in MESSAGES)
    assert window.batch.note.text().startswith(f"Done: {len(MESSAGES)} classified")


def test_a_tab_separated_file_is_accepted_by_drop_and_read(qtbot, window, tmp_path: Path) -> None:
    source = tmp_path / "export.tsv"
    source.write_text("id\ttext\n" + "".join(f"{t}\t{m}\n" for t, m in MESSAGES), encoding="utf-8-sig")

    open_and_run(qtbot, window, source)
    read = window.batch_controller.run.read
    assert read.separator == "\t" and read.errors == []
    assert {r.row.id for r in window.batch_controller.run.results} == {t for t, _ in MESSAGES}
