"""The retraining panel: runs `feedback retrain` as a separate process and shows what it says.

Training takes minutes and a lot of CPU, so it runs in its own process (QProcess): the app
stays responsive, a crash of the trainer cannot take the app down, and the command is
exactly the one an ML engineer runs by hand. The trainer's progress lines
(``client.core.training_progress``) drive a progress bar with the time left; the rest of
its log streams into the log view, without the redrawn tqdm bars; when it ends, the
Markdown report it wrote is shown.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from PySide6.QtCore import QProcess, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from client.core.errors import EXIT_NOT_PROMOTED
from client.core.stats import format_duration
from client.core.training_progress import TrainingProgress, parse_progress
from client.ui.signals import emit

_REPORT_HINT = re.compile(r"see (\S+\.md)")
_TQDM_BAR = re.compile(r"\d+%\|")  # "40%|████      | 8/20 [00:03<00:05, ...]"


def split_stderr(text: str) -> tuple[list[TrainingProgress], list[str]]:
    """The trainer's progress reports, and the log lines worth showing (no tqdm redraws)."""
    progress, lines = [], []
    for line in text.replace("\r", "\n").splitlines():
        found = parse_progress(line)
        if found is not None:
            progress.append(found)
        elif line.strip() and not _TQDM_BAR.search(line):
            lines.append(line)
    return progress, lines


def progress_text(progress: TrainingProgress) -> str:
    """What the bar says: steps done and the time left at the pace so far."""
    left = progress.seconds_left
    return f"Training: step {progress.step} of {progress.total}" + (f" · {format_duration(left)} left" if left is not None else "")


def outcome_text(exit_code: int, dry_run: bool, summary: dict | None) -> str:
    """One line for the agent: what the retrain run decided."""
    if exit_code == EXIT_NOT_PROMOTED:
        return "Not promoted: the new version was worse on a gate rule. Nothing changed on the server."
    if exit_code != 0 or summary is None:
        return f"Retraining failed (exit code {exit_code}); see the log above."
    version = summary.get("new_version")
    if dry_run:
        verdict = "would be promoted" if summary.get("decision", {}).get("promote") else "would not be promoted"
        return f"Dry run: v{version} {verdict}. Nothing was changed."
    return f"Promoted: v{version} is now the default version."


def report_path(stdout: str, stderr: str) -> Path | None:
    """The Markdown report: from the JSON summary on stdout, or the hint of a refusal on stderr."""
    try:
        path = json.loads(stdout).get("paths", {}).get("markdown")
        if path:
            return Path(path)
    except ValueError:
        pass
    found = _REPORT_HINT.search(stderr)
    return Path(found.group(1)) if found else None


class RetrainPanel(QWidget):
    started = Signal()
    finished = Signal(int)  # the process's exit code: 0 done, 3 not promoted, other failed
    progressed = Signal(object)  # TrainingProgress

    def __init__(self, store_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store_path = store_path
        self.extra_args: list[str] = []  # e.g. --models-dir for a non-default registry
        self.pending = QLabel("Pending corrections: …")
        self.dry_run = QCheckBox("Dry run (train and evaluate, change nothing)")
        self.start_button = QPushButton("Retrain now")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.outcome = QLabel("")
        self.outcome.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Training progress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Not running")
        self.progress.setTextVisible(True)
        self.report = QTextBrowser()

        controls = QHBoxLayout()
        controls.addWidget(self.pending, 1)
        controls.addWidget(self.dry_run)
        controls.addWidget(self.start_button)
        controls.addWidget(self.stop_button)
        split = QSplitter()
        split.addWidget(self.log)
        split.addWidget(self.report)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.progress)
        layout.addWidget(split, 1)
        layout.addWidget(self.outcome)

        self.process = QProcess(self)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.finished.connect(self._finished)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self._stdout = ""
        self._stderr = ""
        self._unfinished = ""

    def set_pending(self, count: int) -> None:
        self.pending.setText(f"Pending corrections: {count}")

    def arguments(self) -> list[str]:
        args = ["-m", "training.cli", "retrain", "--corrections", str(self.store_path), *self.extra_args]
        return args + (["--dry-run"] if self.dry_run.isChecked() else [])

    def start(self) -> None:
        if self.process.state() != QProcess.ProcessState.NotRunning:
            return
        self._stdout = self._stderr = self._unfinished = ""
        self.log.clear()
        self.report.clear()
        self.outcome.setText("Retraining… the app stays usable meanwhile.")
        self.progress.setRange(0, 0)  # busy until the trainer says how many steps
        self.progress.setFormat("Preparing the data and the model…")
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.process.start(sys.executable, self.arguments())
        emit(self.started)

    def stop(self) -> None:
        """Stop a running retrain (the app is closing); its lock is released as stale next time."""
        if self.process.state() != QProcess.ProcessState.NotRunning:
            self.process.kill()
            self.process.waitForFinished(5000)

    def _read_stderr(self) -> None:
        text = bytes(self.process.readAllStandardError()).decode("utf-8", errors="replace")
        self._stderr += text
        # A read can end mid-line: keep the unfinished piece for the next read.
        text = self._unfinished + text
        cut = max(text.rfind("\n"), text.rfind("\r")) + 1
        text, self._unfinished = text[:cut], text[cut:]
        progress, lines = split_stderr(text)
        for line in lines:
            self.log.appendPlainText(line)
        if progress:
            self.show_progress(progress[-1])

    def show_progress(self, progress: TrainingProgress) -> None:
        self.progress.setRange(0, max(1, progress.total))
        self.progress.setValue(min(progress.step, progress.total))
        self.progress.setFormat(progress_text(progress))
        emit(self.progressed, progress)

    def _read_stdout(self) -> None:
        self._stdout += bytes(self.process.readAllStandardOutput()).decode("utf-8", errors="replace")

    def _finished(self, exit_code: int, _status: QProcess.ExitStatus) -> None:
        if self._unfinished.strip():
            self.log.appendPlainText(self._unfinished)
            self._unfinished = ""
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if exit_code in (0, EXIT_NOT_PROMOTED) else 0)
        self.progress.setFormat("Done" if exit_code in (0, EXIT_NOT_PROMOTED) else "Stopped")
        try:
            summary = json.loads(self._stdout) if self._stdout.strip() else None
        except ValueError:
            summary = None
        self.outcome.setText(outcome_text(exit_code, self.dry_run.isChecked(), summary))
        path = report_path(self._stdout, self._stderr)
        if path is not None and path.exists():
            self.report.setMarkdown(path.read_text(encoding="utf-8"))
        emit(self.finished, exit_code)
