"""``feedback retrain``: agents' corrections -> a new version, judged, gated, promoted or refused.

The merge and the gate are pure (``merge_corrections``, ``training.gate.decide``); the
rest is the edge: reading stores, training, archiving and the management API.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from training import config as cfg
from training.archive import build_archive, serving_settings
from training.card import card_reading, read_card
from training.config import ArchiveConfig, RetrainConfig, TrainConfig
from training.data import Example, data_hash, load_examples, load_splits, split_examples
from training.datacheck import normalise
from client.core.errors import FeedbackError, ModelError, NotPromotedError, ServerError
from training.evaluate import EvalReport, evaluate_predictions
from training.gate import Decision, ModelScores, decide
from client.core.labels import LABELS
from client.core.corrections import Correction, CorrectionsStore, read_corrections
from client.core.api import ManagementClient, connect
from training.registry import archive_name, model_dir, next_version, record_default, recorded_default, version_folders

logger = logging.getLogger(__name__)


@dataclass
class MergeResult:
    train: list[Example]
    heldout: list[Example]
    excluded_test: int
    conflicts: list[str]
    duplicates: int
    used: list[tuple[str, int]] = field(default_factory=list)  # (store, correction id) trained on or held out

    @property
    def replaced_texts(self) -> frozenset[str]:
        return frozenset(correction_key(e.text) for e in self.train + self.heldout)

    def corrections_hash(self) -> str:
        return data_hash(sorted(self.train + self.heldout, key=lambda e: e.id))


def correction_key(text: str) -> str:
    """What corrections are matched on: the normalised words of the text or, for a text
    with no a-z word at all (Cyrillic, Chinese, only emoji), the text itself case-folded
    with its spaces collapsed. ``normalise`` alone gives those texts an empty key, and
    the merge skipped them silently: never trained on, never excluded as test texts."""
    return normalise(text) or " ".join(text.casefold().split())


def in_heldout(text_key: str, fraction: float) -> bool:
    """Whether a correction (by its normalised text) is held out to judge both models: a hash,
    so the same text is always on the same side."""
    return int(hashlib.sha256(text_key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < fraction


def merge_corrections(
    corrections: Sequence[tuple[str, Correction]], test_texts: set[str], heldout_fraction: float
) -> MergeResult:
    """De-duplicate on normalised text (latest wins), drop test-split texts, hold some out.

    ``corrections`` are (source name, correction) pairs; ``test_texts`` the test split's
    texts (as written or already normalised: both match through ``correction_key``).
    Pending corrections are split by a hash of their text, so the same text is always held
    out or always trained on; those that a previous version consumed always go to training.
    """
    latest: dict[str, tuple[str, Correction]] = {}
    labels_seen: dict[str, set[str]] = {}
    duplicates = 0
    test_keys = {correction_key(t) for t in test_texts}
    for source, c in sorted(corrections, key=lambda sc: (sc[1].created_at or "", sc[1].id or 0)):
        key = correction_key(c.text)
        if key in latest:
            duplicates += 1
        latest[key] = (source, c)
        labels_seen.setdefault(key, set()).add(c.final_label)
    conflicts = [f"{len(v)} labels for one text: {', '.join(sorted(v))} (latest kept)" for v in labels_seen.values() if len(v) > 1]
    train, heldout, excluded = [], [], 0
    used: list[tuple[str, int]] = []
    for key, (source, c) in latest.items():
        if key in test_keys:
            excluded += 1
            continue
        example = Example(id=f"correction:{Path(source).name}:{c.id}", text=c.text, label=c.final_label, source="correction")
        if c.id is not None:
            used.append((source, c.id))
        if c.consumed_by is None and in_heldout(key, heldout_fraction):
            heldout.append(example)
        else:
            train.append(example)
    return MergeResult(train, heldout, excluded, conflicts, duplicates, used)


def scores(test: EvalReport, heldout: EvalReport | None, outcomes: tuple[tuple[str, bool], ...] = ()) -> ModelScores:
    return ModelScores(
        macro_f1=test.macro_f1,
        recall={label: m["recall"] for label, m in test.per_class.items()},
        support={label: m["support"] for label, m in test.per_class.items()},
        heldout_accuracy=heldout.accuracy if heldout and heldout.n else None,
        heldout_n=heldout.n if heldout else 0,
        outcomes=outcomes,
    )


@contextmanager
def retrain_lock(models_dir: Path) -> Iterator[None]:
    """One retrain at a time, through an OS file lock (``filelock``).

    The operating system releases the lock when its holder dies, even by ``kill -9``, so
    a crashed retrain never leaves a stale lock behind; the pid inside is only for the
    message that names who holds it.
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    path = models_dir / ".retrain.lock"
    lock = FileLock(path.with_suffix(".lock.flock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = path.read_text().strip() if path.exists() else "unknown"
        raise FeedbackError(f"another retrain is running (pid {holder}, lock {path})", "wait for it to finish; the lock goes away by itself when that process ends") from None
    try:
        path.write_text(str(os.getpid()))
        yield
    finally:
        path.unlink(missing_ok=True)
        lock.release()


def current_version(config: RetrainConfig, server: ManagementClient | None) -> str:
    version = (server.default_version() if server else None) or recorded_default(config.model_store)
    if version is None:
        found = version_folders(config.models_dir, complete=False)
        if not found:
            raise ModelError(f"no current model: nothing served, recorded or in {config.models_dir}", "train and archive one first (`make run`)")
        version = str(max(found))
    if not (model_dir(config.models_dir, version) / "config.json").exists():
        raise ModelError(f"the current version {version} has no model folder {model_dir(config.models_dir, version)}", "restore it, or roll back to a version you have")
    return version


def evaluate_model(loaded: Any, test: list[Example], heldout: list[Example]) -> tuple[EvalReport, EvalReport | None, tuple[tuple[str, bool], ...]]:
    """A loaded model on our test split and on the held-out corrections, and per test item
    (true label, answered right): what the gate compares, item by item."""
    from training.inference import predict_proba

    test_proba = predict_proba(loaded, [e.text for e in test])
    test_report = evaluate_predictions([e.label for e in test], test_proba, [e.text for e in test])
    outcomes = tuple((e.label, LABELS[int(i)] == e.label) for e, i in zip(test, test_proba.argmax(axis=1)))
    held = None
    if heldout:
        held = evaluate_predictions([e.label for e in heldout], predict_proba(loaded, [e.text for e in heldout]), [e.text for e in heldout])
    return test_report, held, outcomes


def load_all_corrections(paths_: Sequence[Path]) -> list[tuple[str, Correction]]:
    out = []
    for path in paths_:
        if not path.exists():
            logger.warning("corrections store %s does not exist; skipped", path)
            continue
        out += [(str(path), c) for c in read_corrections(path)]
    return out


def new_version_config(config: RetrainConfig, out: Path, version: int, current_card: dict[str, Any] | None = None) -> TrainConfig:
    """How the new version trains: the full recipe, or (``--fast``) a short continuation of the
    current version on the corrections plus a replayed stratified sample of our data, so
    it learns the new traffic without forgetting the old. A version that continues from the
    current one sees text the way it did (clean-up, head and tail, windows)."""
    continues = (config.fast or config.start_from == "current") and current_card is not None
    text = card_reading(current_card) if continues else {}
    # A full retrain is `feedback train`'s recipe, distillation from the saved logits included:
    # corrections never get a target (their ids are new, and a corrected text of ours is
    # dropped from the data or, relabelled, no longer matches its target's label). A fast
    # retrain does not distil: a short continuation on the corrections should move towards
    # them, not towards a teacher that never saw that traffic. Nor does it average its epochs:
    # its settings were chosen and measured without averaging (docs/ADAPT_CURVE.md). A full
    # retrain averages, as `feedback train` does. Nor does a fast retrain mask tokens: its
    # settings were chosen and measured without masking (docs/ADAPT_CURVE.md).
    if config.fast:
        return TrainConfig(
            data=config.data, splits=config.splits, out=out, version=version, epochs=config.fast_epochs, max_length=config.max_length,
            max_train_items=config.replay, learning_rate=config.fast_learning_rate, seed=config.seed, patience=1, warmup_ratio=0.0,
            freeze_layers=config.fast_freeze, teacher=None, average_epochs=False, token_mask=0.0, **text,
        )
    return TrainConfig(
        data=config.data, splits=config.splits, out=out, version=version, epochs=config.epochs, max_length=config.max_length,
        max_train_items=config.max_train_items, learning_rate=config.learning_rate, seed=config.seed, **text,
    )


def run_retrain(config: RetrainConfig) -> dict[str, Any]:
    """The whole loop; returns the report. Raises NotPromotedError (exit 3) on refusal."""
    with retrain_lock(config.models_dir):
        return _run(config)


def _run(config: RetrainConfig) -> dict[str, Any]:
    started = time.monotonic()
    live = connect(config.state_dir, timeout=180)
    server = None if config.dry_run else live
    current = current_version(config, live)
    current_dir = model_dir(config.models_dir, current)
    parts = split_examples(load_examples(config.data), load_splits(config.splits))
    test = parts["test"]
    corrections = load_all_corrections(config.corrections)
    merged = merge_corrections(corrections, {e.text for e in test}, config.heldout_fraction)
    if not merged.train and not merged.heldout:
        raise FeedbackError("no usable corrections to retrain on", "correct some predictions in the app first, or pass --corrections PATH")
    logger.info(
        "retraining from v%s with %d corrections (%d held out, %d excluded as test texts, %d conflicts)",
        current, len(merged.train), len(merged.heldout), merged.excluded_test, len(merged.conflicts),
    )
    new_version = next_version(config.models_dir, at_least=int(current))
    scratch = Path(tempfile.mkdtemp(prefix="retrain-", dir=config.models_dir))
    new_dir = model_dir(scratch, new_version)
    train_config = new_version_config(config, new_dir, new_version, read_card(current_dir))
    corrections_info = {
        "count": len(merged.train) + len(merged.heldout), "train": len(merged.train), "heldout": len(merged.heldout),
        "hash": merged.corrections_hash(), "excluded_test": merged.excluded_test, "conflicts": len(merged.conflicts), "duplicates": merged.duplicates,
    }
    from training.train import train

    try:
        result = train(
            train_config, extra_train=merged.train, init_from=str(current_dir) if config.start_from == "current" else None,
            card_extra={"corrections": corrections_info, "retrained_from": current}, replaced_texts=merged.replaced_texts,
        )
        from training.inference import load_model

        new_test, new_held, new_outcomes = evaluate_model(load_model(result.out_dir), test, merged.heldout)
        old_test, old_held, old_outcomes = evaluate_model(load_model(current_dir), test, merged.heldout)
        decision = decide(scores(old_test, old_held, old_outcomes), scores(new_test, new_held, new_outcomes), config.gate)
        report = build_report(config, current, new_version, corrections_info, merged, old_test, new_test, old_held, new_held, decision)
        if decision.promote and not config.dry_run:
            final_dir = model_dir(config.models_dir, new_version)
            shutil.move(str(result.out_dir), final_dir)
            report["promotion"] = promote(config, final_dir, str(new_version), server, merged.used, current)
        elif not decision.promote and not config.dry_run:
            rejected = config.models_dir / "rejected" / f"v{new_version}-{time.strftime('%Y%m%d-%H%M%S')}"
            rejected.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(result.out_dir), rejected)
            report["rejected_model"] = str(rejected)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report["seconds"] = round(time.monotonic() - started, 1)
    report["paths"] = write_report(config.models_dir / "reports", report)
    if not decision.promote:
        raise NotPromotedError(
            f"v{new_version} was not promoted: {'; '.join(decision.reasons)}",
            f"nothing changed; see {report['paths']['markdown']}",
        )
    return report


def promote(config: RetrainConfig, model_dir: Path, version: str, server: ManagementClient | None, used: list[tuple[str, int]],
            current: str | None = None) -> dict[str, Any]:
    """Archive (with the serving settings of the ``current`` version's archive), register, set
    default (undoing the registration if that fails), record, mark consumed.

    Only corrections this round used (trained on or held out) are marked; those excluded
    because their text is in the test split stay pending, visibly unused.
    """
    current = current or recorded_default(config.model_store)
    carried = serving_settings(config.model_store / archive_name(current)) if current else {}
    archive = build_archive(ArchiveConfig(model=model_dir, model_store=config.model_store, **carried))
    out: dict[str, Any] = {"archive": str(archive), "registered": False}
    if server is not None:
        server.register(archive_name(version))
        out["registered"] = True
        try:
            server.set_default(version)
        except ServerError:
            logger.error("setting v%s as default failed; unregistering it", version, exc_info=True)
            server.unregister(version)
            raise
        out["default_on_server"] = version
    else:
        out["note"] = "TorchServe is not running: the new version is served at the next `feedback serve start`"
    record_default(config.model_store, version)
    consumed = 0
    for path in {Path(src) for src, _ in used}:
        if path.suffix.lower() in (".sqlite3", ".sqlite", ".db"):
            consumed += CorrectionsStore(path).mark_consumed([i for src, i in used if Path(src) == path], version)
    out["corrections_marked_consumed"] = consumed
    return out


def _class_deltas(old: EvalReport, new: EvalReport) -> dict[str, dict[str, float]]:
    return {
        label: {
            "recall_before": old.per_class[label]["recall"], "recall_after": new.per_class[label]["recall"],
            "f1_before": old.per_class[label]["f1"], "f1_after": new.per_class[label]["f1"],
            "f1_delta": new.per_class[label]["f1"] - old.per_class[label]["f1"],
        }
        for label in LABELS
    }


def build_report(config, current, new_version, corrections_info, merged, old_test, new_test, old_held, new_held, decision: Decision) -> dict[str, Any]:
    return {
        "current_version": current,
        "new_version": new_version,
        "dry_run": config.dry_run,
        "start_from": config.start_from,
        "config": cfg.to_dict(config),
        "data": {"test_items": old_test.n, "corrections": corrections_info, "conflicts": merged.conflicts},
        "before": {"test_macro_f1": old_test.macro_f1, "test_accuracy": old_test.accuracy, "heldout_accuracy": old_held.accuracy if old_held else None},
        "after": {"test_macro_f1": new_test.macro_f1, "test_accuracy": new_test.accuracy, "heldout_accuracy": new_held.accuracy if new_held else None},
        "per_class": _class_deltas(old_test, new_test),
        "decision": decision.to_dict(),
    }


def write_report(folder: Path, report: dict[str, Any]) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"retrain-v{report['new_version']}-{time.strftime('%Y%m%d-%H%M%S')}"
    paths_ = {"json": str(stem.with_suffix(".json")), "markdown": str(stem.with_suffix(".md"))}
    Path(paths_["json"]).write_text(json.dumps({**report, "paths": paths_}, indent=2) + "\n", encoding="utf-8")
    Path(paths_["markdown"]).write_text(report_markdown(report), encoding="utf-8")
    return paths_


def report_markdown(report: dict[str, Any]) -> str:
    d = report["decision"]
    c = report["data"]["corrections"]
    lines = [
        f"# Retrain v{report['current_version']} -> v{report['new_version']}: {'PROMOTED' if d['promote'] and not report['dry_run'] else ('would promote (dry run)' if d['promote'] else 'NOT PROMOTED')}",
        "",
        f"Corrections: {c['count']} used ({c['train']} trained on, {c['heldout']} held out), {c['excluded_test']} excluded (text in the test split), {c['conflicts']} conflicts, {c['duplicates']} duplicates. Hash {c['hash']}.",
        "",
        "| metric | before | after |",
        "|---|---:|---:|",
    ]
    for key in ("test_macro_f1", "test_accuracy", "heldout_accuracy"):
        before, after = report["before"][key], report["after"][key]
        lines.append(f"| {key} | {'-' if before is None else f'{before:.4f}'} | {'-' if after is None else f'{after:.4f}'} |")
    lines += ["", "| class | recall before | recall after | F1 delta |", "|---|---:|---:|---:|"]
    for label, m in report["per_class"].items():
        lines.append(f"| {label} | {m['recall_before']:.3f} | {m['recall_after']:.3f} | {m['f1_delta']:+.3f} |")
    lines += ["", "## Gate", ""] + [f"- **{ch['status']}** {ch['name']}: {ch['detail']}" for ch in d["checks"]]
    return "\n".join(lines) + "\n"
