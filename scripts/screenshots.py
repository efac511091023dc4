"""Render the real app offscreen into PNG screenshots for the docs.

    python scripts/screenshots.py                      # the running local server (`feedback serve start`)
    python scripts/screenshots.py --inference http://127.0.0.1:8080 --management http://127.0.0.1:8081 --key-file KEY
    python scripts/screenshots.py --start-server       # a temporary TorchServe from model_store/ on port 38080

The app runs with a temporary settings file, corrections store and log, so the screenshots
never touch the user's. Writes single.png, explanation.png, batch_results.png,
review_queue.png, keyboard.png, batch_summary.png, spot_check.png, batch_errors.png, dashboard.png,
drift.png and server_down.png into docs/screenshots/.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from PySide6.QtCore import QEventLoop, QSettings, QTimer, SignalInstance  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from training import paths  # noqa: E402

logger = logging.getLogger("screenshots")
SIZE = (1280, 860)
EXPLAINED_ROW = 9  # the row of samples/support_export.csv whose explanation explanation.png shows
SINGLE_TEXT = "Since the last update the app logs me out every time I switch to another app, and my draft is gone. Pixel 7, Android 15."


def wait_for(signal: SignalInstance, timeout_s: float = 120.0, accept=lambda *args: True) -> tuple:  # noqa: ANN001
    """Run the event loop until ``signal`` fires with arguments ``accept`` likes."""
    loop, got = QEventLoop(), []

    def fired(*args: object) -> None:
        if not got and accept(*args):
            got.append(args)
            loop.quit()

    # Never disconnected: PySide6 6.12.0's disconnect() drops a reference to True (see client/signals.py).
    signal.connect(fired)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    if not got:
        raise SystemExit(f"timed out after {timeout_s:g} s waiting for {signal}")
    return got[0]


def settle(ms: int = 300) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def save(widget: QWidget, out: Path, name: str, over: QWidget | None = None) -> None:
    """``widget`` as it is drawn; ``over`` (a dialog) drawn at its centre as the window manager
    would show it (offscreen windows are grabbed one at a time)."""
    settle()
    path = out / name
    picture = widget.grab()
    if over is not None:
        from PySide6.QtGui import QPainter

        on_top = over.grab()
        painter = QPainter(picture)
        painter.drawPixmap((picture.width() - on_top.width()) // 2, (picture.height() - on_top.height()) // 2, on_top)
        painter.end()
    picture.save(str(path))
    print(f"wrote {path}", file=sys.stderr)


@contextmanager
def temporary_server(model_store: Path, port_base: int, work: Path) -> Iterator[dict]:
    from training import serve
    from training.config import ServeConfig

    config = ServeConfig(state_dir=work / "server", port_base=port_base, model_store=model_store, timeout=300)
    instance = serve.start(config)
    try:
        yield instance
    finally:
        serve.stop(config)


def make_window(work: Path, inference: str, management: str, key_file: Path):  # noqa: ANN201
    from client.ui.window import MainWindow

    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
    for name, value in {"inference_url": inference, "management_url": management, "key_file": str(key_file), "agent": "Dana", "review_threshold": 0.6}.items():
        settings.setValue(name, value)
    window = MainWindow(settings, work / "corrections.sqlite3", work / "client.log")
    window.resize(*SIZE)
    window.show()
    return window


def shoot(out: Path, work: Path, inference: str, management: str, key_file: Path) -> None:
    window = make_window(work, inference, management, key_file)
    status = wait_for(window.services.server_checked)[0]
    if not status.ok:
        raise SystemExit(f"the server is not usable: {status.message} ({status.hint})")

    window.single.editor.setPlainText(SINGLE_TEXT)
    window.single.classify()
    wait_for(window.single.shown)
    wait_for(window.single.explained)
    save(window, out, "single.png")

    window.tabs.setCurrentWidget(window.batch)
    window.batch.open_file(REPO / "samples" / "support_export.csv")
    wait_for(window.batch_controller.loaded)
    window.batch.run_button.click()
    wait_for(window.batch_controller.state_changed, accept=lambda state: state == "finished")
    controller = window.batch_controller
    for i in (2, 5):  # two verdicts, so the Agent label column shows what a correction looks like
        result = controller.filtered.result(i)
        controller.save_verdict(result, "complaint" if result.prediction.label != "complaint" else "bug")
        wait_for(window.services.corrections.saved)
    window.batch.tabs.setCurrentIndex(1)
    save(window, out, "batch_results.png")
    table = window.batch.table
    table.setFocus()
    table.setCurrentIndex(table.model().index(EXPLAINED_ROW, 0))
    wait_for(window.batch.results_detail.explained)
    save(window, out, "explanation.png")
    window.batch.tabs.setCurrentIndex(2)
    save(window, out, "review_queue.png")
    window.show_shortcuts()
    save(window, out, "keyboard.png", over=window.shortcuts_sheet)
    window.shortcuts_sheet.close()
    window.batch.tabs.setCurrentWidget(window.batch.summary)
    save(window, out, "batch_summary.png")
    shoot_spot_check(window, out)

    window.batch_controller.export(work / "support_export-classified.csv")  # nothing unsaved: no close prompt
    wait_for(window.batch_controller.exported)
    window.batch.open_file(REPO / "samples" / "messy_export.csv")
    wait_for(window.batch_controller.loaded)
    window.batch.run_button.click()
    wait_for(window.batch_controller.state_changed, accept=lambda state: state == "finished")
    window.batch.tabs.setCurrentWidget(window.batch.errors)
    save(window, out, "batch_errors.png")

    window.tabs.setCurrentWidget(window.dashboard)
    window.dashboard.refresh()
    wait_for(window.dashboard.refreshed)
    save(window, out, "dashboard.png")
    for sample in ("app_reviews.jsonl", "survey_comments.txt"):  # more of today's traffic for the drift view
        window.tabs.setCurrentWidget(window.batch)
        window.batch_controller.export(work / f"{sample}-classified.csv")
        wait_for(window.batch_controller.exported)
        window.batch.open_file(REPO / "samples" / sample)
        wait_for(window.batch_controller.loaded)
        window.batch.run_button.click()
        wait_for(window.batch_controller.state_changed, accept=lambda state: state == "finished")
    window.batch_controller.export(work / "last-classified.csv")
    wait_for(window.batch_controller.exported)
    window.tabs.setCurrentWidget(window.dashboard)
    drift = window.dashboard.drift
    drift.refresh()
    wait_for(drift.refreshed)
    from PySide6.QtWidgets import QScrollArea

    scroll = window.dashboard.findChild(QScrollArea)
    scroll.verticalScrollBar().setValue(drift.y())  # the Drift group at the top of the view
    save(window, out, "drift.png")
    window.shutdown()
    window.close()
    window.deleteLater()

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    down = make_window(work / "down", closed, closed, key_file)
    wait_for(down.services.server_checked)
    save(down, out, "server_down.png")
    down.shutdown()
    down.close()
    down.deleteLater()
    settle()  # let Qt delete both windows before Python finalizes (PySide6 may crash otherwise)


def shoot_spot_check(window, out: Path) -> None:  # noqa: ANN001
    """The Spot check tab: the whole sample file drawn, 24 verdicts given. The verdicts are the
    script's, for the picture (the model's label kept, every fourth one changed), not a
    measurement: the figures in the report are whatever they make."""
    controller = window.batch_controller
    window.batch.spot_size.setValue(controller.model.rowCount())
    window.batch.draw_spot_check()
    wait_for(controller.spot_checked)
    table = window.batch.spot_table
    for row in range(24):
        result = table.proxy.result(row)
        label = result.prediction.label if row % 4 else next(l for l in ("question", "complaint") if l != result.prediction.label)
        controller.save_verdict(result, label)
        wait_for(window.services.corrections.saved)
    window.batch.channel_name.setText("Support inbox")
    table.go_to(24)
    settle()
    save(window, out, "spot_check.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inference", help="inference URL (default: the local instance's, else http://127.0.0.1:8080)")
    parser.add_argument("--management", help="management URL (default: the local instance's, else http://127.0.0.1:8081)")
    parser.add_argument("--key-file", type=Path, help="TorchServe key_file.json (default: the local instance's)")
    parser.add_argument("--start-server", action="store_true", help="start a temporary TorchServe from --model-store")
    parser.add_argument("--model-store", type=Path, default=paths.model_store_dir(), help="archives for --start-server (default: %(default)s)")
    parser.add_argument("--port-base", type=int, default=38080, help="inference port of --start-server; +1 management, +2 metrics (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots", help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    from client.ui.signals import install_emit_guard

    install_emit_guard()
    app.setApplicationName("Feedback Analyzer")
    with tempfile.TemporaryDirectory(prefix="feedback-screenshots-") as tmp:
        work = Path(tmp)
        os.environ["FEEDBACK_TRAFFIC_DB"] = str(work / "traffic.sqlite3")  # the drift history starts empty, not the user's
        os.environ["FEEDBACK_CHANNELS"] = str(work / "channels.json")  # no saved channels, and never the user's
        (work / "down").mkdir()
        if args.start_server:
            with temporary_server(args.model_store, args.port_base, work) as instance:
                urls = instance["urls"]
                shoot(args.out, work, urls["inference"], urls["management"], Path(instance["key_file"]))
        else:
            from client.core.settings import ClientSettings

            defaults = ClientSettings.defaults()
            key_file = args.key_file or defaults.key_file
            shoot(args.out, work, args.inference or defaults.inference_url, args.management or defaults.management_url, key_file)
    app.shutdown()  # destroy Qt's objects now, not during interpreter finalization
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
