"""Print the dataset card's tables (counts per label and split, hard-case share, lengths)."""

from __future__ import annotations

import json
from collections import Counter

from training import paths
from training.data import load_splits
from client.core.labels import LABELS
from client.core.records import read_jsonl_objects


def main() -> None:
    rows = [obj for _, obj in read_jsonl_objects(paths.data_file()) if isinstance(obj, dict)]
    splits = load_splits(paths.splits_file())
    where = {i: name for name, ids in splits.items() for i in ids}
    print("| label | total | train | validation | test | hard |")
    print("|---|---:|---:|---:|---:|---:|")
    for label in LABELS:
        group = [r for r in rows if r["label"] == label]
        by_split = Counter(where[r["id"]] for r in group)
        hard = sum(bool(r.get("hard")) for r in group)
        print(f"| {label} | {len(group)} | {by_split['train']} | {by_split['validation']} | {by_split['test']} | {hard} |")
    total = Counter(where[r["id"]] for r in rows)
    hard = sum(bool(r.get("hard")) for r in rows)
    print(f"| **all** | **{len(rows)}** | {total['train']} | {total['validation']} | {total['test']} | {hard} ({hard / len(rows):.0%}) |")
    words = sorted(len(r["text"].split()) for r in rows)
    print(f"\nwords per item: min {words[0]}, median {words[len(words) // 2]}, 90th percentile {words[int(len(words) * 0.9)]}, max {words[-1]}")
    parts = Counter(r["id"].split("-")[0] for r in rows)
    order = sorted(parts, key=lambda part: (len(part), part))  # p2 before p10
    print("items per part: " + json.dumps({part: parts[part] for part in order}))


if __name__ == "__main__":
    main()
