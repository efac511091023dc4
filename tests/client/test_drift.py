"""Drift, without a window: buckets, the alert rules, predicted-vs-final from a real
corrections store, the reference read from a real archive's card, the server's counters,
and the traffic history's bound and survival across a reopen (real SQLite files)."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from client.core import drift
from client.core.corrections import Correction, CorrectionsStore
from client.core.drift import (
    DAY,
    HOUR,
    LABEL_MIX_DISTANCE,
    MIN_ITEMS,
    Reference,
    Seen,
    buckets,
    check_drift,
    confusion,
    label_distance,
    parse_prometheus,
    reference_from_card,
    review_limit,
    summarise,
    window_start,
)
from client.core.drift_sources import collect, read_card_from_archive, served_reference
from client.core.labels import LABELS
from client.core.traffic_history import TrafficHistory, open_history

UTC = timezone.utc
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC).timestamp()
UNIFORM = {label: 1 / len(LABELS) for label in LABELS}
REFERENCE = Reference("1", 800, UNIFORM, review_share=0.15, confidence_low=0.78, confidence_high=0.88)


def card(review: float = 0.15, accuracy: float = 0.83, ece: float = 0.05, supports: dict[str, float] | None = None) -> dict:
    """A card shaped like the ones ``feedback train`` writes (``EvalReport.summary()`` per split)."""
    supports = supports or {label: 100.0 for label in LABELS}
    per_class = {label: {"precision": 0.8, "recall": 0.8, "f1": 0.8, "support": supports[label]} for label in LABELS}
    return {"version": 3, "validation": {"n": int(sum(supports.values())), "accuracy": accuracy, "ece": ece, "per_class": per_class,
                                         "review": {"threshold": 0.6, "flagged_share": review}}}


def traffic(count: int, label: str | dict[str, int] = "bug", confidence: float = 0.85, flagged: int = 0, at: float = NOON) -> list[Seen]:
    """``count`` predictions (all ``label``, or spread as the dict says), ``flagged`` of them needing review."""
    labels = [label] * count if isinstance(label, str) else [lab for lab, n in label.items() for _ in range(n)]
    return [Seen(at + i, lab, confidence, i < flagged, "1") for i, lab in enumerate(labels)]


def spread(count: int) -> dict[str, int]:
    return {label: count // len(LABELS) for label in LABELS}


# ------------------------------------------------------------------ the reference


def test_the_card_in_training_is_the_card_drift_reads() -> None:
    from training.card import CARD

    assert drift.CARD_FILE == CARD


def test_reference_from_card_takes_the_validation_mix_review_share_and_confidence_band() -> None:
    supports = {label: 50.0 for label in LABELS} | {"bug": 150.0}
    ref = reference_from_card(card(review=0.2, accuracy=0.8, ece=0.04, supports=supports))
    assert ref is not None and ref.version == "3" and ref.items == 500
    assert ref.label_share["bug"] == pytest.approx(0.3) and sum(ref.label_share.values()) == pytest.approx(1.0)
    assert (ref.review_share, ref.confidence_low, ref.confidence_high) == (0.2, pytest.approx(0.76), pytest.approx(0.84))
    assert reference_from_card({"version": 1}) is None  # an old card: no made-up figures


def test_served_reference_reads_the_card_inside_the_archive_of_the_instance_owning_the_key(tmp_path: Path) -> None:
    store, state = tmp_path / "store", tmp_path / "state"
    store.mkdir(), state.mkdir()
    with zipfile.ZipFile(store / "feedback-classifier-v3.mar", "w") as mar:
        mar.writestr("model_card.json", json.dumps(card(review=0.1)))
    (state / "instance.json").write_text(json.dumps({"model_store": str(store), "urls": {}}))
    key = state / "key_file.json"
    ref, note = served_reference(key, "feedback-classifier-v3.mar")
    assert ref is not None and ref.review_share == 0.1 and note.startswith("Compared with model v3, validation split (800 items)")
    none, why = served_reference(key, "feedback-classifier-v9.mar")
    assert none is None and "v9.mar holds no readable model_card.json" in why
    (store / "broken.mar").write_bytes(b"not a zip")
    assert read_card_from_archive(store / "broken.mar") is None


def test_a_remote_server_has_no_reference_and_says_why(tmp_path: Path) -> None:
    ref, why = served_reference(tmp_path / "key_file.json", "feedback-classifier-v1.mar")
    assert ref is None and "only readable for a server started on this machine" in why


# ------------------------------------------------------------------ buckets


def test_buckets_per_hour_and_day_count_label_mix_confidence_and_review_share() -> None:
    seen = traffic(4, "bug", 0.9, flagged=1) + traffic(2, "praise", 0.6, flagged=2, at=NOON + 3600) + traffic(2, "other", 0.3, at=NOON + 86400)
    hours = buckets(seen, HOUR, UTC)
    assert [b.start.hour for b in hours] == [12, 13, 12] and [b.items for b in hours] == [4, 2, 2]
    assert hours[1].review_share == 1.0 and hours[0].review_share == 0.25
    days = buckets(seen, DAY, UTC)
    assert [b.items for b in days] == [6, 2] and days[0].start == datetime(2026, 3, 10, tzinfo=UTC)
    assert days[0].mean_confidence == pytest.approx((4 * 0.9 + 2 * 0.6) / 6)
    assert days[0].label_share["bug"] == pytest.approx(4 / 6) and days[0].label_share["question"] == 0.0
    assert window_start(NOON + 1800, HOUR, 24, UTC) == NOON - 23 * 3600
    assert window_start(NOON, DAY, 14, UTC) == datetime(2026, 2, 25, tzinfo=UTC).timestamp()
    with pytest.raises(ValueError, match="period must be one of"):
        buckets(seen, "week", UTC)


# ------------------------------------------------------------------ alerts


def test_traffic_like_validation_raises_no_alert() -> None:
    assert check_drift(summarise(traffic(80, spread(80), 0.84, flagged=12)), REFERENCE) == []


def test_review_share_twice_the_reference_alerts_in_plain_words() -> None:
    alerts = check_drift(summarise(traffic(80, spread(80), 0.84, flagged=25)), REFERENCE)
    assert [a.kind for a in alerts] == ["review"]
    assert alerts[0].message == "Share needing review 31% today, twice the 15% seen on validation."
    assert check_drift(summarise(traffic(80, spread(80), 0.84, flagged=23)), REFERENCE) == []  # 29 %: under twice


def test_review_limit_is_twice_the_reference_or_half_way_to_everything() -> None:
    assert review_limit(0.15) == pytest.approx(0.30)
    assert review_limit(0.6) == pytest.approx(0.8)  # twice is out of reach
    assert review_limit(0.0) == pytest.approx(0.04)  # twice nothing would alert on the first flag


def test_confidence_drop_beyond_the_margin_alerts() -> None:
    alerts = check_drift(summarise(traffic(80, spread(80), 0.6, flagged=10)), REFERENCE)
    assert [a.kind for a in alerts] == ["confidence"]
    assert alerts[0].message == "Mean confidence 0.60 today, below the 0.78–0.88 seen on validation."
    assert check_drift(summarise(traffic(80, spread(80), 0.70, flagged=10)), REFERENCE) == []  # within the margin


def test_label_mix_shift_alerts_and_names_the_label_that_grew() -> None:
    mix = {label: 5 for label in LABELS} | {"bug": 45}
    today = summarise(traffic(80, mix, 0.85, flagged=10))
    assert label_distance(today.label_share, UNIFORM) > LABEL_MIX_DISTANCE
    (alert,) = check_drift(today, REFERENCE, "this hour")
    assert alert.kind == "labels" and "this hour" in alert.message and "'bug' is 56% of the traffic against 12% in training" in alert.message
    assert label_distance(UNIFORM, UNIFORM) == 0.0 and label_distance({"bug": 1.0}, {"praise": 1.0}) == 1.0


def test_too_few_items_never_alert() -> None:
    assert check_drift(summarise(traffic(MIN_ITEMS - 1, "bug", 0.2, flagged=MIN_ITEMS - 1)), REFERENCE) == []
    assert len(check_drift(summarise(traffic(MIN_ITEMS, "bug", 0.2, flagged=MIN_ITEMS)), REFERENCE)) == 3


# ------------------------------------------------------------------ predicted vs final


def test_confusion_from_a_real_corrections_store(tmp_path: Path) -> None:
    store = CorrectionsStore(tmp_path / "corrections.sqlite3")
    verdicts = [("bug", "bug", "confirmation")] * 3 + [("bug", "complaint", "correction")] * 2 + [("question", "usage_tip", "correction")]
    store.add_many(Correction(f"text {i}", final, predicted, kind) for i, (predicted, final, kind) in enumerate(verdicts))
    store.add(Correction("imported without a prediction", "praise"))
    table = confusion(CorrectionsStore(tmp_path / "corrections.sqlite3").all())
    assert table.counts["bug"]["bug"] == 3 and table.counts["bug"]["complaint"] == 2 and table.counts["question"]["usage_tip"] == 1
    assert sum(map(sum, (row.values() for row in table.counts.values()))) == 6  # the import has no predicted label
    assert table.error_rate("bug") == pytest.approx(0.4) and table.error_rate("praise") is None
    assert table.worst() == [("bug", "complaint", 2), ("question", "usage_tip", 1)]


# ------------------------------------------------------------------ the server's counters

PROMETHEUS = """# HELP FeedbackPredictions Torchserve prometheus counter metric with unit: count
# TYPE FeedbackPredictions counter
FeedbackPredictions{label="bug",ModelName="feedback-classifier",Level="Model",Hostname="h",} 30.0
FeedbackPredictions{label="praise",ModelName="feedback-classifier",Level="Model",Hostname="h",} 10.0
FeedbackLowConfidence{ModelName="feedback-classifier",Level="Model",Hostname="h",} 16.0
ts_inference_requests_total{model_name="feedback-classifier",model_version="default",hostname="h",} 40.0
"""


def test_prometheus_counters_become_server_traffic_without_confidences() -> None:
    server = parse_prometheus(PROMETHEUS)
    assert server is not None and server.items == 40 and server.by_label == {"bug": 30, "praise": 10}
    assert server.review_share == pytest.approx(0.4) and server.mean_confidence is None
    assert [a.kind for a in check_drift(server, REFERENCE, "on the server")] == ["review", "labels"]
    assert parse_prometheus("ts_queue_latency_microseconds{} 1.0\n") is None


# ------------------------------------------------------------------ the history


def test_history_survives_a_reopen_and_keeps_no_text(tmp_path: Path) -> None:
    path = tmp_path / "traffic.sqlite3"
    assert TrafficHistory(path).record(traffic(5, "bug", 0.7, flagged=2), now=NOON + 10)
    reopened = TrafficHistory(path)
    assert reopened.since(0) == traffic(5, "bug", 0.7, flagged=2)
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(seen)")]
    assert columns == ["id", "at", "label", "confidence", "needs_review", "model_version"]


def test_history_is_bounded_in_rows_and_in_days(tmp_path: Path) -> None:
    history = TrafficHistory(tmp_path / "traffic.sqlite3", max_rows=50, max_days=2)
    for start in range(0, 120, 40):
        history.record(traffic(40, "bug", at=NOON + start), now=NOON + 200)
    assert history.count() == 50 and history.since(0)[0].at == NOON + 70  # the newest 50 stay
    history.record(traffic(1, "praise", at=NOON + 3 * 86400), now=NOON + 3 * 86400)
    assert [s.label for s in history.since(0)] == ["praise"]  # two days on, the older rows went


def test_an_unwritable_history_is_no_history_and_never_raises(tmp_path: Path, caplog) -> None:
    folder = tmp_path / "a-folder.sqlite3"
    folder.mkdir()
    assert open_history(folder) is None
    assert "cannot open the traffic history" in caplog.text
    history = TrafficHistory(tmp_path / "traffic.sqlite3")
    (tmp_path / "traffic.sqlite3").unlink()
    (tmp_path / "traffic.sqlite3").mkdir()  # the file replaced by a folder while the app runs
    assert history.record(traffic(1)) is False


def test_collect_compares_today_with_the_reference_and_fills_the_confusion(tmp_path: Path) -> None:
    store, state = tmp_path / "store", tmp_path / "state"
    store.mkdir(), state.mkdir()
    with zipfile.ZipFile(store / "feedback-classifier-v3.mar", "w") as mar:
        mar.writestr("model_card.json", json.dumps(card()))
    (state / "instance.json").write_text(json.dumps({"model_store": str(store), "urls": {"metrics": "http://127.0.0.1:9"}}))
    now = datetime.now().astimezone().replace(hour=12).timestamp()
    history = TrafficHistory(tmp_path / "traffic.sqlite3")
    history.record(traffic(40, "bug", 0.9, flagged=30, at=now - 600), now=now)
    history.record(traffic(40, spread(40), 0.9, at=now - 86400 * 3), now=now)  # days ago: in the series, not in today
    CorrectionsStore(tmp_path / "c.sqlite3").add(Correction("t", "praise", "bug"))
    snap = collect(history, DAY, state / "key_file.json", "feedback-classifier-v3.mar", tmp_path / "c.sqlite3", now)
    assert snap.today.items == 40 and [b.items for b in snap.series] == [40, 40]
    assert {a.kind for a in snap.alerts} == {"review", "labels"} and all("today" in a.message for a in snap.alerts)
    assert snap.server is None and snap.server_alerts == [] and "did not answer" in snap.server_note
    assert snap.confusion.counts["bug"]["praise"] == 1
