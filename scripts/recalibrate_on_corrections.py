"""Does a temperature fitted on a source's corrections make the model honest on that source,
and what does it cost our own kind of text? (a measurement; docs/ADAPT_CURVE.md quotes it)

The same rounds as ``feedback adapt-curve`` (``training/adapt.py``: k items of one external
source, stratified, corrected by a simulated agent; the fast retrain on those not held out),
and for each round the calibration error on the rest of the source, and on our development
set, of four ways to score:

  a  the current model, its own temperature (fitted on our development set): today
  b  the current model, the temperature refitted on the k corrections (no retrain)
  c  the fast-retrained model, its own temperature: today's correction loop
  d  the fast-retrained model, the temperature refitted on its held-out corrections

With ``--pick least-confident`` the agent instead verifies the k items the model is least sure
of (the review queue's default order), which is what a temperature fitted on everyday
verdicts would see; with ``--pick random`` the k items are the app's spot check (a uniform
sample, ``client.core.spot_check.draw``), and (b) is then also fitted and applied by the app's
own code (``client.core.source_temperature``, on the served scores rounded as the handler
rounds them: ``b_app_*``). ``--skip-retrain`` measures (a) and (b) alone. For (a) and (b) the
review flag at the model card's threshold is reported on the rest of the source too: the
share of items it flags and the share of the model's mistakes among them. With ``--pick
random`` it also measures label shift (Saerens et al. 2002): EM over the whole source's scores,
with no labels, re-weights them to the source's own label shares, after the source's
temperature (``e_*``) or on the model's own scores (``f_*``); macro-F1 as ``feedback
adapt-curve`` scores a source.

The only use of external items this project allows: the correction simulation issue #10
names, in temporary folders. Nothing here is chosen on them; the figures are reported.

    python scripts/recalibrate_on_corrections.py --model /work/runs/s30/default/model \\
        --sources preotiucpietro2019_complaint_tweets:100,tizard2019_vlc_firefox_forums:100 --seeds 0,1,2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from client.core import source_temperature
from client.core.labels import LABEL2ID, LABELS
from client.core.spot_check import draw
from training import paths
from training.adapt import fast_retrain_settings, group_sources, sample_corrections
from training.calibration import fit_temperature, probabilities
from training.config import AdaptConfig
from training.data import Example, load_examples
from training.datacheck import normalise
from training.evaluate import evaluate_predictions, source_scores
from training.inference import load_model, predict_logits
from training.retrain import in_heldout, new_version_config
from training.train import train


def parse_sources(text: str) -> list[tuple[str, int]]:
    """``name:k,name:k`` -> [(name, k), ...]."""
    pairs = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, k = part.rpartition(":")
        if not name or not k.isdigit() or int(k) < 2:
            raise SystemExit(f"--sources: {part!r} is not name:k with k of 2 or more")
        pairs.append((name, int(k)))
    return pairs


def least_confident(items: list[Example], scores: np.ndarray, k: int) -> tuple[list[Example], list[Example]]:
    """(the k items whose top score is lowest, the rest), ties in the source's order: what an
    agent working through the review queue's default order verifies first."""
    order = np.argsort(scores.max(axis=1), kind="stable")
    picked = set(order[:k].tolist())
    return [items[i] for i in order[:k]], [e for i, e in enumerate(items) if i not in picked]


def label_shift(probs: np.ndarray, prior: np.ndarray, tolerance: float = 1e-6, iterations: int = 1000) -> np.ndarray:
    """Saerens et al. (2002): re-weight calibrated scores to the label shares of the traffic they
    come from, estimated by EM from the scores alone (no labels); ``prior`` is what the model learned."""
    shares = prior.copy()
    adjusted = probs
    for _ in range(iterations):
        adjusted = probs * (shares / prior)
        adjusted /= adjusted.sum(axis=1, keepdims=True)
        new = adjusted.mean(axis=0)
        if np.abs(new - shares).max() < tolerance:
            break
        shares = new
    return adjusted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path, help="the current model folder")
    parser.add_argument("--sources", required=True, help="external sources and how many of each the agent corrects: name:k,name:k")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--pick", choices=("stratified", "least-confident", "random"), default="stratified",
                        help="which k items the simulated agent verifies: a stratified sample (feedback adapt-curve's), the least confident, "
                             "or a uniform random sample (the app's spot check)")
    parser.add_argument("--skip-retrain", action="store_true", help="measure (a) and (b) only: no fast retrain")
    parser.add_argument("--json", type=Path, help="write every round here")
    args = parser.parse_args()

    config = AdaptConfig(data=paths.external_eval_file(), model=args.model)
    current = load_model(args.model)
    dev = load_examples(paths.dev_file())
    groups = group_sources(load_examples(config.data))

    def logits(loaded, items: list[Example]) -> np.ndarray:
        return predict_logits(loaded.model, loaded.tokenizer, [e.text for e in items], loaded.max_length, **loaded.reading)

    def ece(scores: np.ndarray, items: list[Example], temperature: float) -> float:
        return round(evaluate_predictions([e.label for e in items], probabilities(scores, temperature)).ece, 4)

    def refit(scores: np.ndarray, items: list[Example]) -> float:
        return fit_temperature(scores, np.array([LABEL2ID[e.label] for e in items]))

    threshold = float(current.card["needs_review_threshold"])
    ours = [LABEL2ID[e.label] for e in load_examples(paths.data_file())]
    prior = np.bincount(ours, minlength=len(LABELS)) / len(ours)  # the label shares the model learned

    def macro_f1(probs: np.ndarray, items: list[Example]) -> float:
        """Over the labels the source has, as feedback adapt-curve scores a source."""
        return round(source_scores(np.array([LABEL2ID[e.label] for e in items]), probs.argmax(axis=1))["macro_f1"], 4)

    def flag(probs: np.ndarray, items: list[Example], at: float | None = None) -> dict[str, float]:
        """The review flag (top score under the card's threshold, or ``at``) on ``items``: share flagged, share of mistakes caught."""
        flagged = probs.max(axis=1) < (threshold if at is None else at)
        wrong = probs.argmax(axis=1) != np.array([LABEL2ID[e.label] for e in items])
        return {"flagged": round(float(flagged.mean()), 4), "caught": round(float((flagged & wrong).sum() / max(1, wrong.sum())), 4)}

    def served(scores: np.ndarray) -> list[dict[str, float]]:
        """The scores as the handler answers them: calibrated, rounded to 6 decimals."""
        return [{label: round(float(p), 6) for label, p in zip(LABELS, row)} for row in probabilities(scores, current.temperature)]

    dev_current = logits(current, dev)
    rows = []
    for name, k in parse_sources(args.sources):
        if name not in groups:
            raise SystemExit(f"--sources: no source {name!r} in {config.data}; it has: {', '.join(sorted(groups))}")
        for seed in (int(s) for s in args.seeds.split(",")):
            started = time.monotonic()
            if args.pick == "stratified":
                corrected, rest = sample_corrections(groups[name], k, seed)
            elif args.pick == "random":
                drawn = draw(len(groups[name]), k, seed)
                chosen = set(drawn)
                corrected, rest = [groups[name][i] for i in drawn], [e for i, e in enumerate(groups[name]) if i not in chosen]
            else:
                corrected, rest = least_confident(groups[name], logits(current, groups[name]), k)
            held = [in_heldout(normalise(e.text), config.heldout_fraction) for e in corrected]
            heldout = [e for e, h in zip(corrected, held) if h]
            trained_on = [Example(f"correction:{e.id}", e.text, e.label, source="correction") for e, h in zip(corrected, held) if not h]
            current_rest = logits(current, rest)
            t_b = refit(logits(current, corrected), corrected)
            row = {
                "source": name, "k": k, "seed": seed, "pick": args.pick, "rest": len(rest),
                "a_rest": ece(current_rest, rest, current.temperature), "a_dev": ece(dev_current, dev, current.temperature),
                "b_rest": ece(current_rest, rest, t_b), "b_dev": ece(dev_current, dev, t_b), "b_temperature": t_b,
                "a_flag": flag(probabilities(current_rest, current.temperature), rest), "b_flag": flag(probabilities(current_rest, t_b), rest),
            }
            if args.pick == "random" and k < source_temperature.MIN_VERDICTS:
                print(f"k={k}: the app calibrates from {source_temperature.MIN_VERDICTS} verdicts; its columns are left out", flush=True)
            elif args.pick == "random":  # the app's own fit, on what the server sends
                # What "Calibrate this file" does: the temperature and the card's rule (catch half the
                # mistakes, flag at most a fifth) fitted on the spot check, from what the server sends.
                sample_logits = logits(current, corrected)
                calibration = source_temperature.calibrate(
                    served(sample_logits), [e.label for e in corrected], [LABELS[i] for i in sample_logits.argmax(axis=1)]
                )
                t_app, t_flag = calibration.temperature, calibration.threshold
                app_rest = np.array([[s[label] for label in LABELS] for s in (source_temperature.rescale(x, t_app) for x in served(current_rest))])
                row |= {
                    "b_app_temperature": round(t_app * current.temperature, 4),  # the same scale as b_temperature
                    "b_app_rest": round(evaluate_predictions([e.label for e in rest], app_rest).ece, 4), "b_app_flag": flag(app_rest, rest),
                    "b_app_threshold": round(t_flag, 4), "b_app_flag_refit": flag(app_rest, rest, t_flag),
                }
                # Label shift: EM over the whole source's scores (no labels), evaluated on the rest.
                whole = groups[name]
                where = {id(e): i for i, e in enumerate(whole)}
                rest_rows = [where[id(e)] for e in rest]
                whole_logits = logits(current, whole)
                e_probs = label_shift(probabilities(whole_logits, t_app * current.temperature), prior)[rest_rows]
                f_probs = label_shift(probabilities(whole_logits, current.temperature), prior)[rest_rows]
                row |= {
                    "a_rest_f1": macro_f1(probabilities(current_rest, current.temperature), rest),
                    "e_rest_f1": macro_f1(e_probs, rest), "e_rest": round(evaluate_predictions([e.label for e in rest], e_probs).ece, 4),
                    "f_rest_f1": macro_f1(f_probs, rest), "f_rest": round(evaluate_predictions([e.label for e in rest], f_probs).ece, 4),
                }
            if not args.skip_retrain:
                with tempfile.TemporaryDirectory() as scratch:
                    settings = new_version_config(fast_retrain_settings(config), Path(scratch) / "model", 2, current.card)
                    settings.seed = seed
                    adapted = load_model(train(settings, extra_train=trained_on, init_from=str(args.model)).out_dir)
                    adapted_rest, adapted_held, adapted_dev = logits(adapted, rest), logits(adapted, heldout), logits(adapted, dev)
                t_d = refit(adapted_held, heldout)
                row |= {
                    "heldout": len(heldout),
                    "c_rest": ece(adapted_rest, rest, adapted.temperature), "c_dev": ece(adapted_dev, dev, adapted.temperature),
                    "d_rest": ece(adapted_rest, rest, t_d), "d_dev": ece(adapted_dev, dev, t_d), "d_temperature": t_d,
                }
            row["minutes"] = round((time.monotonic() - started) / 60, 2)
            print(json.dumps(row), flush=True)
            rows.append(row)
            if args.json:
                args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
