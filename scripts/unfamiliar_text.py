"""Would flagging text unlike our training data catch the mistakes that confidence misses?
(a measurement)

The needs-review flag today is "confidence under a threshold fitted on the development set".
On real traffic the model is confidently wrong, so that flag catches few of its mistakes
(docs/MODEL_REPORT.md). A classic complement (Lee et al. 2018) scores how far a text's
features lie from what training saw: the Mahalanobis distance of what the head reads to the
nearest label's mean, with one covariance shared by the labels (Ledoit-Wolf shrinkage: 384
dimensions, about 5,000 items), both fitted on our training split. The features come from
the head-and-tail reading of each text; the answers and confidences, whose mistakes are
counted, from the reading the server makes (long texts in windows too).

Flags compared on each set, thresholds fixed on the development set only:
  confidence   confidence under the card's review threshold (what the handler does today)
  distance     distance over the development set's 90th percentile
  either       either of the two
  matched      confidence alone, under the threshold that flags as much of the development set
               as "either" does (is the gain more than flagging more?)
and, threshold-free, the AUROC of each score for "this answer is a mistake".

    python scripts/unfamiliar_text.py --model /work/runs/s30/default/model --json out.json
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from client.core.labels import LABEL2ID
from training import paths
from training.data import load_examples, load_splits, split_examples
from training.inference import load_model, model_inputs, predict_proba
from training.probe import head_inputs
from training.train import classification_head

DISTANCE_PERCENTILE = 90.0  # the share of the development set the distance flag may mark: 10%


def fit_distance(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(class means, shared precision matrix) of ``features`` by ``labels``."""
    from sklearn.covariance import LedoitWolf

    classes = np.unique(labels)
    means = np.stack([features[labels == c].mean(axis=0) for c in classes])
    centred = features - means[np.searchsorted(classes, labels)]
    return means, LedoitWolf().fit(centred).precision_


def distances(features: np.ndarray, means: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Each row's Mahalanobis distance to the nearest mean."""
    diff = features[:, None, :] - means[None, :, :]
    squared = np.einsum("ncd,de,nce->nc", diff, precision, diff)
    return np.sqrt(np.maximum(squared.min(axis=1), 0.0))


def flag_figures(flagged: np.ndarray, wrong: np.ndarray) -> dict[str, float]:
    return {"flagged": float(flagged.mean()), "caught": float((flagged & wrong).sum() / max(wrong.sum(), 1))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a fine-tuned model folder")
    parser.add_argument("--json", help="write every figure here")
    args = parser.parse_args()
    from sklearn.metrics import roc_auc_score

    loaded = load_model(args.model)
    head = classification_head(loaded.model)

    def features(items: list) -> np.ndarray:
        ids = model_inputs(loaded.tokenizer, [e.text for e in items], loaded.max_length, **loaded.text_settings)
        return head_inputs(loaded.model, head, loaded.tokenizer, ids)

    parts = split_examples(load_examples(paths.data_file()), load_splits(paths.splits_file()))
    means, precision = fit_distance(features(parts["train"]), np.array([LABEL2ID[e.label] for e in parts["train"]]))
    sets = {
        "dev": load_examples(paths.dev_file()),
        "long_dev": load_examples(paths.long_dev_file()),
        "holdout": load_examples(paths.holdout_file()),
        "test": parts["test"],
        "external": load_examples(paths.external_eval_file()),
    }
    threshold = float(loaded.card["needs_review_threshold"])
    scored = {}
    for name, items in sets.items():
        proba = predict_proba(loaded, [e.text for e in items])
        wrong = proba.argmax(axis=1) != np.array([LABEL2ID[e.label] for e in items])
        scored[name] = (proba.max(axis=1), distances(features(items), means, precision), wrong)
    cut = float(np.percentile(scored["dev"][1], DISTANCE_PERCENTILE))
    dev_confidence, dev_distance, _ = scored["dev"]
    either_share = float(((dev_confidence < threshold) | (dev_distance > cut)).mean())
    matched = float(np.quantile(dev_confidence, either_share))
    results = {"review_threshold": threshold, "distance_threshold": cut, "matched_threshold": matched, "sets": {}}
    print(f"review threshold {threshold:.3f}; distance threshold {cut:.2f} (dev's {DISTANCE_PERCENTILE:g}th percentile); "
          f"confidence threshold flagging as much of dev as either: {matched:.3f}")
    print(f"{'set':<10}{'n':>6}{'mistakes':>10}  {'confidence':>16}{'distance':>16}{'either':>16}{'matched':>16}  AUROC conf / dist   median distance right / wrong")
    for name, (confidence, distance, wrong) in scored.items():
        low, far = confidence < threshold, distance > cut
        row = {"n": int(len(wrong)), "mistakes": int(wrong.sum()), "confidence": flag_figures(low, wrong),
               "distance": flag_figures(far, wrong), "either": flag_figures(low | far, wrong), "matched": flag_figures(confidence < matched, wrong),
               "auroc_confidence": float(roc_auc_score(wrong, -confidence)) if 0 < wrong.sum() < len(wrong) else None,
               "auroc_distance": float(roc_auc_score(wrong, distance)) if 0 < wrong.sum() < len(wrong) else None,
               "median_distance_right": float(np.median(distance[~wrong])), "median_distance_wrong": float(np.median(distance[wrong])) if wrong.any() else None}
        results["sets"][name] = row
        cells = "".join(f"{row[k]['flagged']:>7.1%} /{row[k]['caught']:>6.1%}" for k in ("confidence", "distance", "either", "matched"))
        print(f"{name:<10}{row['n']:>6}{row['mistakes']:>10}  {cells}  {row['auroc_confidence'] or 0:.3f} / {row['auroc_distance'] or 0:.3f}"
              f"   {row['median_distance_right']:.1f} / {row['median_distance_wrong'] or 0:.1f}", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
