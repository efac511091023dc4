"""Batch mode without widgets: open a file, classify it in the background, cancel, resume, export.

The run's state (``BatchRun``) is only changed on the GUI thread, from queued progress
signals; the worker thread only talks to the server (``classify_chunks``, several requests
in flight, answers in any order). A run stopped by the server keeps every answered chunk
and ``resume()`` sends exactly the unfinished rows.

A spot check (``draw_spot_check``) is a random sample of the classified rows in a random
order, in a table of its own; every verdict on a sampled row is saved as a spot-check
verdict, and the sample's report (``client.core.spot_check``) is sent after each one.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal

from client.core.api import InferenceClient
from client.core.batch import BatchResult, BatchRun, export_results, open_file
from client.core.classify import classify_chunks
from client.ui.results_model import CONFIDENCE, ResultsFilter, ResultsTableModel
from client.ui.review_order import ReviewOrder
from client.ui.services import Services
from client.ui.signals import emit
from client.core.stats import SessionStats, Throughput
from client.core import paths
from client.core.api import Prediction
from client.core.channels import Channel, channel_name, grow_channel, refusal
from client.core.errors import DataError
from client.core.source_temperature import MIN_MISTAKES, MIN_VERDICTS, SourceCalibration, apply, calibrate
from client.core.spot_check import SpotCheckReport, Verdict, draw, summarize
from client.core.verdicts import make_verdict
from client.ui.workers import Worker
from client.core.corrections import Correction, now_iso
from client.core.records import ReadResult

logger = logging.getLogger(__name__)

IDLE, LOADING, RUNNING, CANCELLED, INTERRUPTED, FINISHED = "idle", "loading", "running", "cancelled", "interrupted", "finished"


def classify_pending(worker: Worker, client: InferenceClient, items: list[tuple[int, str]]) -> int:
    """Runs on a pool thread: each chunk's (row indices, answers) go to the GUI thread as they come."""
    return classify_chunks(client, items, lambda indices, answers: worker.report((indices, answers)), cancelled=worker.is_cancelled)


class BatchController(QObject):
    loaded = Signal(object)  # BatchRun, before any result
    load_failed = Signal(object)  # FeedbackError
    progressed = Signal(int, int, float, object)  # done, total, items per second, seconds left or None
    state_changed = Signal(str)
    interrupted = Signal(object)  # the error that stopped the run
    exported = Signal(object)  # Path
    export_failed = Signal(object)
    spot_checked = Signal(object)  # SpotCheckReport of the current sample, after a draw and after each verdict
    channel_saved = Signal(object, bool)  # Channel, fitted and saved; whether the file open now was calibrated by it (False: another was opened meanwhile)
    channel_failed = Signal(object)  # FeedbackError: too few verdicts, or the channels file could not be read or written
    calibrated = Signal(object)  # SourceCalibration now applied to the file's scores

    def __init__(self, services: Services, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.run: BatchRun | None = None
        self.state = IDLE
        self.model = ResultsTableModel(parent=self)
        self.filtered = ResultsFilter(parent=self)
        self.filtered.setSourceModel(self.model)
        # The review queue: flagged rows only, lowest confidence first, until an agent gives a verdict.
        self.queue_model = ResultsTableModel(CONFIDENCE, Qt.SortOrder.AscendingOrder, self)
        self.queue = ResultsFilter(queue=True, parent=self)
        self.queue.setSourceModel(self.queue_model)
        self.review_order = ReviewOrder(services, self.queue_model, self.queue, self)
        # The spot check: a random sample of the classified rows, in the random order it was drawn in.
        self.spot_model = ResultsTableModel(parent=self)
        self.spot = ResultsFilter(parent=self)
        self.spot.setSourceModel(self.spot_model)
        self._spot_rank: dict[int, int] = {}  # id(BatchResult) -> position in the draw
        self.spot_population = 0  # classified rows when the sample was drawn
        self.calibration: SourceCalibration | None = None
        self._calibrated_stats: SessionStats | None = None  # the file's figures as calibrated, while a calibration is applied
        self.channel_pending = False  # Save as channel asked, its fit not back yet
        self.calibration_version: str | None = None  # the model version it was fitted for: other rows stay as served
        self.calibration_source = ""  # where it came from, in words: "this file's spot check" or "the channel X"
        # id(BatchResult) -> the prediction the server sent and the flag it had, kept when a calibration rescales it
        self._served: dict[int, tuple[Prediction, bool]] = {}
        self.state_changed.connect(self.review_order.run_state)
        self._by_correction: dict[int, BatchResult] = {}
        self._worker: Worker | None = None
        self._state_before_load = IDLE
        self._exported_done: int | None = None
        self._throughput: Throughput | None = None
        self.model.verdict_requested.connect(self.save_verdict)
        self.queue_model.verdict_requested.connect(self.save_verdict)
        self.spot_model.verdict_requested.connect(self.save_verdict)
        services.corrections.saved.connect(self._verdict_saved)
        services.corrections.undone.connect(self._verdict_undone)

    def _set_state(self, state: str) -> None:
        self.state = state
        emit(self.state_changed, state)

    # ------------------------------------------------------------------ open

    def open(self, path: Path, text_column: str | None = None, id_column: str | None = None) -> Worker | None:
        """Read the file in the background; a running batch must be cancelled first."""
        if self.state in (RUNNING, LOADING):
            return None
        self._state_before_load = self.state
        self._set_state(LOADING)
        worker = Worker(open_file, Path(path), text_column, id_column)
        return self.services.start(worker.on(returned=lambda opened: self._loaded(Path(path), *opened), errored=self._load_failed))

    def _loaded(self, path: Path, read: ReadResult, digest: str) -> None:
        self.run = BatchRun(path, read, self.services.settings.review_threshold, digest)
        self._exported_done = None
        self._by_correction = {}
        self.model.clear()
        self.queue_model.clear()
        self.spot_model.clear()
        self._spot_rank, self.spot_population = {}, 0
        self.calibration, self.calibration_version, self.calibration_source, self._served = None, None, "", {}
        self._calibrated_stats = None
        logger.info("opened %s: %d rows, %d skipped", path.name, len(read.rows), len(read.errors))
        self._set_state(IDLE)
        emit(self.loaded, self.run)
        emit(self.spot_checked, self.spot_report())  # the last file's sample and calibration are gone

    def _load_failed(self, exc: object) -> None:
        self._set_state(self._state_before_load)  # the file shown before is still there
        emit(self.load_failed, exc)

    # ------------------------------------------------------------------ run, cancel, resume

    def start(self) -> Worker | None:
        """Classify every unfinished row (all of them on a new file); also what Resume does."""
        if self.run is None or self.state == RUNNING or self.run.finished:
            return None
        items = self.run.pending()
        self._throughput = Throughput(self.run.total, time.monotonic(), self.run.done)
        worker = Worker.stepped(classify_pending, self.services.inference(), items)
        self._worker = worker.on(returned=self._ended, errored=self._stopped, progress=self._chunk_done)
        self._set_state(RUNNING)
        logger.info("batch of %d items started, %d rows finished before", len(items), self.run.done)
        self.services.pool.start(worker)
        return worker

    resume = start

    def cancel(self) -> None:
        if self._worker is not None and self.state == RUNNING:
            self._worker.cancel()

    def _current(self) -> bool:
        """Signals of a worker that was replaced (a new file, a resume) are ignored."""
        return self.sender() is not None and self._worker is not None and self.sender() is self._worker.signals

    def _chunk_done(self, answered: tuple[list[int], list]) -> None:
        if not self._current() or self.run is None:
            return
        indices, chunk = answered
        added = self.run.add(chunk, indices)
        # The dashboard and the traffic history count what the model sent, before any calibration.
        self.services.count_predictions([r.prediction for r in added], [r.flagged for r in added])
        for result in added:
            self._calibrate(result)
            if self._calibrated_stats is not None:
                self._calibrated_stats.add_prediction(result.prediction, result.flagged)
        self.model.add_results(added)
        self.queue_model.add_results([r for r in added if r.flagged])
        throughput = self._throughput
        now = time.monotonic()
        rate = throughput.rate(self.run.done, now) if throughput else 0.0
        left = throughput.seconds_left(self.run.done, now) if throughput else None
        emit(self.progressed, self.run.done, self.run.total, rate, left)

    def _ended(self, _count: int) -> None:
        if not self._current() or self.run is None:
            return
        self._worker = None
        state = FINISHED if self.run.finished else CANCELLED
        logger.info("batch %s: %d of %d rows done", state, self.run.done, self.run.total)
        self._set_state(state)

    def _stopped(self, exc: object) -> None:
        if not self._current():
            return
        self._worker = None
        logger.warning("batch interrupted with %d rows finished: %s", self.run.done if self.run else 0, getattr(exc, "message", exc))
        self._set_state(INTERRUPTED)
        emit(self.interrupted, exc)
        self.services.report_failure(exc)

    # ------------------------------------------------------------------ verdicts and export

    def save_verdict(self, result: BatchResult, label: str) -> None:
        """Save the agent's label for ``result`` (a correction, or a confirmation if unchanged)."""
        if self.run is None:
            return
        served, served_flag = self.served_with_flag(result)
        # A row once drawn stays a spot check when its verdict changes later, even out of the current sample.
        spot_check = id(result) in self._spot_rank or (result.verdict is not None and result.verdict.spot_check)
        correction = make_verdict(
            result.row.text, served, label, self.services.settings.agent, self.run.source.name, flagged=served_flag, spot_check=spot_check,
            source_digest=self.run.digest,
        )
        self.services.corrections.save(correction, tag=(self.run, result), replaces=result.verdict)

    def confirm(self, results: list[BatchResult]) -> None:
        """Confirm the model's label on each of ``results``."""
        for result in results:
            self.save_verdict(result, result.prediction.label)

    def draw_spot_check(self, size: int, seed: int | None = None) -> int:
        """Draw a new sample of ``size`` classified rows at random (replacing any earlier one); how many were drawn.

        A sampled row that already has a verdict from this session keeps it, saved again as
        a spot-check verdict so that the store's report counts it too. Drawn while a batch
        runs, the sample would favour the rows classified first, so that is refused.
        """
        if self.run is None or self.state == RUNNING or not self.run.results:
            return 0
        results = list(self.run.results)
        order = draw(len(results), size, secrets.randbits(64) if seed is None else seed)
        sample = [results[i] for i in order]
        self._spot_rank = {id(r): position for position, r in enumerate(sample)}
        self.spot_population = len(results)
        self.spot_model.clear()
        self.spot_model.order_by(lambda r: (self._spot_rank.get(id(r), len(self._spot_rank)), r.row.line))
        self.spot_model.add_results(sample)
        logger.info("spot check drawn: %d of %d classified rows", len(sample), len(results))
        for result in sample:
            if result.verdict is not None and not result.verdict.spot_check:
                self.save_verdict(result, result.verdict.final_label)
        emit(self.spot_checked, self.spot_report())
        return len(sample)

    def served_with_flag(self, result: BatchResult) -> tuple[Prediction, bool]:
        """The prediction the server sent for ``result`` and its review flag, before any calibration of this file."""
        return self._served.get(id(result), (result.prediction, result.flagged))

    def served(self, result: BatchResult) -> Prediction:
        return self.served_with_flag(result)[0]

    def spot_report(self) -> SpotCheckReport:
        """The current sample's verdicts against what the model claimed for them, and the review
        flag it raised, as served (before any calibration): the same figures as the store's report."""
        return summarize(
            Verdict(self.served(r).label, r.verdict.final_label, self.served(r).confidence, self.served_with_flag(r)[1])
            for r in self.spot_model.results()
            if r.verdict is not None
        )

    def summary_stats(self) -> SessionStats:
        """This file's figures as its table shows them: the calibrated scores and flags once a
        spot check or a channel calibrated it (an agent comparing the Summary with the rows must
        not see two different files), else as served. The dashboard and the traffic history
        keep counting what the model sent."""
        if self.run is None:
            return SessionStats()
        if self.calibration is None or self._calibrated_stats is None:
            return self.run.stats
        return self._calibrated_stats

    def can_calibrate(self) -> bool:
        report = self.spot_report()
        return self.state not in (RUNNING, LOADING) and report.checked >= MIN_VERDICTS and report.mistakes >= MIN_MISTAKES

    def calibrate_from_spot_check(self) -> SourceCalibration | None:
        """Rescale every score of this file by the spot check's temperature and refit its review flag.

        Rows classified later (a resumed run) are rescaled as they come. The queue is rebuilt:
        rows the new flag raises join it, rows it no longer raises leave.
        """
        if self.run is None or not self.can_calibrate():
            return None
        checked = [r for r in self.spot_model.results() if r.verdict is not None]
        calibration = calibrate(
            [self.served(r).scores for r in checked], [r.verdict.final_label for r in checked], [self.served(r).label for r in checked]
        )
        versions = Counter(self.served(r).model_version for r in checked)
        self._apply_calibration(calibration, versions.most_common(1)[0][0], "this file's spot check")
        return calibration

    def model_versions(self) -> set[str]:
        """The model versions that classified this file's rows (as served)."""
        return {self.served(r).model_version for r in self.run.results} if self.run is not None else set()

    def can_save_channel(self) -> bool:
        """A verdict in the sample, no run under way and no fit still pending (a second click would race the first)."""
        return not self.channel_pending and self.run is not None and self.state not in (RUNNING, LOADING) and self.spot_report().checked > 0

    def save_channel(self, name: str) -> None:
        """Fit the channel ``name`` on this file's spot-check verdicts, together with those of
        every file it was fitted on before for the same model version (from the store), save
        it, and calibrate this file by it. The answer comes as ``channel_saved`` or
        ``channel_failed``; a name or a file that cannot be saved is refused at once."""
        name = channel_name(name)
        if self.run is None or not self.can_save_channel():
            raise DataError("this file has no spot-check verdicts to save", "draw a sample under Spot check and give verdicts, then save")
        versions = self.model_versions()
        if len(versions) != 1:
            raise DataError("this file's rows were classified by several model versions", "classify the file again with one version, then spot-check it")
        version, source, run, path = versions.pop(), self.run.source.name, self.run, paths.channels_path()

        def fit_and_save(corrections: Callable[[], list[Correction]]) -> Channel:  # on the store's writer thread, after this file's verdicts
            return grow_channel(path, name, source, run.digest, version, corrections, now_iso())

        self.channel_pending = True
        self.services.corrections.after_saves(fit_and_save, lambda channel: self._channel_saved(run, channel), self._channel_failed)

    def _channel_saved(self, run: BatchRun, channel: Channel) -> None:
        self.channel_pending = False
        logger.info("channel saved: %d verdicts from %d files, model v%s", channel.verdicts, channel.file_count, channel.model_version)
        applied = run is self.run and self.state not in (RUNNING, LOADING)  # the agent may have opened another file meanwhile
        if applied:
            self._apply_calibration(channel.calibration, channel.model_version, f"the channel {channel.name}")
        emit(self.channel_saved, channel, applied)

    def _channel_failed(self, exc: object) -> None:
        self.channel_pending = False
        emit(self.channel_failed, exc)

    def use_channel(self, channel: Channel) -> None:
        """Calibrate this file by a channel saved before; refused when another model version classified it."""
        versions = self.model_versions()
        if self.run is None or not versions:
            raise DataError("there are no classified rows to calibrate", "run the file first, then choose its channel")
        if self.state == RUNNING:
            raise DataError("the file is being classified", "wait until the run ends or cancel it, then choose its channel")
        for version in sorted(versions):
            reason = refusal(channel, version)
            if reason is not None:
                raise DataError(reason)
        self._apply_calibration(channel.calibration, channel.model_version, f"the channel {channel.name}")

    def _apply_calibration(self, calibration: SourceCalibration, version: str, source: str) -> None:
        assert self.run is not None
        self.calibration, self.calibration_version, self.calibration_source = calibration, version, source
        self._calibrated_stats = SessionStats()  # kept up to date as rows come (_chunk_done), not rebuilt each time
        for result in self.run.results:
            self._calibrate(result)
            self._calibrated_stats.add_prediction(result.prediction, result.flagged)
        self.model.resort()
        self.spot_model.resort()
        self.queue_model.clear()
        self.queue_model.add_results([r for r in self.run.results if r.flagged])
        self.review_order.set_order(self.review_order.order)
        flagged = sum(r.flagged for r in self.run.results)
        logger.info("calibrated by %d spot-check verdicts: temperature %.2f, review below %.2f, %d rows flagged",
                    calibration.verdicts, calibration.temperature, calibration.threshold, flagged)
        emit(self.calibrated, calibration)

    def _calibrate(self, result: BatchResult) -> None:
        """Rescale ``result`` by the file's calibration, from what the server sent; a row another
        model version classified (the server was retrained during a paused run) stays as served."""
        if self.calibration is None:
            return
        served, _flag = self._served.setdefault(id(result), (result.prediction, result.flagged))
        if served.model_version != self.calibration_version:
            return
        result.prediction, result.flagged = apply(served, self.calibration)

    def _verdict_saved(self, saved: Correction, _replaced: object, tag: object) -> None:
        if isinstance(tag, tuple) and len(tag) == 2 and tag[0] is self.run:
            self._show_verdict(tag[1], saved)

    def _verdict_undone(self, removed: Correction) -> None:
        result = self._by_correction.get(removed.id) if removed.id is not None else None
        if result is not None:
            self._show_verdict(result, None)

    def _show_verdict(self, result: BatchResult, verdict: Correction | None) -> None:
        """Set ``result``'s verdict and update both tables (rows are found before their key changes)."""
        rows = [(model, model.locate(result)) for model in (self.model, self.queue_model, self.spot_model)]
        if result.verdict is not None and result.verdict.id is not None:
            self._by_correction.pop(result.verdict.id, None)
        result.verdict = verdict
        if verdict is not None and verdict.id is not None:
            self._by_correction[verdict.id] = result
        for model, row in rows:
            if row is not None:
                model.refresh(row)
        if id(result) in self._spot_rank:
            emit(self.spot_checked, self.spot_report())

    def export(self, path: Path) -> Worker | None:
        """Write the results so far (a snapshot) to CSV or JSONL in the background."""
        if self.run is None:
            return None
        run, done = self.run, self.run.done
        worker = Worker(export_results, Path(path), list(run.results))
        return self.services.start(worker.on(returned=lambda written: self._exported(run, done, written), errored=self.export_failed))

    def _exported(self, run: BatchRun, done: int, path: Path) -> None:
        if run is self.run:
            self._exported_done = done
        logger.info("exported %d results to %s", done, path.name)
        emit(self.exported, path)

    def has_unexported_results(self) -> bool:
        """True while a batch runs, or when results were added since the last export."""
        if self.state == RUNNING:
            return True
        return self.run is not None and bool(self.run.results) and self._exported_done != self.run.done
