"""Answers that arrive out of file order (several requests in flight): a run keeps the set
of finished rows, resumes with exactly the others, never counts a row twice, and a row the
server refused keeps its file line number. No server needed."""

from __future__ import annotations

from pathlib import Path

from client.core.api import ItemError, Prediction
from client.core.batch import BatchRun
from client.core.labels import LABELS
from client.core.records import ReadResult, Row, RowError


def answer(index: int, confidence: float = 0.9) -> Prediction:
    return Prediction("bug", confidence, dict.fromkeys(LABELS, 0.01) | {"bug": confidence}, False, "1", id=index)


def make_run(count: int) -> BatchRun:
    # Lines skip numbers as a file with a header and two unreadable lines would (3 and 7).
    lines = [line for line in range(2, count + 4) if line not in (3, 7)][:count]
    rows = [Row(line, f"text {i}", None, {"text": f"text {i}"}) for i, line in enumerate(lines)]
    return BatchRun(Path("inbox.jsonl"), ReadResult(rows, [RowError(3, "broken JSON"), RowError(7, "empty text")], ["text"], "text", None), 0.5)


def test_out_of_order_chunks_resume_with_exactly_the_unanswered_rows() -> None:
    run = make_run(12)
    # Chunks of 3 rows sent with several in flight: the third answered first, the second never
    # (the server stopped), the first with one row refused by the server.
    run.add([answer(6), answer(7), answer(8)], [6, 7, 8])
    run.add([answer(0), ItemError("text is empty", 1), answer(2)])  # ids name the rows
    assert run.done == 6 and not run.finished
    assert [index for index, _ in run.pending()] == [3, 4, 5, 9, 10, 11]

    # The same chunk delivered again changes nothing.
    assert run.add([answer(6), answer(7), answer(8)], [6, 7, 8]) == []
    assert run.done == 6 and run.stats.classified == 5

    # Resume: the pending rows, answered out of order again.
    pending = run.pending()
    run.add([answer(i) for i, _ in pending[3:]], [i for i, _ in pending[3:]])
    run.add([answer(i) for i, _ in pending[:3]], [i for i, _ in pending[:3]])
    assert run.finished and run.pending() == []
    classified = sorted(result.row.line for result in run.results)
    assert len(classified) == len(set(classified)) == 11
    assert run.read.rows[1].line == 4 and 4 not in classified
    assert [(e.line, e.message) for e in run.errors()] == [(3, "broken JSON"), (4, "the server refused this row: text is empty"), (7, "empty text")]
    assert run.stats.classified == 11


def test_answers_without_ids_take_the_next_unfinished_rows_in_file_order() -> None:
    run = make_run(5)
    run.add([answer(3)], [3])
    unnamed = [Prediction("praise", 0.8, dict.fromkeys(LABELS, 0.02) | {"praise": 0.8}, False, "1") for _ in range(3)]
    run.add(unnamed)
    assert sorted(r.row.line for r in run.results if r.prediction.label == "praise") == [run.read.rows[i].line for i in (0, 1, 2)]
    assert [index for index, _ in run.pending()] == [4]
