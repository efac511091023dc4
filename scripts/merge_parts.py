"""Merge hand-written dataset parts into training/data/feedback.jsonl.

Each part is a JSONL written by one author with its own label quota, products and
channels. Items already in the dataset keep their place; new items are appended; a new
item that repeats or nearly repeats an earlier one (the data check's rules) is reported
and left out. Then run `feedback data split` and `feedback data check`.

    python scripts/merge_parts.py PART.jsonl [PART.jsonl ...]
"""

from __future__ import annotations

import json
import sys

from training import paths
from training.datacheck import Item, LeakIndex, check_duplicates, eval_texts
from client.core.records import RowError, read_jsonl_objects

KEEP = ("id", "text", "label", "hard")


def main(parts: list[str]) -> int:
    target = paths.data_file()
    rows = [obj for _, obj in read_jsonl_objects(target) if isinstance(obj, dict)] if target.exists() else []
    existing = len(rows)
    ids = {r["id"] for r in rows}
    for part in parts:
        for line, obj in read_jsonl_objects(part):
            if isinstance(obj, RowError) or obj.get("id") in ids:
                print(f"{part}:{line}: skipped ({obj.message if isinstance(obj, RowError) else 'id already present'})", file=sys.stderr)
                continue
            rows.append({k: obj[k] for k in KEEP if k in obj})
            ids.add(obj["id"])
    items = [Item(i, str(r["id"]), r["text"], r["label"]) for i, r in enumerate(rows, start=1)]
    drop = {p.line for p in check_duplicates(str(target), items) if p.line > existing}
    leaks = LeakIndex(eval_texts(paths.eval_dir()))
    drop |= {i for i, r in enumerate(rows, start=1) if i > existing and leaks.leak(r["text"])}
    for line in sorted(drop):
        print(f"left out {rows[line - 1]['id']}: repeats an earlier item or an evaluation item", file=sys.stderr)
    rows = [r for i, r in enumerate(rows, start=1) if i not in drop]
    target.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows) - existing} added, {len(drop)} left out, {len(rows)} items in {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
