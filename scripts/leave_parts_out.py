"""Split our data into a training file without some parts and a file of those parts.

Why: the fast retrain's settings are meant to be chosen by simulating corrections on traffic
the model has not seen, and our development set is no such traffic (the model already scores
0.94 there). A model trained without, say, the open-source and social-media parts meets them
as new traffic; `feedback adapt-curve --data <parts> --train-data <rest>` then measures how
fast corrections teach them, from data that is ours. The test split stays whole as long as
the parts left out hold no test item (this script refuses otherwise: the gate's test split
would shrink and no longer be the one every model is judged on).

    python scripts/leave_parts_out.py --parts p9,p10 --out /tmp/lopo
    feedback train --data /tmp/lopo/train_without.jsonl --out /tmp/lopo/base
    feedback adapt-curve --model /tmp/lopo/base --data /tmp/lopo/parts.jsonl --train-data /tmp/lopo/train_without.jsonl --ks 100
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from training import paths
from training.data import load_splits
from client.core.records import read_jsonl_objects


def leave_out(rows: list[dict], parts: set[str], test_ids: set[str]) -> tuple[list[dict], list[dict]]:
    """(rows without the parts, the parts' rows with their part as ``source``); by id prefix."""
    part_of = {id(r): str(r["id"]).split("-")[0] for r in rows}
    held = [dict(r, source=part_of[id(r)]) for r in rows if part_of[id(r)] in parts]
    in_test = [r["id"] for r in held if r["id"] in test_ids]
    if in_test:
        raise SystemExit(f"{len(in_test)} item(s) of {', '.join(sorted(parts))} are in the test split, e.g. {in_test[0]!r}: "
                         "leave out parts that went to train and validation only (DATA.md)")
    return [r for r in rows if part_of[id(r)] not in parts], held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", required=True, help="id prefixes to leave out, comma-separated, e.g. p9,p10")
    parser.add_argument("--out", type=Path, required=True, help="folder for train_without.jsonl and parts.jsonl")
    args = parser.parse_args()
    rows = [obj for _, obj in read_jsonl_objects(paths.data_file()) if isinstance(obj, dict)]
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    kept, held = leave_out(rows, parts, set(load_splits(paths.splits_file())["test"]))
    if not held:
        raise SystemExit(f"no item has an id starting with {', '.join(sorted(parts))}")
    args.out.mkdir(parents=True, exist_ok=True)
    for name, group in (("train_without.jsonl", kept), ("parts.jsonl", held)):
        (args.out / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in group), encoding="utf-8")
    print(f"{len(kept)} items in {args.out / 'train_without.jsonl'}, {len(held)} in {args.out / 'parts.jsonl'}")


if __name__ == "__main__":
    main()
