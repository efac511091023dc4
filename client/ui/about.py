"""Help → About: the app's and the model's versions, where every file lives, and the docs."""

from __future__ import annotations

from html import escape
from importlib import metadata
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from client.core import paths

DIST_NAME = "feedback-analyzer"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "CLIENT.md"  # in a checkout; absent from an installed wheel


def app_version() -> str:
    try:
        return metadata.version(DIST_NAME)
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def about_rows(model_version: str | None, store: Path, log_file: Path, settings_file: str) -> list[tuple[str, str]]:
    """(what, value) pairs the About box shows; plain data so a test can read them."""
    return [
        ("App version", app_version()),
        ("Model version", f"v{model_version}" if model_version else "unknown: no server answered yet"),
        ("Server state folder", str(paths.state_dir())),
        ("Corrections store", str(store)),
        ("App log", str(log_file)),
        ("Settings file", settings_file),
    ]


class AboutDialog(QDialog):
    def __init__(self, rows: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Feedback Analyzer")
        self.rows = rows
        table = "".join(f"<tr><td><b>{escape(what)}</b>&nbsp;&nbsp;</td><td>{escape(value)}</td></tr>" for what, value in rows)
        if DOCS.exists():
            docs = f'<a href="{QUrl.fromLocalFile(str(DOCS)).toString()}">docs/CLIENT.md</a> (the app) and README.md beside it'
        else:
            docs = "docs/CLIENT.md and README.md in the source tree"
        self.text = QLabel(
            "<h3>Feedback Analyzer</h3><p>Sorts customer feedback into eight categories; your verdicts retrain the model.</p>"
            f"<table>{table}</table><p>Documentation: {docs}</p>"
        )
        self.text.setOpenExternalLinks(True)
        self.text.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
