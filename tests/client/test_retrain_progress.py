"""The Retrain tab's progress bar: the trainer's callback writes the line the tab reads."""

from __future__ import annotations

import logging

import pytest

from client.core.training_progress import parse_progress, progress_line
from client.ui.retrain_panel import RetrainPanel, split_stderr


def test_the_trainer_callback_logs_lines_the_app_reads(caplog: pytest.LogCaptureFixture) -> None:
    transformers = pytest.importorskip("transformers")
    from training.progress import ProgressLogger

    callback = ProgressLogger(every=0.0)
    state = transformers.TrainerState(max_steps=12)
    control = transformers.TrainerControl()
    with caplog.at_level(logging.INFO, logger="training.progress"):
        callback.on_train_begin(None, state, control)
        for step in (1, 6, 12):
            state.global_step = step
            callback.on_step_end(None, state, control)
    reports = [parse_progress(f"2026-01-01 10:00:00 INFO training.progress: {r.getMessage()}") for r in caplog.records]
    assert [(p.step, p.total) for p in reports] == [(0, 12), (1, 12), (6, 12), (12, 12)]
    assert reports[-1].seconds_left == 0


def test_progress_bar_shows_steps_and_time_left_and_the_log_drops_tqdm_redraws(qtbot, tmp_path) -> None:
    stderr = (
        "2026-01-01 10:00:00 INFO training.retrain: retraining from v1 with 2 corrections\n"
        " 40%|████      | 4/10 [00:03<00:05,  1.2it/s]\r 50%|█████     | 5/10 [00:04<00:04,  1.2it/s]\r"
        f"2026-01-01 10:00:04 INFO training.progress: {progress_line(5, 10, 20.0)}\n"
        "{'eval_loss': 1.9, 'epoch': 1.0}\n"
    )
    progress, lines = split_stderr(stderr)
    assert [(p.step, p.total, p.elapsed) for p in progress] == [(5, 10, 20.0)]
    assert lines == ["2026-01-01 10:00:00 INFO training.retrain: retraining from v1 with 2 corrections", "{'eval_loss': 1.9, 'epoch': 1.0}"]

    panel = RetrainPanel(tmp_path / "corrections.sqlite3")
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.progressed):
        panel.show_progress(progress[0])
    assert (panel.progress.value(), panel.progress.maximum()) == (5, 10)
    assert panel.progress.format() == "Training: step 5 of 10 · 0:20 left"
    assert panel.progress.accessibleName() == "Training progress"
