"""Read a long text whole, in windows, instead of its head and tail? (a measurement)

A text longer than the model's ``max_length`` tokens was trained on as its head and tail
(``handler/feedback_handler.py`` ``head_tail``). The alternatives measured here read all of
it: consecutive windows of ``max_length`` tokens (``windows``: each with the two special
tokens; the last window ends at the text's end), every window classified, and the windows'
logits pooled. Nothing is retrained; the saved temperature is used, so run it on a model
whose card reads head and tail only (``--window-step 0``) or read the ranking, not the ECE.
Chosen on our two development sets, the rest reported; docs/MODEL_REPORT.md ("A development
set of long texts", "Reading long texts whole", "Our own long issue reports") has the
figures. The reading chosen is served (``readings`` in the handler, ``--window-step 1``:
side by side, with head and tail):

    python scripts/long_text_windows.py --model /work/runs/default
    python scripts/long_text_windows.py --model /work/runs/default --only training/data/dev_long.jsonl   # also by channel family

Variants: windows overlapping by half, or side by side (the last one, aligned to the end,
may overlap the one before); pooling by the mean of the windows' logits, the mean with the
head-and-tail reading as one more window, or the window the model is most sure of. The text
read is what the handler keeps of it (``prepare_text``: at most ``max_length`` x 24
characters, head and tail), so a text longer than that is still cut before the windows.
Prints the forward passes and tokens each reading costs per set.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from client.core.labels import LABELS
from handler.feedback_handler import head_tail, prepare_text, windows
from training import paths
from training.calibration import probabilities
from training.data import load_examples, load_splits, split_examples
from training.evaluate import evaluate_predictions
from training.inference import load_model

LONG_WORDS = 80

# Channel families of the long-text development set (its ``channel`` field), for the
# accuracy of each reading by kind of message (docs/MODEL_REPORT.md, "A development set of
# long texts"): the first family whose words appear in the channel's name.
CHANNEL_FAMILIES = (
    ("issue trackers", ("github_issue", "gitlab_issue", "jira", "bugzilla", "redmine")),
    ("developer chat, mailing lists, Q&A", ("mailing", "stackoverflow", "discord", "slack", "release", "discussion")),
    ("forums, Reddit", ("forum", "reddit")),
    ("chat, phone, voicemail transcripts", ("voicemail", "phone", "chat", "app-message")),
    ("e-mail, letters, forms", ("email", "letter", "form")),
    ("reviews, social, surveys", ("review", "facebook", "survey")),
)


def channel_family(channel: str) -> str:
    name = channel.lower()
    return next((family for family, words in CHANNEL_FAMILIES if any(w in name for w in words)), "other channels")


def logits_of(loaded, sequences: list[list[int]], batch: int = 32) -> np.ndarray:
    out = np.zeros((len(sequences), len(LABELS)), dtype=np.float32)
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            enc = loaded.tokenizer.pad({"input_ids": [sequences[i] for i in idx]}, return_tensors="pt")
            out[idx] = loaded.model(**enc).logits.float().numpy()
    return out


def variants(loaded, texts: list[str], costs: dict[int, tuple[float, float]]) -> dict[str, np.ndarray]:
    """Logits per reading; ``costs`` receives, per stride, forward passes per text and tokens
    read against head and tail's."""
    settings = loaded.text_settings
    ids = loaded.tokenizer([prepare_text(t, loaded.max_length, **settings)[0] for t in texts], truncation=False, verbose=False)["input_ids"]
    cut = logits_of(loaded, [head_tail(x, loaded.max_length, settings["head_share"])[0] for x in ids])
    out = {"head and tail": cut}
    keep = loaded.max_length - 2
    for stride in (keep // 2, keep):
        per_text = [windows(x, loaded.max_length, stride) for x in ids]
        flat = logits_of(loaded, [w for ws in per_text for w in ws])
        bounds = np.cumsum([0] + [len(ws) for ws in per_text])
        each = [flat[bounds[i] : bounds[i + 1]] for i in range(len(texts))]
        # Windows alone; the readings "with head and tail" also pass each long text's cut once.
        costs[stride] = (len(flat) / len(texts), sum(map(len, (w for ws in per_text for w in ws))) / sum(min(len(x), loaded.max_length) for x in ids))
        out[f"windows, stride {stride}, mean"] = np.stack([w.mean(0) for w in each])
        out[f"windows, stride {stride}, mean with head and tail"] = np.stack([(w.sum(0) + cut[i]) / (len(w) + 1) if len(w) > 1 else cut[i] for i, w in enumerate(each)])
        sure = [probabilities(w, loaded.temperature).max(1).argmax() for w in each]
        out[f"windows, stride {stride}, surest window"] = np.stack([w[s] for w, s in zip(each, sure)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--external", type=Path, default=paths.external_eval_file())
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", type=Path, action="append", default=[], help="measure on this labelled JSONL instead of the usual sets (repeatable)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    loaded = load_model(args.model)
    channels = {}
    if args.only:
        sets = {str(path): load_examples(path) for path in args.only}
        for path in args.only:  # load_examples keeps no channel: read it beside
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            if all("channel" in row for row in rows):
                channels[str(path)] = np.array([channel_family(row["channel"]) for row in rows])
    else:
        sets = {
            "our development set (chooses)": load_examples(paths.dev_file()),
            "our test split": split_examples(load_examples(paths.data_file()), load_splits(paths.splits_file()))["test"],
            "our held-back messy set": load_examples(paths.holdout_file()),
            "external set (reported)": load_examples(args.external),
        }
    print(f"| set | reading | macro-F1 | ECE | accuracy over {LONG_WORDS} words |\n|---|---|---:|---:|---:|")
    for name, items in sets.items():
        texts, gold = [e.text for e in items], np.array([e.label for e in items])
        long_text = np.array([len(t.split()) > LONG_WORDS for t in texts])
        costs: dict[int, tuple[float, float]] = {}
        long_share = sum(len(x) > loaded.max_length for x in loaded.tokenizer([prepare_text(t, loaded.max_length, **loaded.text_settings)[0] for t in texts],
                                                                               truncation=False, verbose=False)["input_ids"]) / len(texts)
        for reading, logits in variants(loaded, texts, costs).items():
            proba = probabilities(logits, loaded.temperature)
            report = evaluate_predictions(list(gold), proba, texts)
            predicted = np.array(LABELS)[proba.argmax(1)]
            long_acc = f"{(predicted[long_text] == gold[long_text]).mean():.3f} (n={long_text.sum()})" if long_text.any() else "-"
            print(f"| {name} | {reading} | {report.macro_f1:.4f} | {report.ece:.4f} | {long_acc} |", flush=True)
            if name in channels:
                family = channels[name]
                by = ", ".join(f"{f} {(predicted[family == f] == gold[family == f]).mean():.2f} (n={(family == f).sum()})" for f in sorted(set(family)))
                print(f"    accuracy by channel family: {by}", flush=True)
        for stride, (passes, tokens) in costs.items():
            print(f"cost, {name}, stride {stride}: {passes:.2f} forward passes per text for the windows, {passes + long_share:.2f} with head and tail, "
                  f"{tokens:.2f}x the tokens of head and tail", flush=True)


if __name__ == "__main__":
    main()
