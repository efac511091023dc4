"""No server: the app starts, says what to do, and Retry recovers once the server is there."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from drive import closed_port
from PySide6.QtCore import Qt

pytestmark = pytest.mark.server


def test_closed_port_shows_the_start_hint_and_retry_recovers(qtbot, make_window, server, key_file: Path) -> None:
    port = closed_port()
    window = make_window(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}", key_file)
    banner = window.banner
    assert banner.isVisible()
    assert banner.message.text() == f"TorchServe is not reachable at http://127.0.0.1:{port}"
    assert banner.hint.text().startswith("Start it with `feedback serve start`")
    assert banner.retry.isVisible() and not banner.resume.isVisible()
    assert window.server_state.text() == "Server: not usable"

    window.single.editor.setPlainText("Where can I download my invoices?")
    with qtbot.waitSignal(window.services.server_failed, timeout=30000):
        qtbot.mouseClick(window.single.classify_button, Qt.MouseButton.LeftButton)
    assert window.single.status.text().startswith("Not classified: TorchServe is not reachable")
    assert window.single.classify_button.isEnabled()

    # The agent starts the server (here: the session's) and fixes the URLs in Settings, then presses Retry.
    urls = server["urls"]
    window.services.settings = replace(window.services.settings, inference_url=urls["inference"], management_url=urls["management"])
    with qtbot.waitSignal(window.services.server_checked, timeout=20000) as checked:
        qtbot.mouseClick(banner.retry, Qt.MouseButton.LeftButton)
    assert checked.args[0].ok
    assert not banner.isVisible()
    assert window.server_state.text().startswith("Server: model v")
