"""Evaluation: predictions -> ``EvalReport`` (scikit-learn metrics, all eight labels).

Pure except ``save_plots``; the CLI does the reading and printing. Every metric passes
``labels=`` explicitly, so a label missing from a split still shows with support 0.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score

from training.calibration import expected_calibration_error, reliability_bins
from client.core.labels import LABEL2ID, LABELS

LENGTH_BUCKETS = ((1, 10), (11, 30), (31, 80), (81, None))
LENGTH_BUCKET_NAMES = tuple(f"{low}+" if high is None else f"{low}-{high}" for low, high in LENGTH_BUCKETS)
N_MISTAKES = 20


@dataclass
class EvalReport:
    n: int
    accuracy: float
    macro_f1: float
    weighted_f1: float
    per_class: dict[str, dict[str, float]]
    confusion_matrix: list[list[int]]
    labels: list[str]
    ece: float
    by_length: dict[str, dict[str, float]]
    confident_mistakes: list[dict[str, Any]]
    reliability: list[dict[str, float]] = field(default_factory=list)
    by_source: dict[str, dict[str, float]] = field(default_factory=dict)
    review: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> dict[str, Any]:
        """The headline figures and the per-class table (what a model card keeps)."""
        return {"n": self.n, "accuracy": self.accuracy, "macro_f1": self.macro_f1, "weighted_f1": self.weighted_f1, "ece": self.ece,
                "review": self.review, "per_class": self.per_class}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def table(self) -> str:
        """A readable plain-text report."""
        lines = [
            f"n={self.n}  accuracy={self.accuracy:.3f}  macro-F1={self.macro_f1:.3f}  weighted-F1={self.weighted_f1:.3f}  ECE={self.ece:.3f}",
            "",
            f"{'label':<16}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}",
        ]
        for label in self.labels:
            m = self.per_class[label]
            lines.append(f"{label:<16}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>10.3f}{int(m['support']):>10d}")
        lines += ["", "confusion matrix (rows: true, columns: predicted)", " " * 16 + "".join(f"{lab[:7]:>8}" for lab in self.labels)]
        for label, row in zip(self.labels, self.confusion_matrix):
            lines.append(f"{label:<16}" + "".join(f"{v:>8d}" for v in row))
        lines += ["", "accuracy by length (words)"]
        lines += [f"  {k:<8} n={v['n']:<5d} accuracy={v['accuracy']:.3f}" for k, v in self.by_length.items()]
        if self.by_source:
            lines += ["", "by source"]
            lines += [
                f"  {k[:40]:<40} n={v['n']:<5d} accuracy={v['accuracy']:.3f} macro-F1={v['macro_f1']:.3f}" for k, v in self.by_source.items()
            ]
        if self.confident_mistakes:
            lines += ["", f"most confident mistakes (top {len(self.confident_mistakes)})"]
            for m in self.confident_mistakes:
                lines.append(f"  {m['confidence']:.2f} true={m['true']:<15} pred={m['predicted']:<15} {m['text'][:70]!r}")
        return "\n".join(lines)


def _bucket(n_words: int) -> str:
    for low, high in LENGTH_BUCKETS:
        if high is None or n_words <= high:
            return f"{low}+" if high is None else f"{low}-{high}"
    raise AssertionError("unreachable")


def source_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Per-source figures; macro-F1 over the labels that source has (most sources cover few)."""
    present = sorted(set(y_true.tolist()))
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)) if len(y_true) else 0.0,
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)) if len(y_true) else 0.0,
    }


def source_group(source: str | None) -> str:
    """``github_doc_issues:https://...`` -> ``github_doc_issues``: one row per dataset, not per item."""
    return (source or "(none)").split(":", 1)[0]


def evaluate_predictions(
    y_true: Sequence[str],
    proba: np.ndarray,
    texts: Sequence[str] | None = None,
    sources: Sequence[str | None] | None = None,
    review_threshold: float | None = None,
) -> EvalReport:
    """Metrics for calibrated probabilities ``proba`` (n x 8, columns in LABELS order);
    with ``review_threshold``, how well the needs-review flag works as a safety net."""
    proba = np.asarray(proba, dtype=np.float64)
    true = np.array([LABEL2ID[y] for y in y_true], dtype=int)
    pred = proba.argmax(axis=1) if len(proba) else np.zeros(0, dtype=int)
    confidence = proba.max(axis=1) if len(proba) else np.zeros(0)
    correct = (pred == true).astype(float)
    ids = list(range(len(LABELS)))
    report = classification_report(true, pred, labels=ids, target_names=list(LABELS), output_dict=True, zero_division=0)
    per_class = {
        label: {
            "precision": float(report[label]["precision"]),
            "recall": float(report[label]["recall"]),
            "f1": float(report[label]["f1-score"]),
            "support": float(report[label]["support"]),
        }
        for label in LABELS
    }
    texts = list(texts) if texts is not None else [""] * len(true)
    by_length: dict[str, dict[str, float]] = {}
    buckets = [_bucket(len(t.split())) for t in texts]
    for low, high in LENGTH_BUCKETS:
        name = f"{low}+" if high is None else f"{low}-{high}"
        mask = np.array([b == name for b in buckets], dtype=bool)
        if mask.any():
            by_length[name] = {"n": int(mask.sum()), "accuracy": float(correct[mask].mean())}
    wrong = [i for i in np.argsort(-confidence, kind="stable") if not correct[i]][:N_MISTAKES]
    mistakes = [
        {"text": texts[i], "true": LABELS[true[i]], "predicted": LABELS[pred[i]], "confidence": float(confidence[i])} for i in wrong
    ]
    by_source: dict[str, dict[str, float]] = {}
    if sources is not None and any(sources):
        groups = [source_group(s) for s in sources]
        for source in sorted(set(groups)):
            mask = np.array([g == source for g in groups], dtype=bool)
            by_source[source] = source_scores(true[mask], pred[mask])
    return EvalReport(
        n=int(len(true)),
        accuracy=float(accuracy_score(true, pred)) if len(true) else 0.0,
        macro_f1=float(f1_score(true, pred, labels=ids, average="macro", zero_division=0)) if len(true) else 0.0,
        weighted_f1=float(f1_score(true, pred, labels=ids, average="weighted", zero_division=0)) if len(true) else 0.0,
        per_class=per_class,
        confusion_matrix=confusion_matrix(true, pred, labels=ids).tolist(),
        labels=list(LABELS),
        ece=expected_calibration_error(confidence, correct),
        by_length=by_length,
        confident_mistakes=mistakes,
        reliability=reliability_bins(confidence, correct),
        by_source=by_source,
        review=review_flag_scores(confidence, correct, review_threshold) if review_threshold is not None else {},
    )


def review_flag_scores(confidence: np.ndarray, correct: np.ndarray, threshold: float) -> dict[str, float]:
    """Share of items flagged for review, and share of the model's mistakes among them."""
    flagged = np.asarray(confidence) < threshold
    wrong = np.asarray(correct) == 0
    return {
        "threshold": float(threshold),
        "flagged_share": float(flagged.mean()) if len(flagged) else 0.0,
        "mistakes_caught": float((flagged & wrong).sum() / wrong.sum()) if wrong.any() else 1.0,
        "accuracy_unflagged": float(1 - (wrong & ~flagged).sum() / max((~flagged).sum(), 1)),
    }


def save_plots(report: EvalReport, out_dir: str | Path, title: str = "") -> list[Path]:
    """Confusion-matrix and reliability-diagram PNGs; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    ConfusionMatrixDisplay(np.array(report.confusion_matrix), display_labels=report.labels).plot(
        ax=ax, xticks_rotation=45, colorbar=False, cmap="Blues"
    )
    ax.set_title(f"Confusion matrix {title}".strip())
    fig.tight_layout()
    cm_path = out / "confusion_matrix.png"
    fig.savefig(cm_path, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    bins = [b for b in report.reliability if b["count"]]
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.bar([b["low"] for b in bins], [b["accuracy"] for b in bins], width=1 / len(report.reliability), align="edge", alpha=0.7, edgecolor="black", label="accuracy")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", color="C3", label="bin mean confidence")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"Reliability diagram {title} (ECE {report.ece:.3f})".strip())
    ax.legend(loc="upper left")
    fig.tight_layout()
    rel_path = out / "reliability.png"
    fig.savefig(rel_path, dpi=110)
    plt.close(fig)
    return [cm_path, rel_path]
