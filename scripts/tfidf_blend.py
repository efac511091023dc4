"""Would averaging the fine-tuned model with TF-IDF + logistic regression help? (a measurement)

For each weight w on the fine-tuned model's probabilities (1 - w on TF-IDF's), the
temperature and the review threshold are refitted on our development set, and macro-F1, ECE
and the review flag are printed for our test split, the development set, the held-back set
and the external set. The weight is chosen by the development set only; the external set is
reported. docs/MODEL_REPORT.md ("Experiments") has the figures of one run:

    python scripts/tfidf_blend.py --model /work/runs/exp/e1_clean
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.metrics import f1_score

from client.core.labels import LABEL2ID
from training import paths
from training.baselines import tfidf_logreg
from training.calibration import expected_calibration_error, fit_temperature, probabilities, review_threshold
from training.data import load_examples, load_splits, split_examples
from training.evaluate import review_flag_scores
from training.inference import load_model, predict_proba

WEIGHTS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a fine-tuned model folder (models/v<N>)")
    args = parser.parse_args()
    parts = split_examples(load_examples(paths.data_file()), load_splits(paths.splits_file()))
    sets = {"test": parts["test"], "dev": load_examples(paths.dev_file()), "held-back": load_examples(paths.holdout_file()),
            "external": load_examples(paths.external_eval_file())}
    tfidf = tfidf_logreg().fit([e.text for e in parts["train"]], [e.label for e in parts["train"]])
    model = load_model(args.model)
    scored = {name: (predict_proba(model, [e.text for e in items]), tfidf.predict_proba([e.text for e in items]),
                     np.array([LABEL2ID[e.label] for e in items])) for name, items in sets.items()}
    print("w     T    | " + " | ".join(f"{name}: macro-F1 ECE flagged caught" for name in scored))
    for w in WEIGHTS:
        def blended_logits(name: str) -> np.ndarray:
            fine, words, _ = scored[name]
            return np.log(np.clip(w * fine + (1 - w) * words, 1e-9, 1.0))

        temperature = fit_temperature(blended_logits("dev"), scored["dev"][2])
        dev_proba = probabilities(blended_logits("dev"), temperature)
        threshold = review_threshold(dev_proba.max(axis=1), dev_proba.argmax(axis=1) == scored["dev"][2])
        cells = []
        for name, (_, _, truth) in scored.items():
            proba = probabilities(blended_logits(name), temperature)
            right = proba.argmax(axis=1) == truth
            flag = review_flag_scores(proba.max(axis=1), right, threshold)
            cells.append(f"{f1_score(truth, proba.argmax(axis=1), average='macro'):.3f} {expected_calibration_error(proba.max(axis=1), right):.3f} "
                         f"{flag['flagged_share']:.2f} {flag['mistakes_caught']:.2f}")
        print(f"{w:.1f} {temperature:5.2f} | " + " | ".join(cells))


if __name__ == "__main__":
    main()
