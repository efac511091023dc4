"""Does mixing the fine-tuned weights back towards the pretrained ones hold up better on traffic
unlike ours? (a measurement)

Fine-tuning moves every weight of the encoder towards our dataset; robust fine-tuning (WiSE-FT,
Wortsman et al. 2022) serves a point on the straight line between the pretrained and the
fine-tuned weights, which on their image benchmarks kept most of the fine-tuned accuracy and
recovered much of the pretrained model's robustness to shifted data. Here:

    theta(a) = a * fine-tuned + (1 - a) * pretrained   for every encoder weight (embeddings,
                                                        layers, pooler); the head is the
                                                        fine-tuned one (the pretrained has none)

For each ``a`` the temperature and the review threshold are refitted on our development set,
as ``feedback train`` fits them, and every set is read as served (head and tail, windows).
The development set chooses; the external set is reported only. Nothing is retrained: about
a minute per value of ``a`` at two threads.

    python scripts/weight_interpolation.py --model /work/runs/s30/default/model --json out.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from client.core.labels import LABEL2ID, LABELS
from training import paths
from training.calibration import fit_temperature, probabilities, review_threshold
from training.data import load_examples, load_splits, split_examples
from training.evaluate import evaluate_predictions
from training.inference import load_model, predict_logits
from training.train import HEAD_ATTRIBUTES, resolve_base_model


def interpolate(fine_tuned: dict[str, torch.Tensor], pretrained: dict[str, torch.Tensor], a: float) -> dict[str, torch.Tensor]:
    """``a`` of the fine-tuned weights and ``1 - a`` of the pretrained ones, key by key; keys the
    pretrained model lacks (the head) and tensors that are not floating point stay fine-tuned."""
    mixed = {}
    for key, tensor in fine_tuned.items():
        other = pretrained.get(key)
        if other is None or not tensor.is_floating_point() or other.shape != tensor.shape:
            mixed[key] = tensor
        else:
            mixed[key] = (a * tensor.float() + (1 - a) * other.float()).to(tensor.dtype)
    return mixed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a fine-tuned model folder")
    parser.add_argument("--alphas", default="1.0,0.9,0.8,0.7,0.6,0.5", help="shares of the fine-tuned weights to try")
    parser.add_argument("--json", help="write every figure here")
    args = parser.parse_args()
    from transformers import AutoModelForSequenceClassification

    loaded = load_model(args.model)
    base = AutoModelForSequenceClassification.from_pretrained(resolve_base_model(loaded.card["base_model"]), num_labels=len(LABELS))
    head_prefixes = tuple(f"{name}." for name in HEAD_ATTRIBUTES)
    pretrained = {k: v for k, v in base.state_dict().items() if not k.startswith(head_prefixes)}
    fine_tuned = {k: v.detach().clone() for k, v in loaded.model.state_dict().items()}
    unmatched = sorted(k for k, v in fine_tuned.items() if not k.startswith(head_prefixes) and (k not in pretrained or pretrained[k].shape != v.shape))
    print(f"{len(pretrained)} pretrained tensors; encoder tensors without a pretrained match of the same shape (kept fine-tuned): {unmatched or 'none'}")

    parts = split_examples(load_examples(paths.data_file()), load_splits(paths.splits_file()))
    sets = {
        "dev": load_examples(paths.dev_file()),
        "test": parts["test"],
        "long_dev": load_examples(paths.long_dev_file()),
        "holdout": load_examples(paths.holdout_file()),
        "external": load_examples(paths.external_eval_file()),
    }
    results = []
    for a in [float(x) for x in args.alphas.split(",")]:
        started = time.monotonic()
        loaded.model.load_state_dict(interpolate(fine_tuned, pretrained, a))
        logits = {
            name: predict_logits(loaded.model, loaded.tokenizer, [e.text for e in items], loaded.max_length, **loaded.reading)
            for name, items in sets.items()
        }
        dev_true = np.array([LABEL2ID[e.label] for e in sets["dev"]])
        temperature = fit_temperature(logits["dev"], dev_true)
        dev_proba = probabilities(logits["dev"], temperature)
        threshold = review_threshold(dev_proba.max(axis=1), dev_proba.argmax(axis=1) == dev_true)
        row = {"a": a, "temperature": temperature, "threshold": threshold}
        for name, items in sets.items():
            report = evaluate_predictions([e.label for e in items], probabilities(logits[name], temperature), [e.text for e in items],
                                          [e.source for e in items], review_threshold=threshold)
            row[name] = {"macro_f1": report.macro_f1, "accuracy": report.accuracy, "ece": report.ece,
                         "acc_81plus": report.by_length.get("81+", {}).get("accuracy"), "review": report.review,
                         "by_source": report.by_source}
        row["seconds"] = round(time.monotonic() - started, 1)
        results.append(row)
        print(f"a={a:.2f} T={temperature:.2f} " + "  ".join(
            f"{name} {row[name]['macro_f1']:.3f}/{row[name]['ece']:.3f}" for name in sets
        ) + f"  ext 81+ {row['external']['acc_81plus']:.2f}  flag dev {row['dev']['review']['flagged_share']:.1%}/{row['dev']['review']['mistakes_caught']:.1%}"
          f"  ext {row['external']['review']['flagged_share']:.1%}/{row['external']['review']['mistakes_caught']:.1%}  {row['seconds']:.0f} s", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
