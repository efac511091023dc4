"""The Settings dialog: a form over ClientSettings; it only collects values."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from client.core.settings import ClientSettings
from client.ui.palette import alert_color


class SettingsDialog(QDialog):
    def __init__(self, settings: ClientSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.inference_url = QLineEdit(settings.inference_url)
        self.management_url = QLineEdit(settings.management_url)
        self.key_file = QLineEdit(str(settings.key_file))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_file, 1)
        key_row.addWidget(browse)
        self.timeout = self._seconds(settings.timeout)
        self.management_timeout = self._seconds(settings.management_timeout)
        self.review_threshold = QDoubleSpinBox()
        self.review_threshold.setRange(0.0, 1.0)
        self.review_threshold.setSingleStep(0.05)
        self.review_threshold.setDecimals(2)
        self.review_threshold.setSpecialValueText("the model's own")
        self.review_threshold.setValue(settings.review_threshold)
        self.agent = QLineEdit(settings.agent)
        self.chunk_size = QSpinBox()
        self.chunk_size.setRange(1, 256)
        self.chunk_size.setValue(settings.chunk_size)
        self.retention_days = QSpinBox()
        self.retention_days.setRange(0, 3650)
        self.retention_days.setSuffix(" days")
        self.retention_days.setSpecialValueText("forever")
        self.retention_days.setValue(settings.retention_days)
        self.retention_days.setToolTip("Corrections a promoted model has learnt from are deleted this long after they were saved (at the next start). Pending ones are always kept.")
        self.error = QLabel()
        self.error.setStyleSheet(f"color: {alert_color(self.palette()).name()}")
        self.error.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Inference URL", self.inference_url)
        form.addRow("Management URL", self.management_url)
        form.addRow("Key file", key_row)
        form.addRow("Request timeout (s)", self.timeout)
        form.addRow("Management timeout (s)", self.management_timeout)
        form.addRow("Needs review below", self.review_threshold)
        form.addRow("Items per request", self.chunk_size)
        form.addRow("Agent name", self.agent)
        form.addRow("Keep learnt corrections", self.retention_days)
        form.addRow(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.result_settings: ClientSettings | None = None

    @staticmethod
    def _seconds(value: float) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(0.5, 3600.0)
        box.setDecimals(1)
        box.setValue(value)
        return box

    def _browse(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self, "TorchServe key file", self.key_file.text(), "Key file (*.json)")
        if chosen:
            self.key_file.setText(chosen)

    def _accept(self) -> None:
        try:
            self.result_settings = ClientSettings(
                inference_url=self.inference_url.text().strip(),
                management_url=self.management_url.text().strip(),
                key_file=Path(self.key_file.text().strip()).expanduser(),
                timeout=self.timeout.value(),
                management_timeout=self.management_timeout.value(),
                review_threshold=self.review_threshold.value(),
                agent=self.agent.text().strip(),
                chunk_size=self.chunk_size.value(),
                retention_days=self.retention_days.value(),
            )
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        self.accept()
