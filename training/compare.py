"""``feedback compare``: baselines and the fine-tuned model on the same split, one table.

Evaluated on our fixed test split, our two development sets (``dev.jsonl``, and
``dev_long.jsonl`` of long texts), our held-back messy set and
``../shared/eval/external_eval.jsonl`` (per source too). The external set is only measured and reported, never trained or tuned on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training import paths
from training.baselines import LinearProbe, majority, tfidf_logreg
from training.config import CompareConfig
from training.data import Example, load_examples, load_splits, split_examples
from training.evaluate import LENGTH_BUCKET_NAMES, EvalReport, evaluate_predictions, save_plots
from training.inference import load_model, predict_proba

logger = logging.getLogger(__name__)


@dataclass
class Row:
    system: str
    dataset: str
    report: EvalReport
    train_seconds: float
    items_per_second: float


HOLDOUT = "our held-back messy set"
LONG_DEV = "our long-text development set"
# Where each dataset's plots go, under the report's img/ folder.
SLUGS = {"our test split": "test", "our development set": "dev", LONG_DEV: "long_dev", HOLDOUT: "holdout", "external eval": "external"}


def _measure(system: Any, name: str, dataset: str, items: list[Example], train_seconds: float, threshold: float | None = None) -> Row:
    started = time.perf_counter()
    proba = system(items)
    seconds = max(time.perf_counter() - started, 1e-9)
    report = evaluate_predictions([e.label for e in items], proba, [e.text for e in items], [e.source for e in items], review_threshold=threshold)
    return Row(name, dataset, report, train_seconds, len(items) / seconds)


def run_compare(config: CompareConfig) -> dict[str, Any]:
    from training.registry import latest_model_dir
    from training.train import resolve_base_model

    parts = split_examples(load_examples(config.data), load_splits(config.splits))
    train, test = parts["train"], parts["test"]
    datasets = {"our test split": test}
    if config.dev and config.dev.exists():
        datasets["our development set"] = load_examples(config.dev)
    if config.long_dev and config.long_dev.exists():
        datasets[LONG_DEV] = load_examples(config.long_dev)
    if config.holdout and config.holdout.exists():
        datasets[HOLDOUT] = load_examples(config.holdout)
    if config.external and config.external.exists():
        datasets["external eval"] = load_examples(config.external)
    texts, labels = [e.text for e in train], [e.label for e in train]
    systems: list[tuple[str, Any, float, float | None]] = []
    for baseline in [majority(), tfidf_logreg()] + ([] if config.skip_probe else [LinearProbe(resolve_base_model(config.base_model))]):
        started = time.perf_counter()
        logger.info("fitting %s", baseline.name)
        baseline.fit(texts, labels)
        systems.append((baseline.name, lambda items, b=baseline: b.predict_proba([e.text for e in items]), time.perf_counter() - started, None))
    model_dir = config.model or latest_model_dir(paths.models_dir())
    loaded = load_model(model_dir)
    systems.append((f"fine-tuned v{loaded.card.get('version', '?')}", lambda items: predict_proba(loaded, [e.text for e in items]),
                    float(loaded.card.get("training_seconds", 0.0)), loaded.card.get("needs_review_threshold")))
    rows = [_measure(fn, name, ds_name, items, secs, threshold) for name, fn, secs, threshold in systems for ds_name, items in datasets.items()]
    table = format_table(rows)
    if config.report:
        write_report(config.report, rows, model_dir)
    return {"table": table, "json": [_row_json(r) for r in rows]}


def _row_json(row: Row) -> dict[str, Any]:
    return {
        "system": row.system,
        "dataset": row.dataset,
        **row.report.summary(),
        "train_seconds": row.train_seconds,
        "items_per_second": row.items_per_second,
        "by_source": row.report.by_source,
    }


def format_table(rows: list[Row]) -> str:
    lines = [f"| system | dataset | n | macro-F1 | accuracy | ECE | train s | items/s |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r.system} | {r.dataset} | {r.report.n} | {r.report.macro_f1:.3f} | {r.report.accuracy:.3f} | {r.report.ece:.3f} | {r.train_seconds:.1f} | {r.items_per_second:.0f} |"
        )
    return "\n".join(lines)


def write_report(path: Path, rows: list[Row], model_dir: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = path.parent / "img"
    sections = ["# Model report", "", "Written by `feedback compare`. Same training split for every system; the external set is measured only, never trained or tuned on.", "", format_table(rows), ""]
    for r in rows:
        if r.system.startswith("fine-tuned"):
            slug = SLUGS[r.dataset]
            plots = save_plots(r.report, img / slug, title=f"({r.dataset})")
            sections += [f"## Fine-tuned model on {r.dataset}", "", "```", r.report.table(), "```", ""]
            sections += [f"![{p.stem}](img/{slug}/{p.name})" for p in plots] + [""]
    tuned = [r for r in rows if r.report.review]
    if tuned:
        sections += ["## The needs-review flag as a safety net", "",
                     "Items below the review threshold (fitted on the selection set) are flagged for an agent. "
                     "Caught: share of the model's mistakes that are flagged.", "",
                     "| dataset | threshold | flagged | mistakes caught | accuracy of unflagged |", "|---|---:|---:|---:|---:|"]
        sections += [f"| {r.dataset} | {r.report.review['threshold']:.2f} | {r.report.review['flagged_share']:.1%} | {r.report.review['mistakes_caught']:.1%} | {r.report.review['accuracy_unflagged']:.3f} |" for r in tuned]
        buckets = [b for b in LENGTH_BUCKET_NAMES if any(b in r.report.by_length for r in tuned)]
        sections += ["", "## Accuracy by length (words)", "", "| dataset | " + " | ".join(buckets) + " |", "|---|" + "---:|" * len(buckets)]
        sections += [f"| {r.dataset} | " + " | ".join(f"{r.report.by_length[k]['accuracy']:.2f} (n={r.report.by_length[k]['n']})" if k in r.report.by_length else "-" for k in buckets) + " |" for r in tuned]
        sections.append("")
    ext = [r for r in rows if r.dataset == "external eval" and r.report.by_source]
    if ext:
        sections += ["## External evaluation per source (macro-F1 / accuracy)", "", "| system | " + " | ".join(ext[0].report.by_source) + " |", "|---|" + "---:|" * len(ext[0].report.by_source)]
        for r in ext:
            sections.append(f"| {r.system} | " + " | ".join(f"{v['macro_f1']:.2f} / {v['accuracy']:.2f} (n={v['n']})" for v in r.report.by_source.values()) + " |")
        sections.append("")
    path.write_text("\n".join(sections) + kept_by_hand(path), encoding="utf-8")


HAND_WRITTEN = "<!-- written by hand below: feedback compare keeps it -->"


def kept_by_hand(path: Path) -> str:
    """The hand-written tail of an existing report (experiments, what did not help), from the
    ``HAND_WRITTEN`` marker on: the tables above it are regenerated, the record below it is not."""
    if not path.exists():
        return ""
    text = path.read_text(encoding="utf-8")
    at = text.find(HAND_WRITTEN)
    return "" if at < 0 else "\n" + text[at:]
