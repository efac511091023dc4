"""Batch mode's widgets: open or drop a file, pick columns, preview, run, watch, filter, review, export.

Everything it does goes through ``BatchController``; this module only lays out and
displays.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from client.ui.batch_controller import CANCELLED, FINISHED, INTERRUPTED, LOADING, RUNNING, BatchController
from client.core.batch import BatchRun
from client.core.review_queue import ORDER_TITLES
from client.core import paths
from client.core.channels import Channel, load_channels
from client.core.errors import FeedbackError
from client.core.source_temperature import MIN_MISTAKES, MIN_VERDICTS, SourceCalibration
from client.core.spot_check import DEFAULT_SIZE, MAX_SIZE, SpotCheckReport
from client.ui.explanation import RowExplanation
from client.ui.results_view import FilterBar, QueueBar, ResultsTable
from client.ui import settings_store
from client.core.stats import format_duration
from client.ui.summary import StatsCharts
from client.core.records import FORMATS

PREVIEW_ROWS = 50
SPOT_CHECK_HINT = (
    "Draw a sample, then give each item a verdict (keys 1-8, Enter to confirm). "
    f"From {MIN_VERDICTS} verdicts with at least {MIN_MISTAKES} mistakes, Calibrate this file fits the file's scores to them."
)
NO_ID = "(none)"
OPEN_FILTER = "Feedback files (*.csv *.tsv *.xlsx *.jsonl *.ndjson *.json *.txt);;All files (*)"
EXPORT_FILTER = "CSV (*.csv);;Excel workbook (*.xlsx);;JSON Lines (*.jsonl)"


def _droppable(event: QDragEnterEvent | QDropEvent) -> Path | None:
    """The first local file in a drag whose suffix we can read."""
    for url in event.mimeData().urls():
        path = Path(url.toLocalFile())
        if url.isLocalFile() and path.suffix.lower().lstrip(".") in (*FORMATS, "ndjson", "json", "tsv"):
            return path
    return None


class BatchPanel(QWidget):
    def __init__(self, controller: BatchController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setAcceptDrops(True)

        self.open_button = QPushButton("Open file…")
        self.open_button.clicked.connect(self.ask_open)
        self.file_label = QLabel("Open or drop a CSV, JSONL or TXT file of feedback. Try the files in samples/.")
        self.text_column, self.id_column = QComboBox(), QComboBox()
        for combo in (self.text_column, self.id_column):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.text_column.activated.connect(self._columns_chosen)
        self.id_column.activated.connect(self._columns_chosen)
        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(controller.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(controller.cancel)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Classify the rest, from the first unfinished row")
        self.resume_button.clicked.connect(controller.resume)
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self.ask_export)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m")
        self.rate = QLabel()
        self.note = QLabel()
        self.note.setWordWrap(True)

        self.preview = QTableView()
        self.preview.setModel(QStandardItemModel(self))
        self.preview.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.filters = FilterBar()
        self.filters.changed.connect(controller.filtered.set_filters)
        self.table = ResultsTable(controller.filtered)
        self.shown_count = QLabel()
        self.confirm_button = QPushButton("Confirm selected")
        self.confirm_button.setToolTip("The model is right for the selected rows: save them as confirmations")
        self.confirm_button.clicked.connect(lambda: controller.confirm(self.table.selected_results()))
        self.queue_table = ResultsTable(controller.queue)
        self.queue_bar = QueueBar(ORDER_TITLES)
        self.queue_bar.order_changed.connect(self._order_chosen)
        self.queue_bar.search_changed.connect(lambda text: controller.queue.set_filters(search=text))
        for table in (self.table, self.queue_table):
            table.verdict_keyed.connect(controller.save_verdict)
            table.confirm_keyed.connect(controller.confirm)
        self.queue_count = QLabel()
        self.queue_confirm = QPushButton("Confirm selected")
        self.queue_confirm.clicked.connect(lambda: controller.confirm(self.queue_table.selected_results()))
        self.spot_size = QSpinBox()
        self.spot_size.setRange(1, MAX_SIZE)
        self.spot_size.setValue(DEFAULT_SIZE)
        self.spot_size.setAccessibleName("Spot check size")
        self.spot_button = QPushButton("Draw a random sample")
        self.spot_button.setToolTip(
            "Items drawn at random from every classified row: their verdicts say how often the model is really right on this file"
        )
        self.spot_button.clicked.connect(self.draw_spot_check)
        self.calibrate_button = QPushButton("Calibrate this file")
        self.calibrate_button.setToolTip(
            f"With {MIN_VERDICTS} or more verdicts in the sample, {MIN_MISTAKES} of them mistakes: "
            "rescale this file's scores by what the sample shows, and refit its review flag"
        )
        self.calibrate_button.clicked.connect(controller.calibrate_from_spot_check)
        # Channels: a calibration saved from one file's spot check, used again for the next files of that channel.
        self.channel_name = QLineEdit()
        self.channel_name.setPlaceholderText("Channel name, e.g. Complaint tweets")
        self.channel_name.setAccessibleName("Channel name")
        self.save_channel_button = QPushButton("Save as channel")
        self.save_channel_button.setToolTip("Fit a channel on this file's spot check and on the earlier files saved under the same name; this file and the channel's next files are calibrated by it")
        self.save_channel_button.clicked.connect(self.save_channel)
        self.channel_box = QComboBox()
        self.channel_box.setAccessibleName("Saved channels")
        self.channel_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.use_channel_button = QPushButton("Use channel")
        self.use_channel_button.setToolTip("Calibrate this file as the chosen channel was calibrated, without a new spot check")
        self.use_channel_button.clicked.connect(self.use_channel)
        self.spot_table = ResultsTable(controller.spot, sortable=False)
        self.spot_table.verdict_keyed.connect(controller.save_verdict)
        self.spot_table.confirm_keyed.connect(controller.confirm)
        self.spot_report = QLabel(SPOT_CHECK_HINT)
        self.spot_report.setWordWrap(True)
        self.spot_report.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.spot_confirm = QPushButton("Confirm selected")
        self.spot_confirm.clicked.connect(lambda: controller.confirm(self.spot_table.selected_results()))
        self.spot_detail = RowExplanation(controller.services, self.spot_table)
        self.errors = QTableWidget(0, 2)
        self.errors.setHorizontalHeaderLabels(["Line", "Problem"])
        self.errors.horizontalHeader().setStretchLastSection(True)
        self.errors.verticalHeader().hide()
        self.errors.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.summary = StatsCharts()
        # Below each table, the current row's text with the words behind its label.
        self.results_detail = RowExplanation(controller.services, self.table)
        self.queue_detail = RowExplanation(controller.services, self.queue_table)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.preview, "Preview")
        self.tabs.addTab(self._with_bar(self.filters, self.table, self.results_detail, self.shown_count, self.confirm_button), "Results")
        self.tabs.addTab(self._with_bar(self.queue_bar, self.queue_table, self.queue_detail, self.queue_count, self.queue_confirm), "Review queue")
        self.tabs.addTab(self._with_bar(self._spot_bar(), self.spot_table, self.spot_detail, self.spot_report, self.spot_confirm), "Spot check")
        self.tabs.addTab(self.errors, "Errors")
        self.tabs.addTab(self.summary, "Summary")

        file_row = QHBoxLayout()
        file_row.addWidget(self.open_button)
        file_row.addWidget(self.file_label, 1)
        file_row.addWidget(QLabel("Text column"))
        file_row.addWidget(self.text_column)
        file_row.addWidget(QLabel("ID column"))
        file_row.addWidget(self.id_column)
        run_row = QHBoxLayout()
        for button in (self.run_button, self.cancel_button, self.resume_button):
            run_row.addWidget(button)
        run_row.addWidget(self.progress, 1)
        run_row.addWidget(self.rate)
        run_row.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(file_row)
        layout.addLayout(run_row)
        layout.addWidget(self.note)
        layout.addWidget(self.tabs, 1)

        controller.loaded.connect(self._loaded)
        controller.load_failed.connect(lambda exc: self.note.setText(f"Could not open the file: {exc}"))
        controller.progressed.connect(self._progressed)
        controller.state_changed.connect(self._state_changed)
        controller.exported.connect(lambda path: self.note.setText(f"Exported to {path}"))
        controller.review_order.ordered.connect(self._update_counts)
        controller.export_failed.connect(lambda exc: self.note.setText(f"Export failed: {exc}"))
        controller.spot_checked.connect(self._spot_checked)
        controller.calibrated.connect(self._calibrated)
        controller.channel_saved.connect(self._channel_saved)
        controller.channel_failed.connect(self._channel_failed)
        for proxy in (controller.filtered, controller.queue):
            for signal in (proxy.rowsInserted, proxy.rowsRemoved, proxy.modelReset, proxy.layoutChanged):
                signal.connect(self._update_counts)
        self._state_changed(controller.state)
        self.reload_channels()

    @staticmethod
    def _with_bar(top: QWidget | None, table: QTableView, detail: QWidget, count: QLabel, button: QPushButton) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        if top is not None:
            layout.addWidget(top)
        layout.addWidget(table, 3)
        layout.addWidget(detail, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(count, 1)
        bottom.addWidget(button)
        layout.addLayout(bottom)
        return page

    def draw_spot_check(self) -> None:
        """Draw the sample, show it, and put the keyboard on its first item."""
        if self.controller.draw_spot_check(self.spot_size.value()):
            self.tabs.setCurrentWidget(self.spot_table.parentWidget())
            self.spot_table.setFocus()
            self.spot_table.go_to(0)

    def _spot_bar(self) -> QWidget:
        bar = QWidget()
        row = QHBoxLayout(bar)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Items"))
        row.addWidget(self.spot_size)
        row.addWidget(self.spot_button)
        row.addWidget(self.calibrate_button)
        row.addStretch(1)
        row.addWidget(self.channel_name)
        row.addWidget(self.save_channel_button)
        row.addWidget(self.channel_box)
        row.addWidget(self.use_channel_button)
        return bar

    def reload_channels(self, select: str | None = None) -> dict[str, Channel]:
        """Fill the channel list from the saved file (an unreadable file is said, not replaced),
        keeping the chosen channel, or choosing ``select``."""
        try:
            channels = load_channels(paths.channels_path())
        except FeedbackError as exc:
            self.note.setText(str(exc))
            channels = {}
        current = self.channel_box.currentData()
        select = select if select is not None else (current.name if current is not None else None)
        self.channel_box.clear()
        for channel in channels.values():
            self.channel_box.addItem(f"{channel.name} (model v{channel.model_version}, {channel.verdicts} verdicts)", channel)
        names = list(channels)
        self.channel_box.setCurrentIndex(names.index(select) if select in names else 0)
        self._update_buttons(self.controller.state)
        return channels

    def save_channel(self) -> None:
        try:
            self.controller.save_channel(self.channel_name.text())
        except FeedbackError as exc:
            self.note.setText(str(exc))
            return
        self.save_channel_button.setEnabled(False)  # until the fit comes back
        self.note.setText("Fitting the channel on its spot checks...")

    def _channel_saved(self, channel: Channel, applied: bool) -> None:
        self.reload_channels(select=channel.name)
        files = channel.files_text
        now = ("this file is calibrated by it" if applied
               else "the file open now was not changed (another file was opened meanwhile): choose the channel and press Use channel")
        self.note.setText(
            f"Saved as the channel {channel.name}: fitted on {channel.verdicts} spot-check verdicts from {files}; {now}. "
            "Choose it under Spot check for this channel's next files; save their spot checks under the same name to refine it."
        )

    def _channel_failed(self, exc: object) -> None:
        self.save_channel_button.setEnabled(self.controller.can_save_channel())
        self.note.setText(f"The channel was not saved: {exc}")

    def use_channel(self) -> None:
        channel = self.channel_box.currentData()
        if channel is None:
            return
        try:
            self.controller.use_channel(channel)
        except FeedbackError as exc:
            self.note.setText(str(exc))

    # ------------------------------------------------------------------ files

    def open_file(self, path: Path) -> None:
        self.note.setText("")
        settings_store.set_last_folder(self.controller.services.qsettings, Path(path).parent)
        self.controller.open(Path(path))

    def ask_open(self) -> None:
        folder = str(settings_store.last_folder(self.controller.services.qsettings) or "")
        chosen, _ = QFileDialog.getOpenFileName(self, "Open feedback file", folder, OPEN_FILTER)
        if chosen:
            self.open_file(Path(chosen))

    # ------------------------------------------------------------------ keyboard and layout

    def focus_search(self) -> None:
        """Ctrl+F: the search box of the results or the queue, whichever is showing (results otherwise)."""
        if self.tabs.currentIndex() != 2:
            self.tabs.setCurrentIndex(1)
        box = self.queue_bar.search if self.tabs.currentIndex() == 2 else self.filters.search
        box.setFocus()
        box.selectAll()

    def _order_chosen(self, order: str) -> None:
        settings_store.save_ui(self.controller.services.qsettings, queue_order=order)
        self.controller.review_order.set_order(order)

    def restore_ui(self) -> None:
        """Column choices and the queue's order, as the agent left them."""
        ui = settings_store.load_ui(self.controller.services.qsettings)
        for table, state in ((self.table, ui.results_header), (self.queue_table, ui.queue_header)):
            if state is not None:
                table.horizontalHeader().restoreState(state)
                table.sync_column_actions()
        if ui.queue_order is not None and ui.queue_order in ORDER_TITLES:
            self.queue_bar.set_order(ui.queue_order)  # emits order_changed, which applies it

    def save_ui(self) -> None:
        settings_store.save_ui(
            self.controller.services.qsettings,
            results_header=self.table.horizontalHeader().saveState(),
            queue_header=self.queue_table.horizontalHeader().saveState(),
        )

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _droppable(event) is not None and self.controller.state != RUNNING:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = _droppable(event)
        if path is not None:
            event.acceptProposedAction()
            self.open_file(path)

    def _columns_chosen(self) -> None:
        run = self.controller.run
        if run is None:
            return
        id_column = self.id_column.currentText()
        self.controller.open(run.source, self.text_column.currentText() or None, None if id_column == NO_ID else id_column)

    def ask_export(self) -> None:
        run = self.controller.run
        suggested = str(run.source.with_name(run.source.stem + "-classified.csv")) if run else ""
        chosen, _ = QFileDialog.getSaveFileName(self, "Export results", suggested, EXPORT_FILTER)
        if chosen:
            settings_store.set_last_folder(self.controller.services.qsettings, Path(chosen).parent)
            self.controller.export(Path(chosen))

    # ------------------------------------------------------------------ showing the controller's state

    def _loaded(self, run: BatchRun) -> None:
        read = run.read
        self.file_label.setText(f"{run.source.name}: {len(read.rows):,} rows to classify, {len(read.errors):,} skipped")
        for combo, current, extra in ((self.text_column, read.text_column, []), (self.id_column, read.id_column or NO_ID, [NO_ID])):
            combo.clear()
            combo.addItems(extra + read.columns)
            combo.setCurrentText(current or "")
            combo.setEnabled(len(read.columns) > 1)
        if read.text_column is None:
            self.note.setText("Choose the column that holds the feedback text.")
        self._fill_preview(run)
        self._fill_errors(run)
        self.progress.setRange(0, max(1, run.total))
        self.progress.setValue(0)
        self.rate.setText("")
        self.summary.show_stats(run.stats, len(read.errors))
        self.tabs.setCurrentWidget(self.preview)
        self._state_changed(self.controller.state)

    def _fill_preview(self, run: BatchRun) -> None:
        model = QStandardItemModel(self)
        columns = ["line", *run.read.columns]
        model.setHorizontalHeaderLabels(columns)
        for row in run.read.rows[:PREVIEW_ROWS]:
            cells = [str(row.line), *(str(row.fields.get(c, "")) for c in run.read.columns)]
            model.appendRow([QStandardItem(" ".join(cell.split())[:200]) for cell in cells])
        self.preview.setModel(model)

    def _fill_errors(self, run: BatchRun) -> None:
        errors = run.errors()
        self.errors.setRowCount(len(errors))
        for i, error in enumerate(errors):
            line = QTableWidgetItem()
            line.setData(Qt.ItemDataRole.DisplayRole, error.line)
            self.errors.setItem(i, 0, line)
            self.errors.setItem(i, 1, QTableWidgetItem(error.message))
        self.tabs.setTabText(self.tabs.indexOf(self.errors), f"Errors ({len(errors)})")

    def _progressed(self, done: int, total: int, rate: float, left: object) -> None:
        run = self.controller.run
        self.progress.setMaximum(max(1, total))
        self.progress.setValue(done)
        self.rate.setText(f"{rate:,.0f} items/s · {format_duration(left)} left")  # type: ignore[arg-type]
        if run is not None:
            self._show_summary()
            if run.server_errors:
                self._fill_errors(run)

    def _update_buttons(self, state: str) -> None:
        run = self.controller.run
        ready = run is not None and run.read.text_column is not None and run.total > 0
        self.run_button.setEnabled(ready and run.done == 0 and state not in (RUNNING, LOADING))
        self.cancel_button.setEnabled(state == RUNNING)
        self.resume_button.setVisible(state in (CANCELLED, INTERRUPTED))
        self.open_button.setEnabled(state not in (RUNNING, LOADING))
        self.export_button.setEnabled(run is not None and bool(run.results) and state != RUNNING)
        self.spot_button.setEnabled(run is not None and bool(run.results) and state not in (RUNNING, LOADING))
        self.calibrate_button.setEnabled(self.controller.can_calibrate())
        self.save_channel_button.setEnabled(self.controller.can_save_channel())
        self.use_channel_button.setEnabled(self.channel_box.count() > 0 and run is not None and bool(run.results) and state not in (RUNNING, LOADING))

    def _state_changed(self, state: str) -> None:
        run = self.controller.run
        self._update_buttons(state)
        if state == RUNNING:
            self.tabs.setCurrentIndex(1)
            self.note.setText("")
        elif state == FINISHED and run is not None:
            self.note.setText(f"Done: {len(run.results):,} classified, {len(run.errors()):,} rows listed under Errors.")
        elif state == CANCELLED and run is not None:
            self.note.setText(f"Cancelled after {run.done:,} of {run.total:,} rows; the results so far are kept. Resume continues.")
        elif state == INTERRUPTED and run is not None:
            self.note.setText(f"Stopped by a server problem after {run.done:,} of {run.total:,} rows; the results so far are kept.")

    def _spot_checked(self, report: SpotCheckReport) -> None:
        drawn = self.controller.spot_model.rowCount()
        run = self.controller.run
        self.calibrate_button.setEnabled(self.controller.can_calibrate())
        self.save_channel_button.setEnabled(self.controller.can_save_channel())
        if not drawn:
            self.spot_report.setText(SPOT_CHECK_HINT + self._calibration_note())
            return
        heading = f"Spot check: {report.checked} of {drawn} drawn items have a verdict"
        if run is not None and self.controller.spot_population < len(run.results):
            heading += f" (drawn when {self.controller.spot_population:,} of the {len(run.results):,} rows classified now were)"
        self.spot_report.setText(heading + ". " + " ".join(report.sentences()) + self._calibration_note())

    def _calibration_note(self) -> str:
        calibration, run = self.controller.calibration, self.controller.run
        if calibration is None or run is None:
            return ""
        flagged = sum(r.flagged for r in run.results)
        return (
            f" This file's scores are calibrated by {self.controller.calibration_source} ({calibration.verdicts} spot-check verdicts, "
            f"temperature {calibration.temperature:.2f}, model v{self.controller.calibration_version}); "
            f"a row needs review below {calibration.threshold:.2f}: {flagged:,} of {len(run.results):,} rows when calibrated. "
            "Spot-check figures are the model's scores as it sent them."
        )

    def _show_summary(self) -> None:
        run, controller = self.controller.run, self.controller
        if run is not None:
            self.summary.show_stats(controller.summary_stats(), len(run.errors()), controller.calibration_source if controller.calibration else "")

    def _calibrated(self, _calibration: SourceCalibration) -> None:
        self._spot_checked(self.controller.spot_report())
        self._show_summary()
        self.note.setText("Scores and review flags of this file are now calibrated (see the Spot check tab); an export writes them so.")

    def _update_counts(self) -> None:
        total = self.controller.model.rowCount()
        self.shown_count.setText(f"{self.controller.filtered.rowCount():,} of {total:,} shown")
        order = ORDER_TITLES[self.controller.review_order.order].lower()
        self.queue_count.setText(f"{self.controller.queue.rowCount():,} waiting for review, {order}")
