"""``/explanations/feedback-classifier``: occlusion by word, on the real TorchServe and the
real .mar of the session's tiny fine-tune, plus the pure occlusion arithmetic."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from client.core.instance import read_key
from client.core.labels import LABELS
from handler.feedback_handler import (
    EXPLAIN_MAX_ITEMS, EXPLAIN_MAX_UNITS, cut_join, cut_text, occluded_readings, occlusion_units, occlusion_weights, readings, unit_text,
)
from test_serving import delta, metrics_after, settled_metrics

MODEL = "feedback-classifier"
BUG = "The app crashes every time I upload a photo from the gallery"


class Api:
    """Predictions and explanations of one server, with its inference key."""

    def __init__(self, instance: dict) -> None:
        self.base = instance["urls"]["inference"]
        self.metrics_url = instance["urls"]["metrics"]
        self.auth = {"Authorization": f"Bearer {read_key(Path(instance['key_file']), 'inference')}"}

    def post(self, route: str, **kwargs) -> requests.Response:
        headers = {**self.auth, **kwargs.pop("headers", {})}
        return requests.post(f"{self.base}/{route}/{MODEL}", headers=headers, timeout=120, **kwargs)

    def explain(self, **kwargs) -> requests.Response:
        return self.post("explanations", **kwargs)

    def predict(self, **kwargs) -> requests.Response:
        return self.post("predictions", **kwargs)


@pytest.fixture(scope="module")
def api(server) -> Api:
    return Api(server)


def _is_explanation(body: dict, text: str) -> bool:
    words = body["words"]
    weights = [w["weight"] for w in words]
    return (
        body["label"] in LABELS
        and 0 < len(words) <= EXPLAIN_MAX_UNITS
        and weights == sorted(weights, reverse=True)
        and all(w["label"] in LABELS and w["word"] in text for w in words)
    )


def test_one_text_is_explained_with_the_label_its_prediction_has(api):
    text = BUG
    explained = api.explain(data=text.encode(), headers={"Content-Type": "text/plain"})
    predicted = api.predict(data=text.encode(), headers={"Content-Type": "text/plain"}).json()
    assert explained.status_code == 200, explained.text
    body = explained.json()
    assert _is_explanation(body, text)
    assert body["label"] == predicted["label"] and body["confidence"] == pytest.approx(predicted["confidence"], abs=1e-5)
    assert body["unit"] == "word" and body["words_per_unit"] == 1
    assert sorted(w["word"] for w in body["words"]) == sorted(text.split())
    assert all(w["label"] == body["label"] for w in body["words"] if w["weight"] > 0)


def test_removing_the_top_word_lowers_the_labels_score_by_its_weight(api):
    """The occlusion arithmetic, checked against the prediction API: the text without its top
    word scores the explained label exactly ``weight`` lower. (The tiny test model learnt too
    little to promise which word is on top, so this property is what is tested on it.)"""
    for text in (BUG, "Please add a dark mode to the mobile app", "How do I reset my password"):
        body = api.explain(json={"text": text}).json()
        top = body["words"][0]
        assert top["weight"] > 0, body
        rest = " ".join(word for word in text.split() if word != top["word"])
        without = api.predict(data=rest.encode(), headers={"Content-Type": "text/plain"}).json()
        assert without["scores"][body["label"]] == pytest.approx(body["confidence"] - top["weight"], abs=2e-4)


def test_a_list_is_explained_per_item_and_a_bad_item_gets_its_own_error(api):
    before = settled_metrics(api)
    items = [{"id": "a", "text": BUG}, {"id": "b", "text": "   "}, {"id": "c", "text": "I love the new calendar view"}, {"id": "d", "text": 42}]
    r = api.explain(json={"items": items})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [entry["id"] for entry in body] == ["a", "b", "c", "d"]
    assert body[1] == {"id": "b", "error": "text is empty"} and body[3] == {"id": "d", "error": "text must be a string, got a number"}
    assert _is_explanation(body[0], items[0]["text"]) and _is_explanation(body[2], items[2]["text"])
    texts = api.explain(json={"texts": ["where is the invoice", "thanks"]}).json()
    assert len(texts) == 2 and all(_is_explanation(entry, text) for entry, text in zip(texts, ["where is the invoice", "thanks"]))
    after = metrics_after(api, before, {("FeedbackExplanations", ()): 4})
    assert delta(after, before, "FeedbackExplanations") == 4 and delta(after, before, "FeedbackPredictions") == 0


def test_too_many_items_or_a_bad_body_is_a_400_with_a_message(api):
    r = api.explain(json={"texts": ["x"] * (EXPLAIN_MAX_ITEMS + 1)})
    assert r.status_code == 400 and f"at most {EXPLAIN_MAX_ITEMS} per explanation request" in r.text
    r = api.explain(data=b"\xff\xfe", headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 400 and "UTF-8" in r.text


def test_a_5000_word_text_is_explained_in_spans_within_the_unit_bound(api):
    words = "the export to csv fails with an error when the report has more than ten columns and I need it today".split()
    text = " ".join(words[i % len(words)] + ("." if i % 17 == 16 else "") for i in range(5000))
    started = time.perf_counter()
    r = api.explain(data=text.encode(), headers={"Content-Type": "text/plain"})
    seconds = time.perf_counter() - started
    assert r.status_code == 200, r.text
    body = r.json()
    print(f"5,000-word text explained in {seconds:.2f} s: {len(body['words'])} units of {body['words_per_unit']} words")
    assert body["truncated"] is True and body["unit"] == "span" and body["words_per_unit"] > 1
    assert len(body["words"]) <= EXPLAIN_MAX_UNITS and _is_explanation(body, text)


def test_a_long_text_is_explained_as_its_prediction_reads_it_windows_and_all(api):
    """A text of several windows (the session's model reads 64 tokens, long texts in windows
    with head and tail): the explanation has the prediction's label and scores, and its units
    reach the middle of the text, which the head-and-tail reading alone never sees."""
    opening = ("Hi team, writing about the desktop app on my work laptop. I have used it for two years "
               "across three jobs and recommended it to a few colleagues along the way. ")
    middle = "Last week my cousin visited with her kumquat tree and we talked about gardens for hours. "
    ending = ("Anyway, since the update on Monday the app crashes every time I export a report to PDF, "
              "and the error says the file is locked. Restarting does not help. Thanks, Dana")
    text = opening * 2 + middle + opening + ending
    explained = api.explain(json={"text": text})
    predicted = api.predict(json={"text": text}).json()
    assert explained.status_code == 200, explained.text
    body = explained.json()
    assert _is_explanation(body, text) and body["truncated"] is False and predicted["truncated"] is False
    assert body["label"] == predicted["label"] and body["confidence"] == pytest.approx(predicted["confidence"], abs=1e-5)
    assert any("kumquat" in unit["word"] for unit in body["words"]), [unit["word"] for unit in body["words"]]


# ------------------------------------------------------------------ a batch that mixes both


@pytest.fixture(scope="module")
def batching_server(tiny_model, tmp_path_factory, start_server):
    """One worker that waits up to 3 s to fill a batch of 8: requests sent together share
    one handler call whatever order they arrive in."""
    from training import serve
    from training.archive import build_archive
    from training.config import ArchiveConfig, ServeConfig

    root = tmp_path_factory.mktemp("explain-batching")
    # fp32 onnx: the tests compare a text's scores across batches, exact only without int8 (conftest's model_store)
    build_archive(ArchiveConfig(model=tiny_model.out_dir, model_store=root / "store", archive_format="zip-store", workers=1, batch_size=8, max_batch_delay=3000,
                                runtime="onnx"))
    config, instance = start_server(lambda base: ServeConfig(state_dir=root / "state", port_base=base, model_store=root / "store", timeout=180))
    instance["state_dir"] = root / "state"
    yield instance
    serve.stop(config)


def _mixed_batch_lines(state_dir: Path) -> list[str]:
    return [line for log in (state_dir / "logs").glob("*.log") for line in log.read_text(errors="replace").splitlines() if "mixed batch:" in line]


@pytest.mark.parametrize("first", ["explanations", "predictions"])
def test_a_batch_mixing_predictions_and_explanations_answers_each_as_it_asked(batching_server, first):
    """BaseHandler routes a batch by its first request; ours routes each request. The first
    request goes out alone so that each way round is the first of its batch once."""
    api = Api(batching_server)
    texts = [BUG, "Please add a dark mode", "How do I reset my password", "Refund me now", "love it", "the export is slow", "where are the docs", "ok"]
    other = "predictions" if first == "explanations" else "explanations"
    routes = [first, other, first, other, first, other, first, other]
    before = len(_mixed_batch_lines(batching_server["state_dir"]))
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(api.post, routes[0], json={"id": 0, "text": texts[0]})]
        time.sleep(0.3)
        futures += [pool.submit(api.post, route, json={"id": i, "text": text}) for i, (route, text) in enumerate(zip(routes[1:], texts[1:]), start=1)]
        answers = [f.result() for f in futures]
    for route, text, answer in zip(routes, texts, answers):
        assert answer.status_code == 200, answer.text
        body = answer.json()
        if route == "explanations":
            assert _is_explanation(body, text) and "scores" not in body
        else:
            assert set(body["scores"]) == set(LABELS) and "words" not in body
    deadline = time.monotonic() + 10  # the worker's log reaches the file a moment after the answer
    while len(_mixed_batch_lines(batching_server["state_dir"])) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    lines = _mixed_batch_lines(batching_server["state_dir"])[before:]
    assert any("4 explanation and 4 prediction requests" in line for line in lines), lines


# ------------------------------------------------------------------ the pure parts


def test_words_are_runs_of_tokens_without_spaces_and_long_texts_become_spans():
    text = "It crashes, since v2.3 don't work!"
    #          [CLS]    It      crashes    ,        since     v        2        .        3        don      '        t        work     !       [SEP]
    offsets = [(0, 0), (0, 2), (3, 10), (10, 11), (12, 17), (18, 19), (19, 20), (20, 21), (21, 22), (23, 26), (26, 27), (27, 28), (29, 33), (33, 34), (0, 0)]
    units, per_unit = occlusion_units(offsets)
    assert per_unit == 1 and [unit_text(text, offsets, u) for u in units] == ["It", "crashes", "since", "v2.3", "don't", "work"]
    spans, per_unit = occlusion_units(offsets, max_units=4)
    assert per_unit == 2 and [unit_text(text, offsets, u) for u in spans] == ["It crashes", "since v2.3", "don't work"]


def test_a_words_label_is_the_prediction_when_it_helps_it_else_the_label_it_speaks_for():
    base = [0.7, 0.2, 0.1]
    weighed = occlusion_weights(base, [[0.3, 0.6, 0.1], [0.8, 0.05, 0.15], [0.7, 0.2, 0.1]], ["bug", "praise", "other"])
    assert [round(w, 6) for w, _ in weighed] == [0.4, -0.1, 0.0]
    assert [label for _, label in weighed] == ["bug", "praise", "bug"]


def test_a_unit_leaves_only_the_readings_that_hold_it():
    read, unread = readings(list(range(200)), 64, 0.75, window_step=1.0)  # head and tail, then windows of 62 side by side
    assert not unread and len(read) == 5
    middle = occluded_readings(read, [100, 101])
    assert [index for index, _ in middle] == [2] and middle[0][1] == [p for p in read[2] if p not in (100, 101)]
    start = occluded_readings(read, [3])
    assert [index for index, _ in start] == [0, 1]  # in the head and in the first window
    assert [index for index, _ in occluded_readings(read, [150])] == [3, 4]  # where the last window overlaps the one before
    assert [index for index, _ in occluded_readings(read, [190])] == [0, 4]  # in the tail and the last window


def test_no_span_joins_the_head_and_tail_of_a_cut_text_and_the_unit_bound_holds():
    text = "aa bb cc\ndd ee ff"  # as if a cut had joined "aa bb cc" to "dd ee ff" at the newline
    offsets = [(0, 0), (0, 2), (3, 5), (6, 8), (9, 11), (12, 14), (15, 17), (0, 0)]
    joined, _ = occlusion_units(offsets, max_units=4)
    assert "cc dd" in [unit_text(text, offsets, u) for u in joined]  # without the join, a span crosses it
    spans, per_unit = occlusion_units(offsets, max_units=4, join=8)
    assert per_unit == 2 and [unit_text(text, offsets, u) for u in spans] == ["aa bb", "cc", "dd ee", "ff"]
    for max_units in range(1, 8):
        assert len(occlusion_units(offsets, max_units=max_units, join=8)[0]) <= max(max_units, 2)
    cut, was_cut = cut_text("word " * 2000, 64, 0.75)
    assert was_cut and cut_join(cut, 64, 0.75) == cut.index("\n") and cut_join("a short text", 64, 0.75) is None
