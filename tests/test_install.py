"""A plain (non-editable) install works outside the checkout: the handler and the TorchServe
template are package data, and nothing is looked up relative to the clone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.server


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "training.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_installed_copy_archives_serves_and_classifies_from_outside_the_checkout(tmp_path: Path, tiny_model, new_port_base) -> None:
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stderr
    assert (target / "handler" / "feedback_handler.py").exists() and (target / "training" / "config.properties").exists()
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "XDG_DATA_HOME": str(tmp_path / "data"), "FEEDBACK_STATE_DIR": str(tmp_path / "state")}
    for var in ("FEEDBACK_MODELS_DIR", "FEEDBACK_MODEL_STORE"):
        env.pop(var, None)  # the installed copy must choose its own writable places
    where = subprocess.run([sys.executable, "-c", "import training.paths as p; print(p.checkout_root(), p.model_store_dir())"], cwd=work, env=env, capture_output=True, text=True)
    assert where.stdout.split() == ["None", str(tmp_path / "data" / "feedback-analyzer" / "model_store")], where.stderr

    archived = run(["archive", "--model", str(tiny_model.out_dir), "--archive-format", "zip-store"], work, env)
    assert archived.returncode == 0, archived.stderr
    assert Path(archived.stdout.strip()).parent == tmp_path / "data" / "feedback-analyzer" / "model_store"
    started = run(["serve", "start", "--port-base", str(new_port_base())], work, env)
    try:
        assert started.returncode == 0, started.stderr
        classified = run(["classify", "The app crashes every time I open the camera"], work, env, timeout=120)
        assert classified.returncode == 0, classified.stderr
        result = json.loads(classified.stdout.splitlines()[0])
        assert result["label"] in json.loads((tiny_model.out_dir / "config.json").read_text())["id2label"].values()
        assert 0.0 <= result["confidence"] <= 1.0 and result["model_version"] == "1"
    finally:
        stopped = run(["serve", "stop"], work, env)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
