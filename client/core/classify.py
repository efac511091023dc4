"""Headless classification through the running server: texts or a whole file.

What ``feedback classify`` does, without argparse or printing, so scripts and tests call
it directly. Result records keep the original columns and add the prediction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
) -> FileResult:
    """Classify every readable row of ``path``; malformed rows are returned as ``skipped``
    with their line numbers, never silently dropped. Writes ``out`` (.csv/.jsonl) when given."""
    read: ReadResult = read_records(path, text_column=text_column)
    items = [(row.line, row.text) for row in read.rows]
    results = client.classify_many(items, progress=(lambda done, _chunk: progress(done, len(items))) if progress else None)
    records = [result_record(row.fields, result) for row, result in zip(read.rows, results)]
    if out is not None:
        write_records(out, records)
    return FileResult(records, read.errors, out)
