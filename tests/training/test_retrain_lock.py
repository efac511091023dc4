"""The retrain lock against another live process, and after that process is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from client.core.errors import FeedbackError
from training.retrain import retrain_lock

HOLD = """
import sys, time
from pathlib import Path
from training.retrain import retrain_lock
with retrain_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(120)
"""


def _holder(models_dir: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(models_dir)], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_live_retrain_elsewhere_is_named_and_refused(tmp_path):
    proc = _holder(tmp_path)
    try:
        with pytest.raises(FeedbackError) as refused:
            with retrain_lock(tmp_path):
                pass
        assert f"pid {proc.pid}" in refused.value.message and "wait" in refused.value.hint
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_retrain_leaves_no_stale_lock(tmp_path):
    proc = _holder(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (tmp_path / ".retrain.lock").exists()  # the pid note is left behind, the OS lock is not
    deadline = time.monotonic() + 10
    while True:
        try:
            with retrain_lock(tmp_path):
                assert (tmp_path / ".retrain.lock").read_text() == str(os.getpid())
            break
        except FeedbackError:
            assert time.monotonic() < deadline, "the killed holder's lock was never released"
            time.sleep(0.1)
    assert not (tmp_path / ".retrain.lock").exists()
