"""The batch path sorts a whole file by text length before cutting it into requests (less
padding per request), and the answers still land on their own rows in file order."""

from __future__ import annotations

import json
from pathlib import Path

from client.core.api import InferenceClient
from client.core.classify import classify_chunks, classify_file
from client.core.labels import LABELS


class RecordingClient(InferenceClient):
    """The real client against the real server; it also notes what each request carried."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[list[tuple[int, str]]] = []

    def classify_chunk(self, items):
        self.sent.append(list(items))
        return super().classify_chunk(items)


def texts_of_mixed_length() -> list[str]:
    words = "the export button crashes the app every time I press it on the invoices page".split()
    # Lengths go up and down through the file, as in a real inbox.
    return [" ".join(words[: 1 + (i * 7) % len(words)]) + f" (row {i})" for i in range(40)]


def test_requests_carry_texts_of_neighbouring_lengths_and_answers_keep_their_rows(server, tmp_path: Path) -> None:
    texts = texts_of_mixed_length()
    source = tmp_path / "inbox.jsonl"
    source.write_text("".join(json.dumps({"id": f"t{i}", "text": t}) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    client = RecordingClient(server["urls"]["inference"], server["key_file"], chunk_size=8)

    result = classify_file(client, source)

    assert [r["id"] for r in result.records] == [f"t{i}" for i in range(40)]
    assert [r["text"] for r in result.records] == texts
    assert all(r["label"] in LABELS for r in result.records)
    lengths = [[len(text) for _, text in chunk] for chunk in client.sent]
    assert sorted(length for chunk in lengths for length in chunk) == sorted(len(t) for t in texts)
    # Every request holds a run of the sorted lengths: its longest text is no longer than the
    # shortest text of any request cut after it.
    ordered = sorted(lengths, key=min)
    assert all(max(a) <= min(b) for a, b in zip(ordered, ordered[1:]))
    # Each record carries the scores of its own text (asked alone), not of a neighbour's: the
    # rows differ in length, so a shifted mapping would show in the scores.
    for record in result.records:
        alone = client.classify(record["text"])
        assert all(abs(record[f"score_{label}"] - alone.scores[label]) < 2e-3 for label in LABELS), record["id"]


def test_file_order_is_kept_when_bucketing_is_off(server) -> None:
    texts = texts_of_mixed_length()[:16]
    client = RecordingClient(server["urls"]["inference"], server["key_file"], chunk_size=4)
    answered: dict[int, str] = {}

    def keep(indices, answers):
        answered.update((i, a.label) for i, a in zip(indices, answers))

    assert classify_chunks(client, list(enumerate(texts)), keep, in_flight=1, by_length=False) == 16
    assert [[i for i, _ in chunk] for chunk in client.sent] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15]]
    assert sorted(answered) == list(range(16))
