"""The real TorchServe with the real .mar of the session's tiny fine-tune."""

from __future__ import annotations

import json
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests

from client.core.instance import read_key
from client.core.labels import LABELS

MODEL = "feedback-classifier"


@pytest.fixture(scope="module")
def api(server):
    key_file = Path(server["key_file"])
    inference, management = read_key(key_file, "inference"), read_key(key_file, "management")
    urls = server["urls"]

    class Api:
        predict_url = f"{urls['inference']}/predictions/{MODEL}"
        management_url = urls["management"]
        metrics_url = urls["metrics"]
        auth = {"Authorization": f"Bearer {inference}"}
        mauth = {"Authorization": f"Bearer {management}"}

        def predict(self, **kwargs):
            headers = {**self.auth, **kwargs.pop("headers", {})}
            return requests.post(self.predict_url, headers=headers, timeout=60, **kwargs)

    return Api()


def _is_prediction(body: dict) -> bool:
    return body["label"] in LABELS and set(body["scores"]) == set(LABELS) and 0 < body["confidence"] <= 1


def test_raw_text_plain_and_no_content_type(api):
    for headers in ({"Content-Type": "text/plain"}, {}):
        r = api.predict(data="The export button throws error 500 since yesterday".encode(), headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert _is_prediction(body) and body["truncated"] is False
        assert sum(body["scores"].values()) == pytest.approx(1.0, abs=1e-4)


def test_json_single_with_id_is_echoed(api):
    r = api.predict(json={"id": "ticket-9", "text": "Please add a dark mode"})
    assert r.status_code == 200 and r.json()["id"] == "ticket-9" and _is_prediction(r.json())


def test_list_requests_keep_order_ids_and_per_item_errors(api):
    items = [{"id": 1, "text": "love it"}, {"id": 2, "text": ""}, {"id": 3, "text": "how do I export?"}]
    r = api.predict(json={"items": items})
    assert r.status_code == 200
    body = r.json()
    assert [b["id"] for b in body] == [1, 2, 3]
    assert body[1] == {"id": 2, "error": "text is empty"}
    assert _is_prediction(body[0]) and _is_prediction(body[2])
    texts = api.predict(json={"texts": ["a", "b", "c", "d"]}).json()
    assert len(texts) == 4 and all(_is_prediction(b) for b in texts)


def test_bad_requests_get_400_with_a_message(api):
    cases = [
        (dict(data=b"\xff\xfe\xfa", headers={"Content-Type": "application/octet-stream"}), "UTF-8"),
        (dict(data=b'{"text": "x"', headers={"Content-Type": "application/json"}), "broken JSON"),
        (dict(json={"text": ["not", "a", "string"]}), "must be a string"),
        (dict(json={"texts": ["x"] * 300}), "too many items"),
        (dict(data=b"   ", headers={"Content-Type": "text/plain"}), "empty"),
    ]
    for kwargs, fragment in cases:
        r = api.predict(**kwargs)
        assert r.status_code == 400, (fragment, r.text)
        assert fragment in r.json()["error"]


def test_form_post_without_text_field_says_what_to_send(api):
    r = api.predict(data={"some text": ""})
    assert r.status_code == 400 and "Content-Type: text/plain" in r.json()["error"]
    ok = api.predict(data={"text": "works from a form"})
    assert ok.status_code == 200 and _is_prediction(ok.json())


def test_one_megabyte_text_is_truncated_and_flagged(api):
    r = api.predict(data=("word " * 200_000).encode(), headers={"Content-Type": "text/plain"})
    assert r.status_code == 200 and r.json()["truncated"] is True


def test_an_email_with_a_quoted_reply_is_classified_on_the_customers_words_and_flagged(api):
    """The served answer for the customer's own words equals the answer for the whole thread."""
    own = "The export button crashes the app every time since the 4.2 update."
    thread = own + "\n\nBest regards,\nAnna\n\nOn Tue, 3 Mar 2026 at 14:02, Support <help@example.com> wrote:\n> Could you tell us your version?"
    r = api.predict(json={"items": [{"id": "thread", "text": thread}, {"id": "own", "text": own}]})
    assert r.status_code == 200
    by_id = {item["id"]: item for item in r.json()}
    assert by_id["thread"]["cleaned"] is True and by_id["own"]["cleaned"] is False
    assert by_id["thread"]["scores"] == by_id["own"]["scores"]


def test_feedback_in_another_language_is_flagged_for_review(api):
    r = api.predict(json={"texts": ["Die App stürzt jedes Mal ab, wenn ich ein Foto hochladen will. Bitte beheben!", "The app crashes when I upload a photo"]})
    german, english = r.json()
    assert german["language_supported"] is False and german["needs_review"] is True
    assert english["language_supported"] is True


def test_over_max_request_size_is_413(api):
    r = api.predict(data=b"x" * 5_000_000, headers={"Content-Type": "text/plain"})
    assert r.status_code == 413


def test_keys_are_enforced_with_invalid_key_exception(api):
    for headers in ({}, {"Authorization": "Bearer wrong"}, api.mauth):
        r = requests.post(api.predict_url, data=b"hello", headers=headers, timeout=30)
        assert r.status_code == 400 and r.json()["type"] == "InvalidKeyException"
    r = requests.get(f"{api.management_url}/models", headers=api.auth, timeout=30)
    assert r.status_code == 400 and "InvalidKeyException" in r.text


def test_bad_request_in_a_concurrent_batch_fails_alone(api):
    """A request TorchServe batched with good ones fails alone: shown by the handler's batch
    histogram, where an inference call holding only the bad request would record 0 items."""
    good = [b"good text number %d about billing" % i for i in range(11)]
    bodies = good[:5] + [b"\xff\xfe"] + good[5:]

    def send(body):
        return api.predict(data=body, headers={"Content-Type": "application/octet-stream"}).status_code

    shared = []
    for _ in range(5):  # batches form by arrival time: the bad request may land alone now and then
        before = settled_metrics(api)
        with ThreadPoolExecutor(max_workers=12) as pool:
            codes = list(pool.map(send, bodies))
        assert codes == [200] * 5 + [400] + [200] * 6
        after = metrics_after(api, before, {("FeedbackBatchItems_sum", ()): 11})
        calls = delta(after, before, "FeedbackBatchItems_count")
        if delta(after, before, "FeedbackBatchItems_bucket", le="0.5") == 0 and calls < len(bodies):
            shared.append(calls)
            break
    assert shared, "in 5 rounds the bad request never shared an inference call with a good one"


# ------------------------------------------------------------------ metrics
# TorchServe updates its Prometheus figures from the workers' log lines, a moment after the
# response: read a settled "before", then poll the "after" until it shows what was sent.

_SAMPLE = re.compile(r"^(\w+)\{([^}]*)\} (\S+)$", re.MULTILINE)
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def read_metrics(api) -> dict[tuple[str, tuple], float]:
    """Every sample, keyed by name and its labels (the host name left out)."""
    text = requests.get(f"{api.metrics_url}/metrics", timeout=30).text
    out = {}
    for name, labels, value in _SAMPLE.findall(text):
        key = tuple(sorted((k, v) for k, v in _LABEL.findall(labels) if k != "Hostname"))
        out[(name, key)] = float(value)
    return out


def metric(sample: dict, name: str, **labels: str) -> float:
    """The sum of ``name`` over the samples that carry these labels (0 when none exists yet)."""
    wanted = set(labels.items())
    return sum(value for (n, key), value in sample.items() if n == name and wanted <= set(key))


def delta(after: dict, before: dict, name: str, **labels: str) -> float:
    return metric(after, name, **labels) - metric(before, name, **labels)


def settled_metrics(api, seconds: float = 30) -> dict:
    """The figures once two reads half a second apart agree on the handler's own metrics
    (nothing still arriving; TorchServe's system gauges change on their own and are left out)."""
    deadline = time.monotonic() + seconds

    def ours(sample: dict) -> dict:
        return {key: value for key, value in sample.items() if key[0].startswith("Feedback")}

    previous = read_metrics(api)
    while True:
        time.sleep(0.5)
        current = read_metrics(api)
        if ours(current) == ours(previous) or time.monotonic() > deadline:
            return current
        previous = current


def metrics_after(api, before: dict, expected: dict[tuple[str, tuple], float], seconds: float = 30) -> dict:
    """Poll until every ``(name, labels)`` in ``expected`` grew by its figure, then settle; the
    deadline only bounds the wait (the caller's asserts say what was missing)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        current = read_metrics(api)
        if all(delta(current, before, name, **dict(labels)) >= want for (name, labels), want in expected.items()):
            break
        time.sleep(0.2)
    return settled_metrics(api)


def test_custom_metrics_count_each_prediction_by_label_and_each_review_flag(api):
    texts = [
        "The export button crashes the app every time since the update",
        "Please add a dark mode to the mobile app",
        "I love the new calendar view, great work",
        "How do I reset my password?",
        "You raised the price again, this is too expensive",
        "Die App stürzt jedes Mal ab, wenn ich ein Foto hochladen will. Bitte beheben!",  # flagged: not English
    ]
    before = settled_metrics(api)
    answers = api.predict(json={"texts": texts}).json()
    labels = [a["label"] for a in answers]
    flagged = sum(a["needs_review"] for a in answers)
    assert 1 <= flagged < len(texts)
    expected = {("FeedbackPredictions", (("label", label),)): labels.count(label) for label in set(labels)}
    after = metrics_after(api, before, {**expected, ("FeedbackLowConfidence", ()): flagged})
    for label in LABELS:
        assert delta(after, before, "FeedbackPredictions", label=label) == labels.count(label), label
    assert delta(after, before, "FeedbackLowConfidence") == flagged
    assert delta(after, before, "FeedbackBatchItems_sum") == len(texts)
    assert delta(after, before, "FeedbackBatchItems_count") == 1
    assert metric(after, "FeedbackInferenceMs") > 0


def test_server_side_batching_under_concurrent_load(api, shared_batching):
    describe = requests.get(f"{api.management_url}/models/{MODEL}", headers=api.mauth, timeout=30).json()[0]
    assert (describe["batchSize"], describe["maxBatchDelay"]) == (shared_batching["batch_size"], shared_batching["max_batch_delay"])  # as archived

    def send(i):
        return api.predict(data=f"concurrent request {i} about my invoice".encode(), headers={"Content-Type": "text/plain"}).status_code

    api.predict(data=b"warm-up", headers={"Content-Type": "text/plain"})
    before = settled_metrics(api)
    with ThreadPoolExecutor(max_workers=16) as pool:
        assert set(pool.map(send, range(64))) == {200}
    after = metrics_after(api, before, {("FeedbackBatchItems_sum", ()): 64})
    assert delta(after, before, "FeedbackBatchItems_sum") == 64
    assert delta(after, before, "FeedbackBatchItems_count") < 64, "64 single-text requests never shared an inference call"


def test_served_prediction_equals_in_process_prediction(api, tiny_model):
    from training.inference import load_model, predict_proba

    # The third is read in windows too (the session's model: TINY's window_step), and pooled
    # the same way in both places.
    story = "We moved the whole team over in spring and the first weeks were fine, lots of small things to learn. "
    texts = ["Refund me now, this is the third late delivery", "Is there an API for exporting contacts?",
             story * 3 + "Could you add a way to export every project as CSV at once? " + story * 3]
    loaded = load_model(tiny_model.out_dir)
    assert loaded.reading["window_step"] > 0 and len(loaded.tokenizer(texts[2])["input_ids"]) > 2 * loaded.max_length
    served = api.predict(json={"texts": texts}).json()
    local = predict_proba(loaded, texts)
    assert served[2]["truncated"] is False  # read whole
    for body, row in zip(served, local):
        assert [body["scores"][label] for label in LABELS] == pytest.approx(row.tolist(), abs=1e-4)


def test_scale_workers_up_and_down(api):
    def describe():
        return requests.get(f"{api.management_url}/models/{MODEL}", headers=api.mauth, timeout=30).json()[0]

    def scale(count):
        return requests.put(f"{api.management_url}/models/{MODEL}?min_worker={count}&max_worker={count}&synchronous=true", headers=api.mauth, timeout=120)

    found = describe()
    original = (found["minWorkers"], found["maxWorkers"])
    other = 1 if len(found["workers"]) > 1 else 2
    try:
        r = scale(other)
        assert r.status_code == 200 and len(describe()["workers"]) == other
    finally:  # the session server goes back to the workers it had
        r = requests.put(f"{api.management_url}/models/{MODEL}?min_worker={original[0]}&max_worker={original[1]}&synchronous=true", headers=api.mauth, timeout=120)
    assert r.status_code == 200 and len(describe()["workers"]) == len(found["workers"])


def test_register_refuses_urls_outside_the_store(api, tmp_path):
    outside = tmp_path / "evil.mar"
    outside.write_bytes(b"not a model")
    for url in ("https://example.com/evil.mar", f"file://{outside}"):
        r = requests.post(f"{api.management_url}/models", params={"url": url}, headers=api.mauth, timeout=30)
        assert r.status_code >= 400 and "does not match any allowed URL" in r.text


def test_second_version_registered_and_set_default(api, server, tiny_model, model_store, session_root, as_version):
    from training.archive import build_archive
    from training.config import ArchiveConfig
    from client.core.api import ManagementClient

    v2 = as_version(tiny_model.out_dir, session_root / "tiny-model-v2", 2)
    build_archive(ArchiveConfig(model=v2, model_store=model_store, archive_format="zip-store"))
    client = ManagementClient(api.management_url, Path(server["key_file"]))
    client.register("feedback-classifier-v2.mar")
    try:
        client.set_default("2")
        assert api.predict(data=b"hello", headers={"Content-Type": "text/plain"}).json()["model_version"] == "2"
        assert {v.version for v in client.versions()} == {"1", "2"}
        client.set_default("1")
        assert api.predict(data=b"hello", headers={"Content-Type": "text/plain"}).json()["model_version"] == "1"
    finally:  # the session server and store as they were: v1 alone, no v2 archive
        client.set_default("1")
        client.unregister("2")
        shutil.rmtree(v2, ignore_errors=True)
        (model_store / "feedback-classifier-v2.mar").unlink(missing_ok=True)
