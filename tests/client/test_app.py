"""``python -m client`` starts without a server, shows the banner, and stays open."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from drive import closed_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_python_m_client_starts_without_a_server_and_keeps_running(qtbot, tmp_path: Path) -> None:
    port = closed_port()
    config = tmp_path / "config" / "feedback-analyzer"
    config.mkdir(parents=True)
    (config / "client.ini").write_text(f"[General]\ninference_url=http://127.0.0.1:{port}\nmanagement_url=http://127.0.0.1:{port}\n")
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        FEEDBACK_STATE_DIR=str(tmp_path / "state"),
        FEEDBACK_CORRECTIONS_DB=str(tmp_path / "corrections.sqlite3"),
    )
    log = tmp_path / "state" / "client.log"
    process = subprocess.Popen([sys.executable, "-m", "client"], cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        qtbot.waitUntil(lambda: log.exists() and "banner: TorchServe is not reachable" in log.read_text(), timeout=30000)
        assert process.poll() is None, process.stderr.read().decode(errors="replace")
        assert f"http://127.0.0.1:{port}" in log.read_text()
    finally:
        process.terminate()
        process.wait(timeout=30)
