"""The serving-grid script, run as a user runs it on the tiny model: one setting per axis,
its own TorchServe archived with exactly that setting; the JSON has a positive figure for
every column (its speed is not checked)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]


def test_one_grid_point_is_served_with_its_own_settings_and_measured(tiny_model, tmp_path: Path) -> None:
    out = tmp_path / "grid.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "serving_grid.py"), "--model", str(tiny_model.out_dir), "--grid", "1x1", "--batches", "4",
         "--delays", "5", "--runtimes", "onnx", "--inference-batches", "8", "--n-texts", "16", "--requests", "32", "--in-flight", "2", "--file-lines", "40", "--json", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    [row] = report["rows"]
    assert (row["workers"], row["threads"], row["batch_size"], row["max_batch_delay"], row["runtime"], row["inference_batch_size"]) == (1, 1, 4, 5, "onnx", 8)
    assert row["served"] == {"workers": 1, "batch_size": 4, "max_batch_delay": 5}  # as TorchServe reports it
    figures = [value for key, value in row.items() if key.endswith(("_ms", "_per_s"))]
    assert len(figures) == 7 and "file_in_flight_2_items_per_s" in row and all(math.isfinite(v) and v > 0 for v in figures)
    assert row["single_c1_handler_ms"] < row["single_c1_p50_ms"]  # the handler's share of one text's round trip
    assert "| onnx | 8 | 1x1 | 4 | 5 |" in result.stdout


def test_the_forward_pass_script_times_each_size_on_the_model(tiny_model, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "forward_pass.py"), "--model", str(tiny_model.out_dir), "--texts", str(ROOT / "training" / "data" / "dev.jsonl"),
         "--n-texts", "12", "--sizes", "4,8", "--repeats", "2", "--threads", "1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split("|")[1].strip(): [float(x) for x in line.split("|")[2:-1]] for line in result.stdout.splitlines() if line.startswith("| ") and line.split("|")[1].strip().isdigit()}
    assert set(rows) == {"4", "8"} and all(len(rates) == 2 and all(r > 0 for r in rates) for rates in rows.values())


def test_the_grid_measures_batch_size_one_at_one_delay_only(load_script) -> None:
    grid = load_script("serving_grid")
    points = grid.grid_points(["onnx"], [16], [(1, 2)], [1, 8], [5, 20])
    assert [(batch, delay) for *_, batch, delay in points] == [(1, 5), (8, 5), (8, 20)]
