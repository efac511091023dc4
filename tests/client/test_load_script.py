"""The load script's quick mode, run as a user runs it, on the tiny model's real archive:
the JSON has every figure the docs quote and no request failed (its speed is not checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]


def test_quick_load_run_reports_latency_rss_and_no_unexpected_failures(model_store: Path, tmp_path: Path) -> None:
    from training.serve import choose_archive

    out = tmp_path / "load.json"
    archive = model_store / choose_archive(model_store)
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "load_test.py"), "--quick", "--archive", str(archive), "--json", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())

    assert report["requests"] == report["sent"] == report["ok"] == 500 and not report["stopped_early"]
    assert report["concurrency"] == 32 and report["archive"] == archive.name
    assert report["failures"] == {"unexpected": 0, "gave_up_after_503": 0, "by_kind": {}}
    assert report["back_pressure"]["attempts"]["200"] == 500  # one answer per request, none twice
    lat = report["latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"] and report["items_per_s"] > 0
    quarters = report["rss"]["quarters"]
    assert len(quarters) == 4 and all(q["samples"] >= 1 and q["total_mb"] > 0 and q["workers"] >= 1 for q in quarters)
    assert isinstance(report["rss"]["growth_pct"], float)
    assert report["server"]["minWorkers"] >= 1
    assert "p50" in result.stdout and "RSS MB by quarter" in result.stdout
