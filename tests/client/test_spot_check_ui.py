"""The spot check on the real window against the real server: draw a random sample with a
click, give verdicts with keys, read the report; the store marks exactly the sampled verdicts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from drive import drop_file, open_and_run, write_csv
from PySide6.QtCore import Qt

from client.core.batch import file_digest
from client.core.corrections import read_corrections
from client.core.channels import Channel, load_channels, save_channel
from client.core.labels import LABELS
from client.core.source_temperature import MIN_VERDICTS, calibrate, rescale
from client.core.spot_check import by_source
from client.core.stats import CONFIDENCE_BINS, bin_index
from client.core.spot_check import draw as spot_draw

pytestmark = pytest.mark.server
ROWS = 12
ROWS_BIG = 400  # as test_batch.py cancels midway: enough chunks that a cancel lands before the end


@pytest.fixture
def finished(qtbot, window, tmp_path: Path):
    open_and_run(qtbot, window, write_csv(tmp_path / "inbox.csv", ROWS))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    return window


def key(qtbot, window, table, pressed) -> None:
    with qtbot.waitSignal(window.services.corrections.saved, timeout=10000):
        qtbot.keyClick(table, pressed)


def draw(qtbot, window, size: int) -> None:
    batch = window.batch
    batch.spot_size.lineEdit().selectAll()
    qtbot.keyClicks(batch.spot_size, str(size))
    assert batch.spot_size.value() == size
    with qtbot.waitSignal(window.batch_controller.spot_checked, timeout=10000):
        qtbot.mouseClick(batch.spot_button, Qt.MouseButton.LeftButton)


def test_a_drawn_sample_is_checked_with_keys_and_reported(qtbot, finished, corrections_db: Path) -> None:
    batch, controller = finished.batch, finished.batch_controller
    # A verdict given before the draw, in the results table: the whole file is drawn below, so it is sampled.
    batch.tabs.setCurrentIndex(1)
    batch.table.setFocus()
    qtbot.waitUntil(batch.table.hasFocus)
    batch.table.go_to(0)
    earlier = batch.table.current_result()
    key(qtbot, finished, batch.table, Qt.Key.Key_2)

    with qtbot.waitSignal(finished.services.corrections.saved, timeout=10000):  # the earlier verdict, saved again as a spot check
        draw(qtbot, finished, ROWS)
    table = batch.spot_table
    assert batch.tabs.currentWidget() is table.parentWidget() and table.hasFocus() and table.currentIndex().row() == 0
    sampled = [table.proxy.result(row) for row in range(table.proxy.rowCount())]
    assert sorted(r.row.line for r in sampled) == sorted(r.row.line for r in controller.run.results)
    assert "1 of 12 drawn items have a verdict" in batch.spot_report.text()

    pending = [row for row, r in enumerate(sampled) if r.verdict is None][:3]
    for row, pressed in zip(pending, (Qt.Key.Key_Return, Qt.Key.Key_Return, Qt.Key.Key_8)):
        table.go_to(row)
        key(qtbot, finished, table, pressed)
    assert table.proxy.rowCount() == ROWS  # checked rows stay: the sample is the denominator

    stored = read_corrections(corrections_db)
    assert len(stored) == 4 and all(c.spot_check for c in stored)
    assert next(c for c in stored if c.text == earlier.row.text).final_label == LABELS[1]
    by_text = {r.row.text: r for r in sampled}
    assert all(c.needs_review == by_text[c.text].flagged and c.source == "inbox.csv" for c in stored)
    (report,) = by_source(stored).values()
    live = controller.spot_report()  # the app's figures and the store's are the same verdicts
    assert dataclasses.replace(report, mean_confidence=0.0) == dataclasses.replace(live, mean_confidence=0.0)
    assert report.mean_confidence == pytest.approx(live.mean_confidence)
    assert report.checked == 4 and report.right == sum(c.kind == "confirmation" for c in stored)
    shown = batch.spot_report.text()
    assert "4 of 12 drawn items have a verdict" in shown and f"{report.right} of 4 right" in shown and "Check 93 more" in shown


def test_only_verdicts_on_the_sample_are_spot_checks_wherever_they_are_given(qtbot, finished, corrections_db: Path) -> None:
    batch, controller = finished.batch, finished.batch_controller
    draw(qtbot, finished, 5)
    first = [batch.spot_table.proxy.result(row) for row in range(5)]
    kept = batch.spot_table.current_result()  # judged while in the first sample
    key(qtbot, finished, batch.spot_table, Qt.Key.Key_Return)
    # A new sample replaces the first; its seed is one that leaves the judged row out, so that row's
    # next verdict is given outside the current sample.
    position = controller.run.results.index(kept)
    seed = next(seed for seed in range(100) if position not in spot_draw(ROWS, 5, seed))
    with qtbot.waitSignal(controller.spot_checked, timeout=10000):
        controller.draw_spot_check(5, seed)
    sampled = [batch.spot_table.proxy.result(row) for row in range(batch.spot_table.proxy.rowCount())]
    assert len(sampled) == 5 and len({id(r) for r in sampled}) == 5 and kept not in sampled
    judged = 0
    assert controller.spot_population == ROWS and f"{judged} of 5 drawn items" in batch.spot_report.text()
    dropped = [r for r in first if r not in sampled and r is not kept]

    batch.tabs.setCurrentIndex(1)
    table = batch.table
    table.setFocus()
    qtbot.waitUntil(table.hasFocus)
    # Out of the sample: a row of the replaced sample when there is one (the draws are random).
    outside = next(r for r in [*dropped, *controller.run.results] if r not in sampled and r is not kept)
    inside = next(r for r in reversed(sampled) if r is not kept)
    for result, pressed in ((outside, Qt.Key.Key_Return), (inside, Qt.Key.Key_Return), (kept, Qt.Key.Key_8)):
        table.go_to(next(row for row in range(table.proxy.rowCount()) if table.proxy.result(row) is result))
        key(qtbot, finished, table, pressed)
    assert batch.tabs.currentIndex() == 1  # a verdict on a sampled row does not pull the agent away
    marks = {c.text: c.spot_check for c in read_corrections(corrections_db)}
    # A row once drawn keeps its mark when its verdict changes, in the sample or not.
    assert marks == {outside.row.text: False, inside.row.text: True, kept.row.text: True}
    assert controller.spot_report().checked == 1 + judged and f"{1 + judged} of 5 drawn items" in batch.spot_report.text()


def test_no_sample_before_a_file_has_results(window) -> None:
    assert not window.batch.spot_button.isEnabled()
    assert window.batch_controller.draw_spot_check(10) == 0


def test_calibrating_a_file_from_its_spot_check_rescales_its_scores_and_rebuilds_the_queue(
    qtbot, window, tmp_path: Path, corrections_db: Path, channels: Path
) -> None:
    rows = MIN_VERDICTS + 12
    open_and_run(qtbot, window, write_csv(tmp_path / "tweets.csv", rows))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    batch, controller = window.batch, window.batch_controller
    draw(qtbot, window, rows)
    assert not batch.calibrate_button.isEnabled()
    served = {id(r): r.prediction for r in controller.run.results}
    served_flags = {id(r): r.flagged for r in controller.run.results}
    table = batch.spot_table
    for row in range(MIN_VERDICTS):  # an agent who disagrees with every third answer
        table.go_to(row)
        key(qtbot, window, table, Qt.Key.Key_8 if row % 3 == 0 and table.current_result().prediction.label != "other" else Qt.Key.Key_Return)
    assert batch.calibrate_button.isEnabled()
    before = controller.spot_report()

    with qtbot.waitSignal(controller.calibrated, timeout=10000) as signal:
        qtbot.mouseClick(batch.calibrate_button, Qt.MouseButton.LeftButton)
    calibration = signal.args[0]
    assert calibration.verdicts == MIN_VERDICTS
    for result in controller.run.results:
        original = served[id(result)]
        assert result.prediction.label == original.label
        assert result.prediction.confidence == pytest.approx(rescale(original.scores, calibration.temperature)[original.label])
        assert result.flagged == (result.prediction.confidence < calibration.threshold)
    queue = {id(controller.queue.result(i)) for i in range(controller.queue.rowCount())}
    assert queue == {id(r) for r in controller.run.results if r.flagged and r.verdict is None}
    assert controller.spot_report() == before  # the report speaks of the scores as served
    results = controller.run.results  # the Summary tab speaks of the file as its rows show it now
    totals = batch.summary.totals.text()
    assert f"mean confidence {sum(r.prediction.confidence for r in results) / len(results):.2f}" in totals
    assert f"{sum(r.flagged for r in results) / len(results):.0%} need review" in totals and "scores calibrated by this file's spot check" in totals
    bins = [0] * CONFIDENCE_BINS
    for r in results:
        bins[bin_index(r.prediction.confidence, CONFIDENCE_BINS)] += 1
    assert batch.summary.histogram.counts() == bins and sum(bar.value for bar in batch.summary.labels.bars()) == len(results)
    assert f"temperature {calibration.temperature:.2f}" in batch.spot_report.text()

    table.setFocus()  # the click left it on the button
    qtbot.waitUntil(table.hasFocus)
    # A verdict after calibrating stores what the server sent: a row whose flag the calibration changed, if any.
    unchecked = range(MIN_VERDICTS, table.proxy.rowCount())
    row = next((i for i in unchecked if table.proxy.result(i).flagged != served_flags[id(table.proxy.result(i))]), MIN_VERDICTS)
    table.go_to(row)
    late = table.current_result()
    key(qtbot, window, table, Qt.Key.Key_Return)
    stored = next(c for c in read_corrections(corrections_db) if c.text == late.row.text)
    assert stored.confidence == served[id(late)].confidence and stored.needs_review == served_flags[id(late)]
    assert stored.scores == served[id(late)].scores
    exported = controller.export(tmp_path / "out.jsonl")
    qtbot.waitUntil(lambda: (tmp_path / "out.jsonl").exists(), timeout=10000)
    assert exported is not None
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    by_id = {r.row.id: r for r in controller.run.results}
    assert all(line["confidence"] == pytest.approx(by_id[line["id"]].prediction.confidence, abs=1e-4) for line in lines)

    batch.channel_name.setFocus()  # saved under a channel's name, for the next files of that channel
    qtbot.keyClicks(batch.channel_name, "  Complaint tweets ")
    with qtbot.waitSignal(controller.channel_saved, timeout=10000):
        qtbot.mouseClick(batch.save_channel_button, Qt.MouseButton.LeftButton)
    saved = load_channels(channels)["Complaint tweets"]
    stored = spot_checks(corrections_db)  # the channel is fitted on the store's spot checks: the sample and the late verdict
    assert len(stored) == saved.verdicts == MIN_VERDICTS + 1 and saved.sources == ("tweets.csv",)
    assert saved.files == (file_digest(tmp_path / "tweets.csv"),) and {c.source_digest for c in stored} == set(saved.files)
    assert (saved.temperature, saved.threshold) == fit_on(stored)
    assert saved.model_version == served[id(late)].model_version and batch.channel_box.count() == 1
    assert controller.calibration == saved.calibration and "fitted on 51 spot-check verdicts from 1 file" in batch.note.text()

    open_and_run(qtbot, window, write_csv(tmp_path / "next.csv", 6))  # the next file starts from the model's own scores
    assert controller.calibration is None and controller.spot_model.rowCount() == 0
    assert not batch.calibrate_button.isEnabled() and "Draw a sample" in batch.spot_report.text()
    assert not batch.save_channel_button.isEnabled()  # no spot-check verdict on this file yet
    assert "calibrated" not in batch.summary.totals.text()
    draw(qtbot, window, 6)
    table.setFocus()
    qtbot.waitUntil(table.hasFocus)
    for row in range(5):
        table.go_to(row)
        key(qtbot, window, table, Qt.Key.Key_Return)
    assert batch.save_channel_button.isEnabled() and not batch.calibrate_button.isEnabled()  # too few for this file alone

    batch.channel_name.clear()  # a new channel from five verdicts: refused, nothing saved, the file as served
    qtbot.keyClicks(batch.channel_name, "Forums")
    with qtbot.waitSignal(controller.channel_failed, timeout=10000):
        qtbot.mouseClick(batch.save_channel_button, Qt.MouseButton.LeftButton)
    assert "The channel was not saved: Forums has 5 spot-check verdicts" in batch.note.text()
    assert list(load_channels(channels)) == ["Complaint tweets"] and controller.calibration is None
    assert batch.save_channel_button.isEnabled()

    batch.channel_name.clear()  # the same file under the tweets' name: the channel grows by this file
    qtbot.keyClicks(batch.channel_name, "Complaint tweets")
    table.setFocus()
    qtbot.waitUntil(table.hasFocus)
    table.go_to(5)
    enabled_when_saved: list[bool] = []  # the verdict comes back while the fit is pending: Save stays off
    window.services.corrections.saved.connect(lambda *_: enabled_when_saved.append(batch.save_channel_button.isEnabled()))
    with qtbot.waitSignal(controller.channel_saved, timeout=10000) as signal:
        qtbot.keyClick(table, Qt.Key.Key_Return)  # the sixth verdict, and Save at once: the fit waits for it
        qtbot.mouseClick(batch.save_channel_button, Qt.MouseButton.LeftButton)
    assert signal.args[1] is True and "this file is calibrated by it" in batch.note.text()
    assert enabled_when_saved == [False] and batch.save_channel_button.isEnabled()  # one fit at a time
    grown = load_channels(channels)["Complaint tweets"]
    assert grown.sources == ("next.csv", "tweets.csv") and grown.verdicts == MIN_VERDICTS + 1 + 6
    assert set(grown.files) == {file_digest(tmp_path / "tweets.csv"), file_digest(tmp_path / "next.csv")}
    assert (grown.temperature, grown.threshold) == fit_on(spot_checks(corrections_db))
    assert controller.calibration == grown.calibration and controller.calibration_source == "the channel Complaint tweets"
    for result in controller.run.results:  # this file is now calibrated by the grown channel
        assert result.prediction.confidence == pytest.approx(rescale(controller.served(result).scores, grown.temperature)[result.prediction.label])

    # Saved, then another file opened before the fit is back: the channel is saved, the new file left as served.
    with qtbot.waitSignal(controller.channel_saved, timeout=10000) as signal:
        qtbot.mouseClick(batch.save_channel_button, Qt.MouseButton.LeftButton)
        controller.open(write_csv(tmp_path / "third.csv", 4))
    assert signal.args[1] is False and "the file open now was not changed" in batch.note.text()
    qtbot.waitUntil(lambda: controller.state == "idle" and controller.run.source.name == "third.csv", timeout=20000)
    assert controller.calibration is None and not controller.channel_pending


def spot_checks(db: Path) -> list:
    return [c for c in read_corrections(db) if c.spot_check]


def fit_on(verdicts: list) -> tuple[float, float]:
    fitted = calibrate([c.scores for c in verdicts], [c.final_label for c in verdicts], [c.predicted_label for c in verdicts])
    return fitted.temperature, fitted.threshold


def test_a_saved_channel_calibrates_the_next_file_of_its_model_version_only(qtbot, finished, channels: Path) -> None:
    batch, controller = finished.batch, finished.batch_controller
    version = controller.run.results[0].prediction.model_version
    save_channel(channels, Channel("Forums", 1.7, 0.6, 100, version, "2026-11-29T23:00:00+00:00"))
    save_channel(channels, Channel("Old forums", 1.7, 0.6, 100, version + "-old", "2026-11-01T00:00:00+00:00"))
    batch.reload_channels()
    assert [batch.channel_box.itemText(i).split(" (")[0] for i in range(batch.channel_box.count())] == ["Forums", "Old forums"]
    assert batch.use_channel_button.isEnabled()
    served = {id(r): r.prediction for r in controller.run.results}

    batch.channel_box.setCurrentIndex(1)  # fitted on another model version: refused, nothing changes
    qtbot.mouseClick(batch.use_channel_button, Qt.MouseButton.LeftButton)
    assert controller.calibration is None and "calibrated for model v" in batch.note.text()
    assert all(r.prediction is served[id(r)] for r in controller.run.results)

    batch.channel_box.setCurrentIndex(0)
    with qtbot.waitSignal(controller.calibrated, timeout=10000):
        qtbot.mouseClick(batch.use_channel_button, Qt.MouseButton.LeftButton)
    assert controller.calibration == load_channels(channels)["Forums"].calibration
    for result in controller.run.results:
        original = served[id(result)]
        assert result.prediction.confidence == pytest.approx(rescale(original.scores, 1.7)[original.label])
        assert result.flagged == (result.prediction.confidence < 0.6)
    assert "calibrated by the channel Forums (100 spot-check verdicts, temperature 1.70" in batch.spot_report.text()
    totals = batch.summary.totals.text()
    assert "scores calibrated by the channel Forums" in totals and f"{sum(r.flagged for r in controller.run.results) / ROWS:.0%} need review" in totals


def test_rows_classified_after_a_calibration_join_the_calibrated_summary(qtbot, make_window, server, key_file: Path, tmp_path: Path, channels: Path) -> None:
    """Cancel a run midway, calibrate the file by a channel, resume: the rows that come later are
    calibrated as they come, and the Summary counts every row as the table shows it."""
    urls = server["urls"]
    window = make_window(urls["inference"], urls["management"], key_file, chunk_size=8)
    controller, batch = window.batch_controller, window.batch
    window.tabs.setCurrentWidget(batch)
    with qtbot.waitSignal(controller.loaded, timeout=20000):
        drop_file(batch, write_csv(tmp_path / "big.csv", ROWS_BIG))
    with qtbot.waitSignal(controller.progressed, timeout=30000):
        qtbot.mouseClick(batch.run_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(controller.state_changed, timeout=30000, check_params_cb=lambda state: state == "cancelled"):
        qtbot.mouseClick(batch.cancel_button, Qt.MouseButton.LeftButton)
    kept = controller.model.rowCount()
    assert 0 < kept < ROWS_BIG
    version = controller.run.results[0].prediction.model_version
    save_channel(channels, Channel("Forums", 2.2, 0.7, 100, version, "2026-11-30T00:00:00+00:00"))
    batch.reload_channels()
    with qtbot.waitSignal(controller.calibrated, timeout=10000):
        qtbot.mouseClick(batch.use_channel_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(controller.state_changed, timeout=60000, check_params_cb=lambda state: state == "finished"):
        qtbot.mouseClick(batch.resume_button, Qt.MouseButton.LeftButton)

    results = controller.run.results
    assert len(results) == ROWS_BIG
    for result in results:  # the rows before the channel and after it alike
        served = controller.served(result)
        assert result.prediction.confidence == pytest.approx(rescale(served.scores, 2.2)[served.label])
        assert result.flagged == (result.prediction.confidence < 0.7)
    totals = batch.summary.totals.text()
    assert totals.startswith(f"{ROWS_BIG} classified") and "scores calibrated by the channel Forums" in totals
    assert f"mean confidence {sum(r.prediction.confidence for r in results) / ROWS_BIG:.2f}" in totals
    assert f"{sum(r.flagged for r in results) / ROWS_BIG:.0%} need review" in totals
    assert sum(batch.summary.histogram.counts()) == ROWS_BIG
