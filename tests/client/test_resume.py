"""A batch stopped by the server keeps its results, says what to do, and resumes where it stopped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests
from drive import drop_file, write_csv
from PySide6.QtCore import Qt

from client.core.instance import read_key
from training.config import ServeConfig

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory, model_store: Path, start_server):
    """A server of this module's own: the test rotates its inference key, and a rotated key
    cannot be given back, so the session server's key stays what other tests read."""
    from training import serve

    state = tmp_path_factory.mktemp("resume-server") / "state"
    config, instance = start_server(lambda base: ServeConfig(state_dir=state, port_base=base, model_store=model_store, timeout=180))
    yield instance
    serve.stop(config)


def rotate_inference_key(server) -> None:
    """What an admin does with TorchServe's token API: the old inference key stops working at once."""
    api_key = read_key(Path(server["key_file"]), "API")
    response = requests.post(f"{server['urls']['management']}/token?type=inference", headers={"Authorization": f"Bearer {api_key}"}, timeout=30)
    response.raise_for_status()


def test_key_refused_mid_batch_keeps_results_and_resume_finishes_without_repeats(qtbot, make_window, own_server, tmp_path: Path) -> None:
    server = own_server
    key_file = Path(shutil.copy(server["key_file"], tmp_path / "key_file.json"))
    urls = server["urls"]
    window = make_window(urls["inference"], urls["management"], key_file, chunk_size=8)
    controller, batch, log = window.batch_controller, window.batch, window.request_log
    window.tabs.setCurrentWidget(batch)
    with qtbot.waitSignal(controller.loaded, timeout=20000):
        drop_file(batch, write_csv(tmp_path / "export.csv", 300))
    rotated = []

    def rotate_once(*_args: object) -> None:
        if not rotated:
            rotated.append(True)
            rotate_inference_key(server)

    controller.progressed.connect(rotate_once)
    with qtbot.waitSignal(controller.state_changed, timeout=60000, check_params_cb=lambda state: state == "interrupted"):
        qtbot.mouseClick(batch.run_button, Qt.MouseButton.LeftButton)

    kept = controller.model.rowCount()
    assert 0 < kept < 300
    assert window.banner.isVisible() and "refused the inference key" in window.banner.message.text()
    assert "key file" in window.banner.hint.text()
    assert window.banner.resume.isVisible() and batch.resume_button.isVisible()
    assert batch.note.text().startswith(f"Stopped by a server problem after {kept} of 300 rows")

    shutil.copy(server["key_file"], key_file)  # the agent points the app at the current key file
    sent_before = log.rowCount()
    with qtbot.waitSignal(controller.state_changed, timeout=60000, check_params_cb=lambda state: state == "finished"):
        qtbot.mouseClick(window.banner.resume, Qt.MouseButton.LeftButton)
    assert not window.banner.isVisible()
    assert controller.model.rowCount() == 300
    assert sorted(controller.model.result(i).row.line for i in range(300)) == list(range(2, 302))  # every row once
    resumed = [int(log.index(row, 2).data()) for row in range(sent_before, log.rowCount()) if log.index(row, 4).data() == "200"]
    assert sum(resumed) == 300 - kept  # nothing was classified twice
