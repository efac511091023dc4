"""Headless classification through the running server: texts or a whole file.

What ``feedback classify`` does, without argparse or printing, so scripts and tests call
it directly. Result records keep the original columns and add the prediction.
``classify_chunks`` is the one batch path: ``feedback classify --file`` and the desktop
app's batch both send their rows through it, several requests in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.core.api import InferenceClient, ItemError, Prediction
from client.core.records import ReadResult, RowError, read_records, write_records


def result_record(fields: dict, result: Prediction | ItemError) -> dict:
    """The original columns plus label, confidence, needs_review and one score column per label."""
    out = dict(fields)
    if isinstance(result, ItemError):
        out["error"] = result.error
        return out
    out.update(label=result.label, confidence=round(result.confidence, 4), needs_review=result.needs_review, model_version=result.model_version, truncated=result.truncated,
               cleaned=result.cleaned, language_supported=result.language_supported)
    out.update({f"score_{label}": round(score, 4) for label, score in result.scores.items()})
    return out


# Two requests in flight: while the worker computes one, the next is already queued, so it
# never waits on the network or on JSON (the serving grid measured 32-item lists at 2 in
# flight; with several workers, use at least one per worker).
IN_FLIGHT = 2

Answers = list[Prediction | ItemError]


def classify_chunks(
    client: InferenceClient,
    items: Sequence[tuple[int, str]],
    report: Callable[[list[int], Answers], None],
    cancelled: Callable[[], bool] | None = None,
    in_flight: int = IN_FLIGHT,
    by_length: bool = True,
) -> int:
    """Send ``(row index, text)`` items in chunks of ``client.chunk_size``, up to ``in_flight``
    requests at once; ``report(indices, answers)`` runs on the calling thread for each chunk
    as it is answered (out of file order). Returns the items reported.

    ``by_length`` sorts all items by text length before cutting them into chunks: a chunk's
    texts are then padded to about the same length, so the server spends its time on words
    rather than padding (measured by ``feedback bench``, docs/PERFORMANCE.md). The indices
    carry each answer back to its row, so callers keep file order.

    When a request fails (server down, key refused), nothing new is sent, the chunks already
    in flight are still reported when they succeed, and then the first error is raised: the
    caller keeps every answered row and ``BatchRun.pending()`` lists the rest for a resume.
    ``cancelled()`` stops sending in the same way, without an error.
    """
    if in_flight < 1:
        raise ValueError(f"in_flight must be >= 1. But it was: {in_flight}")
    size = client.chunk_size
    if by_length:
        items = sorted(items, key=lambda item: len(item[1]))
    chunks = iter([list(items[start : start + size]) for start in range(0, len(items), size)])
    reported = 0
    error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="classify") as pool:
        running: dict[Future[Answers], list[tuple[int, str]]] = {}

        def fill() -> None:
            while len(running) < in_flight and error is None and not (cancelled is not None and cancelled()):
                chunk = next(chunks, None)
                if chunk is None:
                    return
                running[pool.submit(client.classify_chunk, chunk)] = chunk

        fill()
        while running:
            answered, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in answered:
                chunk = running.pop(future)
                try:
                    answers = future.result()
                except Exception as exc:  # noqa: BLE001 - the first error is raised once the others are in
                    error = error or exc
                    continue
                report([index for index, _ in chunk], answers)
                reported += len(chunk)
            fill()
    if error is not None:
        raise error
    return reported


def classify_texts(client: InferenceClient, texts: Sequence[str]) -> list[dict[str, Any]]:
    results = client.classify_many([(i, t) for i, t in enumerate(texts)])
    return [result_record({"text": text}, result) for text, result in zip(texts, results)]


@dataclass
class FileResult:
    records: list[dict[str, Any]]
    skipped: list[RowError]
    out: Path | None


def classify_file(
    client: InferenceClient,
    path: Path,
    out: Path | None = None,
    text_column: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    in_flight: int = IN_FLIGHT,
    by_length: bool = True,
) -> FileResult:
    """Classify every readable row of ``path``; malformed rows are returned as ``skipped``
    with their line numbers, never silently dropped. Writes ``out`` (.csv/.jsonl) when given.
    Records keep file order although answers may arrive out of it."""
    read: ReadResult = read_records(path, text_column=text_column)
    answers: list[Prediction | ItemError | None] = [None] * len(read.rows)
    done = 0

    def keep(indices: list[int], chunk: list[Prediction | ItemError]) -> None:
        nonlocal done
        for index, answer in zip(indices, chunk):
            answers[index] = answer
        done += len(chunk)
        if progress is not None:
            progress(done, len(answers))

    classify_chunks(client, [(index, row.text) for index, row in enumerate(read.rows)], keep, in_flight=in_flight, by_length=by_length)
    records = [result_record(row.fields, answer) for row, answer in zip(read.rows, answers) if answer is not None]
    if out is not None:
        write_records(out, records)
    return FileResult(records, read.errors, out)
