"""The real TorchServe with the real .mar of the session's tiny fine-tune."""

from __future__ import annotations

import json
import re
import shutil
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
    bodies = [b"good text number %d about billing" % i for i in range(11)] + [b"\xff\xfe"]

    def send(body):
        return api.predict(data=body, headers={"Content-Type": "application/octet-stream"}).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(send, bodies))
    assert codes[:-1] == [200] * 11 and codes[-1] == 400


def _metrics(api) -> str:
    return requests.get(f"{api.metrics_url}/metrics", timeout=30).text


def test_custom_metrics_on_prometheus_endpoint(api):
    api.predict(data=b"The app keeps crashing", headers={"Content-Type": "text/plain"})
    text = _metrics(api)
    assert re.search(r'FeedbackPredictions\{label="[a-z_]+"', text)
    assert "FeedbackInferenceMs" in text and "FeedbackBatchItems_count" in text


def _batch_histogram(api) -> tuple[float, float]:
    text = _metrics(api)
    count = float(re.search(r"FeedbackBatchItems_count\{[^}]*\} ([0-9.]+)", text).group(1))
    total = float(re.search(r"FeedbackBatchItems_sum\{[^}]*\} ([0-9.]+)", text).group(1))
    return count, total


def test_server_side_batching_under_concurrent_load(api):
    describe = requests.get(f"{api.management_url}/models/{MODEL}", headers=api.mauth, timeout=30).json()[0]
    assert describe["batchSize"] == 8 and describe["maxBatchDelay"] == 20

    def send(i):
        return api.predict(data=f"concurrent request {i} about my invoice".encode(), headers={"Content-Type": "text/plain"}).status_code

    api.predict(data=b"warm-up", headers={"Content-Type": "text/plain"})
    calls_before, items_before = _batch_histogram(api)
    with ThreadPoolExecutor(max_workers=16) as pool:
        assert set(pool.map(send, range(64))) == {200}
    calls_after, items_after = _batch_histogram(api)
    assert items_after - items_before == 64
    assert calls_after - calls_before < 64, "64 single-text requests never shared an inference call"


def test_served_prediction_equals_in_process_prediction(api, tiny_model):
    from training.inference import load_model, predict_proba

    texts = ["Refund me now, this is the third late delivery", "Is there an API for exporting contacts?"]
    served = api.predict(json={"texts": texts}).json()
    local = predict_proba(load_model(tiny_model.out_dir), texts)
    for body, row in zip(served, local):
        assert [body["scores"][label] for label in LABELS] == pytest.approx(row.tolist(), abs=1e-4)


def test_scale_workers_up_and_down(api):
    def workers():
        return len(requests.get(f"{api.management_url}/models/{MODEL}", headers=api.mauth, timeout=30).json()[0]["workers"])

    r = requests.put(f"{api.management_url}/models/{MODEL}?min_worker=2&max_worker=2&synchronous=true", headers=api.mauth, timeout=120)
    assert r.status_code == 200 and workers() == 2
    r = requests.put(f"{api.management_url}/models/{MODEL}?min_worker=1&max_worker=1&synchronous=true", headers=api.mauth, timeout=120)
    assert r.status_code == 200 and workers() == 1


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
    finally:
        client.unregister("2")
        shutil.rmtree(v2, ignore_errors=True)
