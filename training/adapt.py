"""``feedback adapt-curve``: how fast agents' corrections close the gap on new traffic.

For each source of an evaluation file with enough items, an agent is simulated who
corrects k of its items (stratified by label, several seeds); the fast retrain
(``feedback retrain --fast``'s recipe) runs on them from the current model, in a
temporary folder, and the rest of that source is scored before and after, next to the
gate's decision. Nothing here touches models/, the model store, the server or the
committed data: it is a measurement. Run it on our development set to choose the fast
settings; on ../shared/eval it is only reported (the one place where external items are
trained on, in temporary folders, never kept).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from client.core.errors import DataError
from client.core.labels import LABEL2ID
from training import paths
from training.config import AdaptConfig, RetrainConfig
from training.data import Example, load_examples, load_splits, split_examples
from training.evaluate import evaluate_predictions, source_group, source_scores
from training.gate import decide
from training.datacheck import normalise, text_key
from training.retrain import evaluate_model, in_heldout, new_version_config, scores

logger = logging.getLogger(__name__)


@dataclass
class Point:
    source: str
    k: int
    seed: int
    before_macro_f1: float
    after_macro_f1: float
    rest_n: int
    promoted: bool
    reasons: list[str] = field(default_factory=list)
    minutes: float = 0.0
    gate_alpha: float | None = None  # the gate's chance level (None: a run from before the gate asked McNemar's test)
    settings: dict[str, Any] | None = None  # the fast retrain's settings and replayed data (None: a run from before they were kept)
    before_ece: float | None = None  # calibration error on the rest of the source (None: a run from before it was kept)
    after_ece: float | None = None


def group_sources(examples: list[Example]) -> dict[str, list[Example]]:
    """Items by dataset (the ``source`` field, else the id's prefix: ``dev-a-0001`` -> ``dev-a``)."""
    groups: dict[str, list[Example]] = defaultdict(list)
    for e in examples:
        name = source_group(e.source) if e.source else e.id.rsplit("-", 1)[0]
        groups[name].append(e)
    return dict(groups)


def sample_corrections(items: list[Example], k: int, seed: int) -> tuple[list[Example], list[Example]]:
    """(k corrected items stratified by label, the rest): what one simulated agent saw."""
    from training.train import stratified_subset

    picked = stratified_subset(items, k, seed)
    chosen = {id(e) for e in picked}
    return picked, [e for e in items if id(e) not in chosen]


def already_trained_on(items: list[Example], train_data: list[Example]) -> list[Example]:
    """Items of the simulated sources whose text is in the data the fast retrain replays: the
    replay would teach them before the agent corrects them, and the curve would measure that."""
    known = {text_key(e.text) for e in train_data}
    return [e for e in items if text_key(e.text) in known]


def fast_retrain_settings(config: AdaptConfig) -> RetrainConfig:
    """The ``feedback retrain --fast`` each simulated round runs: replaying ``train_data``, so a
    model trained without some of our parts never sees them again through the replay."""
    return RetrainConfig(data=config.train_data, replay=config.replay, fast_epochs=config.fast_epochs, fast_learning_rate=config.fast_learning_rate,
                         fast_freeze=config.fast_freeze, gate_alpha=config.gate_alpha, fast=True)


def round_settings(config: AdaptConfig) -> dict[str, Any]:
    """What each simulated round was trained with, kept with its point: curves made with other
    settings or another replay file must not be averaged together by ``--from-json``."""
    return {"replay": config.replay, "fast_epochs": config.fast_epochs, "fast_learning_rate": config.fast_learning_rate,
            "fast_freeze": config.fast_freeze, "heldout_fraction": config.heldout_fraction, "train_data": str(config.train_data)}


def run_adapt_curve(config: AdaptConfig) -> list[Point]:
    from training.inference import load_model, predict_proba
    from training.registry import latest_model_dir
    from training.train import train

    model_dir = config.model or latest_model_dir(paths.models_dir())
    current = load_model(model_dir)
    retrain = fast_retrain_settings(config)
    ours = load_examples(retrain.data)
    test = split_examples(ours, load_splits(retrain.splits))["test"]
    old_test, _, old_outcomes = evaluate_model(current, test, [])  # the same for every simulated run
    wanted = {s.strip() for s in config.sources.split(",")} if config.sources else None
    groups = {name: items for name, items in group_sources(load_examples(config.data)).items()
              if len(items) >= config.min_source and (wanted is None or name in wanted)}
    overlap = already_trained_on([e for items in groups.values() for e in items], ours)
    if overlap:
        raise DataError(f"{len(overlap)} item(s) of {config.data} are also in {retrain.data}, e.g. {overlap[0].id!r}",
                        "simulate on items the model was not trained on: pass --train-data a copy of the data without them")
    points: list[Point] = []
    with tempfile.TemporaryDirectory(prefix="adapt-") as tmp:
        for name, items in sorted(groups.items()):
            for k in [k for k in config.k_values if k <= len(items) // 2]:
                for seed in range(config.first_seed, config.first_seed + config.seeds):
                    started = time.monotonic()
                    corrected, rest = sample_corrections(items, k, seed)
                    held = [in_heldout(normalise(e.text), config.heldout_fraction) for e in corrected]
                    heldout = [e for e, h in zip(corrected, held) if h]
                    trained_on = [Example(f"correction:{e.id}", e.text, e.label, source="correction") for e, h in zip(corrected, held) if not h]
                    out = Path(tmp) / f"{name}-k{k}-s{seed}"
                    train_config = new_version_config(retrain, out, int(current.card.get("version", 1)) + 1, current.card)
                    train_config.seed = seed
                    if config.data.resolve() == paths.dev_file().resolve():
                        train_config.dev = None  # simulating on the dev set: it must not also pick the epoch
                    result = train(train_config, extra_train=trained_on, init_from=str(model_dir))
                    adapted = load_model(result.out_dir)
                    new_test, new_held, new_outcomes = evaluate_model(adapted, test, heldout)
                    old_held = evaluate_model(current, heldout, [])[0] if heldout else None
                    decision = decide(scores(old_test, old_held, old_outcomes), scores(new_test, new_held, new_outcomes), retrain.gate)
                    labels = [e.label for e in rest]
                    truth = np.array([LABEL2ID[label] for label in labels])
                    before = predict_proba(current, [e.text for e in rest])
                    after = predict_proba(adapted, [e.text for e in rest])
                    point = Point(name, k, seed, source_scores(truth, before.argmax(axis=1))["macro_f1"], source_scores(truth, after.argmax(axis=1))["macro_f1"],
                                  len(rest), decision.promote, decision.reasons, round((time.monotonic() - started) / 60, 2), retrain.gate_alpha,
                                  round_settings(config), round(evaluate_predictions(labels, before).ece, 4), round(evaluate_predictions(labels, after).ece, 4))
                    logger.info("adapt %s k=%d seed=%d: %.3f -> %.3f, ECE %.3f -> %.3f (%s, %.1f min)", name, k, seed, point.before_macro_f1,
                                point.after_macro_f1, point.before_ece, point.after_ece, "promoted" if point.promoted else "refused", point.minutes)
                    points.append(point)
                    if config.out:
                        config.out.write_text(json.dumps([p.__dict__ for p in points], indent=2) + "\n", encoding="utf-8")
    return points


def curve_table(points: list[Point]) -> str:
    """Mean macro-F1 and calibration error on the rest of each source, before and after k
    corrections, with the gate's decisions. A row whose runs did not all keep the ECE shows none."""
    rows: dict[tuple[str, int], list[Point]] = defaultdict(list)
    for p in points:
        rows[(p.source, p.k)].append(p)
    lines = ["| source | k | runs | macro-F1 before | after | gain (points) | ECE before | after | promoted | minutes per retrain |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for (source, k), group in sorted(rows.items()):
        before = float(np.mean([p.before_macro_f1 for p in group]))
        after = float(np.mean([p.after_macro_f1 for p in group]))
        kept = all(p.before_ece is not None and p.after_ece is not None for p in group)
        ece = (f"{np.mean([p.before_ece for p in group]):.3f} | {np.mean([p.after_ece for p in group]):.3f}" if kept else "- | -")
        lines.append(f"| {source} | {k} | {len(group)} | {before:.3f} | {after:.3f} | {100 * (after - before):+.1f} | {ece} | "
                     f"{sum(p.promoted for p in group)}/{len(group)} | {np.mean([p.minutes for p in group]):.1f} |")
    return "\n".join(lines)


def load_points(files: list[Path]) -> list[Point]:
    """Points saved by earlier runs (``--out``), so repetitions run apart are shown together."""
    points: dict[tuple[str, int, int], Point] = {}
    for path in files:
        try:
            rows = [Point(**row) for row in json.loads(path.read_text(encoding="utf-8"))]
        except (OSError, ValueError, TypeError) as exc:
            raise DataError(f"{path}: not a curve written by `feedback adapt-curve --out` ({exc})", "pass the JSON files that --out wrote") from None
        for point in rows:
            earlier = next((p.settings for p in points.values() if p.settings is not None), None)
            if point.settings is not None and earlier is not None and point.settings != earlier:
                changed = sorted(key for key in set(point.settings) | set(earlier) if point.settings.get(key) != earlier.get(key))
                raise DataError(f"{path}: made with other fast-retrain settings than the files before it ({', '.join(changed)})",
                                "show each setting's curves with their own --from-json")
            key = (point.source, point.k, point.seed)
            if key in points:  # the same simulated agent twice would weigh double in the mean
                logger.warning("%s: %s k=%d seed=%d is already in an earlier file; the later one is kept", path, *key)
            points[key] = point
    return list(points.values())


def curve_plot(points: list[Point], path: Path) -> Path:
    """Macro-F1 on the rest of each source against k, before (dashed) and after the fast
    retrain (mean over seeds, each seed a dot; a filled dot was promoted by the gate)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    for colour, source in enumerate(sorted({p.source for p in points})):
        mine = [p for p in points if p.source == source]
        ks = sorted({p.k for p in mine})
        after = [float(np.mean([p.after_macro_f1 for p in mine if p.k == k])) for k in ks]
        before = [float(np.mean([p.before_macro_f1 for p in mine if p.k == k])) for k in ks]
        ax.plot(ks, after, marker="o", color=f"C{colour}", label=source)
        ax.plot(ks, before, linestyle="--", color=f"C{colour}", alpha=0.6)
        for p in mine:
            ax.scatter([p.k], [p.after_macro_f1], color=f"C{colour}" if p.promoted else "white", edgecolors=f"C{colour}", zorder=3, s=28)
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(sorted({p.k for p in points}), labels=[str(k) for k in sorted({p.k for p in points})])
    ax.set_xlabel("corrected items k (log scale)")
    ax.set_ylabel("macro-F1 on the rest of the source")
    ax.set_title("Fast retrain on k corrections: after (solid), before (dashed); filled = promoted")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
