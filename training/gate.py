"""The promotion gate: a pure function of two models' scores and the thresholds.

A retrained version is promoted only when
  1. its test macro-F1 is not lower than the current model's by more than ``f1_tolerance`` points,
  2. no class's test recall drops by more than ``recall_drop`` points, and
  3. with at least ``min_heldout`` held-out corrections, its accuracy on them is higher
     (with fewer, this check is reported as skipped).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

PASS, FAIL, SKIPPED = "pass", "fail", "skipped"


@dataclass(frozen=True)
class GateThresholds:
    f1_tolerance: float = 0.5
    recall_drop: float = 3.0
    min_heldout: int = 20

    def __post_init__(self) -> None:
        if self.f1_tolerance < 0 or self.recall_drop < 0 or self.min_heldout < 1:
            raise ValueError(f"gate thresholds must be >= 0 (min_heldout >= 1). But they were: {self}")


@dataclass(frozen=True)
class ModelScores:
    """What the gate needs of one model: test macro-F1, per-class recall/support, held-out accuracy."""

    macro_f1: float
    recall: dict[str, float]
    support: dict[str, float] = field(default_factory=dict)
    heldout_accuracy: float | None = None
    heldout_n: int = 0


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str


@dataclass(frozen=True)
class Decision:
    promote: bool
    checks: tuple[Check, ...]

    @property
    def reasons(self) -> list[str]:
        return [c.detail for c in self.checks if c.status == FAIL]

    def to_dict(self) -> dict:
        return {"promote": self.promote, "checks": [asdict(c) for c in self.checks]}


def decide(current: ModelScores, new: ModelScores, thresholds: GateThresholds = GateThresholds()) -> Decision:
    checks = []
    delta = (new.macro_f1 - current.macro_f1) * 100
    ok = delta >= -thresholds.f1_tolerance
    checks.append(
        Check("test_macro_f1", PASS if ok else FAIL, f"test macro-F1 {current.macro_f1:.4f} -> {new.macro_f1:.4f} ({delta:+.2f} points; tolerance -{thresholds.f1_tolerance:g})")
    )
    drops = []
    for label, before in current.recall.items():
        if current.support.get(label, 1) == 0:
            continue
        change = (new.recall.get(label, 0.0) - before) * 100
        if change < -thresholds.recall_drop:
            drops.append(f"{label} {change:+.1f}")
    checks.append(
        Check(
            "per_class_recall",
            FAIL if drops else PASS,
            f"recall dropped more than {thresholds.recall_drop:g} points for: {', '.join(drops)}" if drops else f"no class recall dropped more than {thresholds.recall_drop:g} points",
        )
    )
    if new.heldout_n < thresholds.min_heldout or new.heldout_accuracy is None or current.heldout_accuracy is None:
        checks.append(Check("heldout_corrections", SKIPPED, f"{new.heldout_n} held-out corrections; at least {thresholds.min_heldout} are needed to judge"))
    else:
        better = new.heldout_accuracy > current.heldout_accuracy
        checks.append(
            Check(
                "heldout_corrections",
                PASS if better else FAIL,
                f"accuracy on {new.heldout_n} held-out corrections {current.heldout_accuracy:.3f} -> {new.heldout_accuracy:.3f}" + ("" if better else " (must improve)"),
            )
        )
    return Decision(all(c.status != FAIL for c in checks), tuple(checks))
