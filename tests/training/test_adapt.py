"""The adapt-curve simulation's pure parts and the fast retrain recipe."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from training.adapt import Point, already_trained_on, curve_table, fast_retrain_settings, group_sources, sample_corrections
from training.config import AdaptConfig, RetrainConfig, TrainConfig
from client.core.errors import DataError
from training.data import Example
from training.retrain import new_version_config


def items(source: str | None, n: int, labels=("bug", "question", "complaint")) -> list[Example]:
    return [Example(f"{source or 'dev-a'}-{i:04d}", f"text {i} from {source}", labels[i % len(labels)], source=source) for i in range(n)]


def test_sources_come_from_the_source_field_or_the_id_prefix():
    groups = group_sources(items("tizard:forum/1", 4) + items("scalabrino", 3) + items(None, 2))
    assert {name: len(v) for name, v in groups.items()} == {"tizard": 4, "scalabrino": 3, "dev-a": 2}


def test_a_simulated_agent_corrects_k_items_stratified_and_scores_the_rest():
    pool = items("tizard", 90)
    corrected, rest = sample_corrections(pool, 30, seed=1)
    assert len(corrected) == 30 and len(rest) == 60
    assert Counter(e.label for e in corrected) == {"bug": 10, "question": 10, "complaint": 10}
    assert not {e.id for e in corrected} & {e.id for e in rest}
    assert sample_corrections(pool, 30, seed=1)[0] == corrected and sample_corrections(pool, 30, seed=2)[0] != corrected


def test_fast_retrain_continues_briefly_on_a_replayed_sample(tmp_path: Path):
    fast = new_version_config(RetrainConfig(fast=True, replay=600, fast_epochs=2.0), tmp_path / "v2", 2)
    full = new_version_config(RetrainConfig(), tmp_path / "v2", 2)
    assert (fast.max_train_items, fast.epochs, fast.learning_rate) == (600, 2.0, RetrainConfig.fast_learning_rate)
    assert fast.freeze_layers == RetrainConfig.fast_freeze
    assert fast.token_mask == 0 and full.token_mask == TrainConfig().token_mask > 0  # a full retrain is feedback train's recipe
    assert full.max_train_items is None and full.epochs > fast.epochs and full.freeze_layers == 0
    with pytest.raises(ValueError, match="--fast continues from the current version"):
        RetrainConfig(fast=True, start_from="base")


def test_a_fast_retrain_reads_text_as_the_current_version_does(tmp_path: Path):
    card = {"hyperparameters": {"clean_inbox": True, "head_share": 0.75, "window_step": 0.5}}
    fast = new_version_config(RetrainConfig(fast=True), tmp_path / "v2", 2, card)
    assert (fast.clean_inbox, fast.head_share, fast.window_step) == (True, 0.75, 0.5)
    assert new_version_config(RetrainConfig(fast=True), tmp_path / "v2", 2, {"hyperparameters": {}}).window_step == 0  # an older card
    for step in (-0.1, 1.5):
        with pytest.raises(ValueError, match="window_step must be between 0"):
            TrainConfig(window_step=step)


def test_each_round_replays_the_training_data_it_is_given(tmp_path: Path):
    """A model trained without some of our parts is adapted to them with a replay that leaves them out too."""
    reduced = tmp_path / "without_p9.jsonl"
    settings = fast_retrain_settings(AdaptConfig(train_data=reduced, replay=300, fast_epochs=1.0))
    assert settings.fast and (settings.data, settings.replay, settings.fast_epochs) == (reduced, 300, 1.0)
    assert new_version_config(settings, tmp_path / "v2", 2).data == reduced
    assert fast_retrain_settings(AdaptConfig()).data == RetrainConfig().data  # by default, our whole training file


def test_items_the_replay_would_teach_are_found_whatever_their_case_and_spacing():
    ours = [Example("p9-1", "The CLI  crashes on start", "bug"), Example("p1-1", "love it", "praise"), Example("p1-2", "👍", "other")]
    simulated = [Example("x-1", "the cli crashes on start", "bug"), Example("x-2", "where is the export button?", "question"), Example("x-3", "😂😂", "other")]
    assert [e.id for e in already_trained_on(simulated, ours)] == ["x-1"]
    assert already_trained_on(simulated, ours[1:]) == []
    assert [e.id for e in already_trained_on([Example("x-4", " 👍", "other")], ours)] == ["x-4"]  # the same emoji-only text


def test_curve_table_averages_seeds_and_counts_promotions():
    points = [Point("tizard", 50, s, 0.5, 0.5 + 0.1 * (s + 1), 100, s == 0, [], 2.0, before_ece=0.3, after_ece=0.1 + 0.1 * s) for s in range(2)]
    table = curve_table(points)
    assert "| tizard | 50 | 2 | 0.500 | 0.650 | +15.0 | 0.300 | 0.150 | 1/2 | 2.0 |" in table
    # A run saved before the calibration error was kept shows none for its row, not a mean of some seeds.
    older = Point("tizard", 50, 2, 0.5, 0.9, 100, True, [], 2.0)
    assert "| tizard | 50 | 3 | 0.500 | 0.733 | +23.3 | - | - | 2/3 | 2.0 |" in curve_table([*points, older])


def test_adapt_config_refuses_bad_k_lists():
    assert AdaptConfig(ks="200, 25,50").k_values == [25, 50, 200]
    with pytest.raises(ValueError, match="ks must list positive integers"):
        AdaptConfig(ks="many")
    with pytest.raises(ValueError, match="first_seed >= 0"):
        AdaptConfig(first_seed=-1)
    with pytest.raises(ValueError, match="fast_freeze >= 0"):
        AdaptConfig(fast_freeze=-1)
    with pytest.raises(ValueError, match="fast_freeze >= 0"):
        RetrainConfig(fast=True, fast_freeze=-1)
    with pytest.raises(ValueError, match="alpha"):  # before the model loads, not in the middle of a run
        AdaptConfig(gate_alpha=0)


@pytest.mark.slow
def test_a_simulated_round_trains_in_a_scratch_folder_and_reports_the_gate(tiny_model, tmp_path: Path):
    """One real fast retrain from the session's tiny model on a small hand-made source."""
    import json

    from training.adapt import run_adapt_curve

    texts = {
        "bug": ["the export button crashes the app", "login fails with error 500 since today", "sync deletes my notes on android",
                "the invoice page shows someone else's total", "photos upload at 0 bytes", "app freezes when I rotate the phone"],
        "feature_request": ["please add a dark mode", "let us export reports to csv", "could you support two factor login",
                            "would love a widget for the home screen", "add a way to mute a channel", "please allow bulk delete"],
    }
    rows = [{"id": f"src-{label}-{i}", "text": t, "label": label, "source": "handmade"} for label, ts in texts.items() for i, t in enumerate(ts)]
    data = tmp_path / "source.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "curve.json"
    models_before = sorted(p.name for p in tiny_model.out_dir.parent.iterdir())
    points = run_adapt_curve(AdaptConfig(data=data, model=tiny_model.out_dir, ks="4", seeds=1, first_seed=2, min_source=8, replay=40, fast_epochs=1.0, out=out))
    assert len(points) == 1 and (points[0].k, points[0].seed, points[0].rest_n) == (4, 2, 8)
    assert 0.0 <= points[0].before_macro_f1 <= 1.0 and 0.0 <= points[0].after_macro_f1 <= 1.0
    # "before" is the current model's calibration error on the items the agent did not correct.
    from training.adapt import sample_corrections
    from training.data import load_examples
    from training.evaluate import evaluate_predictions
    from training.inference import load_model, predict_proba

    _, rest = sample_corrections(load_examples(data), 4, 2)
    expected = evaluate_predictions([e.label for e in rest], predict_proba(load_model(tiny_model.out_dir), [e.text for e in rest])).ece
    assert points[0].before_ece == pytest.approx(expected, abs=1e-4) and 0.0 <= points[0].after_ece <= 1.0
    assert isinstance(points[0].promoted, bool) and (points[0].promoted or points[0].reasons)
    assert json.loads(out.read_text())[0]["source"] == "handmade"
    assert json.loads(out.read_text())[0]["gate_alpha"] == AdaptConfig.gate_alpha  # which gate decided is kept with the curve
    assert json.loads(out.read_text())[0]["settings"]["fast_epochs"] == 1.0  # and what the rounds were trained with
    assert sorted(p.name for p in tiny_model.out_dir.parent.iterdir()) == models_before  # nothing kept beside the model


def test_saved_curves_are_shown_together_as_a_table_and_a_plot(tmp_path: Path, capsys):
    """``--from-json`` joins runs made apart (seeds added later) without simulating again."""
    import json

    from training.cli import main

    def saved_before_the_ece_was_kept(point: Point) -> dict:
        return {key: value for key, value in point.__dict__.items() if key not in ("before_ece", "after_ece")}

    first = [saved_before_the_ece_was_kept(Point("tweets", 100, 0, 0.45, 0.65, 107, True, [], 1.5))]
    later = [saved_before_the_ece_was_kept(Point("tweets", 100, s, 0.46, 0.60, 107, False, ["recall dropped"], 1.4)) for s in (1, 2)]
    files = [tmp_path / "a.json", tmp_path / "b.json", tmp_path / "b-again.json"]  # the last repeats seed 2: counted once
    for path, rows in zip(files, (first, later, later[1:])):
        path.write_text(json.dumps(rows), encoding="utf-8")
    plot = tmp_path / "curve.png"
    assert main(["adapt-curve", "--from-json", ",".join(map(str, files)), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "| tweets | 100 | 3 | 0.457 | 0.617 | +16.0 | - | - | 1/3 | 1.4 |" in out  # saved before the ECE was kept
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    assert main(["adapt-curve", "--from-json", str(tmp_path / "bad.json")]) != 0
    assert "not a curve written by" in capsys.readouterr().err


def test_curves_made_with_other_settings_are_not_averaged_together(tmp_path: Path):
    import json

    from training.adapt import load_points, round_settings

    b, e3 = round_settings(AdaptConfig()), round_settings(AdaptConfig(fast_epochs=3.0))
    files = {name: tmp_path / f"{name}.json" for name in ("b0", "b1", "e3", "old")}
    for name, seed, settings in (("b0", 0, b), ("b1", 1, b), ("e3", 2, e3), ("old", 3, None)):
        files[name].write_text(json.dumps([Point("p9", 100, seed, 0.8, 0.9, 60, True, [], 2.0, 0.05, settings).__dict__]), encoding="utf-8")
    assert [p.seed for p in load_points([files["b0"], files["b1"], files["old"]])] == [0, 1, 3]  # a run from before settings were kept joins
    with pytest.raises(DataError, match="e3.json: made with other fast-retrain settings.*fast_epochs"):
        load_points([files["b0"], files["e3"]])
    assert round_settings(AdaptConfig(train_data=tmp_path / "x.jsonl"))["train_data"] == str(tmp_path / "x.jsonl")


def test_parts_left_out_become_sources_and_may_not_take_test_items(load_script):
    """scripts/leave_parts_out.py: the shift the fast settings are checked on (docs/ADAPT_CURVE.md)."""
    script = load_script("leave_parts_out")
    rows = [{"id": "p9-0001", "text": "a", "label": "bug"}, {"id": "p1-0001", "text": "b", "label": "praise"},
            {"id": "p10-0002", "text": "c", "label": "other"}, {"id": "p90-0001", "text": "d", "label": "bug"}]
    kept, held = script.leave_out(rows, {"p9", "p10"}, test_ids={"p1-0001"})
    assert [r["id"] for r in kept] == ["p1-0001", "p90-0001"]  # p90 is not p9
    assert [(r["id"], r["source"]) for r in held] == [("p9-0001", "p9"), ("p10-0002", "p10")]
    assert "source" not in rows[0]  # the caller's rows are not changed
    with pytest.raises(SystemExit, match="1 item.*in the test split, e.g. 'p9-0001'"):
        script.leave_out(rows, {"p9"}, test_ids={"p9-0001"})
