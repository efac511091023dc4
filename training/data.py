"""Our labelled dataset: loading, the fixed split, and conversion to ``datasets``.

The split is stored in ``splits.json`` and only ever grows: once an id is in the test
split it stays there, and new ids go to train or validation. That keeps the test split a
fair judge across data additions and retraining.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from client.core.errors import DataError
from client.core.labels import LABEL2ID, LABELS, unknown_label_message
from client.core.records import RowError, read_jsonl_objects

SPLITS = ("train", "validation", "test")
MAX_TEXT_CHARS = 5000


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    label: str
    line: int = 0
    source: str | None = None


def load_examples(path: str | Path) -> list[Example]:
    """Read a labelled JSONL (``text`` and ``label``; ``id`` and ``source`` optional).

    Fails on the first bad line with ``FILE:LINE``: training on a silently shortened
    dataset would be worse than not training.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: data file not found", "pass --data FILE with a JSONL of {\"text\", \"label\"} lines")
    examples = []
    for number, obj in read_jsonl_objects(path):
        if isinstance(obj, RowError):
            raise DataError(f"{path}:{number}: {obj.message}", "run `feedback data check` for every problem")
        text, label = obj.get("text"), obj.get("label")
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{path}:{number}: missing or empty text", "run `feedback data check` for every problem")
        if label not in LABEL2ID:
            raise DataError(f"{path}:{number}: {unknown_label_message(label)}")
        item_id = str(obj.get("id", f"line-{number}"))
        source = obj.get("source")
        examples.append(Example(item_id, text, str(label), number, str(source) if source else None))
    if not examples:
        raise DataError(f"{path}: no examples", "the file is empty")
    return examples


def _rank(item_id: str, seed: str) -> str:
    return hashlib.sha256(f"{seed}:{item_id}".encode()).hexdigest()


def make_splits(
    examples: Sequence[Example],
    existing: dict[str, list[str]] | None = None,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: str = "feedback-split-v1",
) -> dict[str, list[str]]:
    """A deterministic stratified split that never moves an id already assigned.

    New ids of each label are ordered by a hash of the id (so the result does not depend
    on file order) and assigned to train or validation to bring that label's shares
    towards ``fractions``; on a first split, test gets its share as well.
    """
    existing = existing or {name: [] for name in SPLITS}
    assigned = {i: name for name in SPLITS for i in existing.get(name, [])}
    first_split = not any(existing.get(name) for name in SPLITS)
    targets = SPLITS if first_split else SPLITS[:2]
    by_label: dict[str, list[str]] = defaultdict(list)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SPLITS, 0))
    known_ids = set()
    for ex in examples:
        known_ids.add(ex.id)
        if ex.id in assigned:
            counts[ex.label][assigned[ex.id]] += 1
        else:
            by_label[ex.label].append(ex.id)
    result = {name: [i for i in existing.get(name, []) if i in known_ids] for name in SPLITS}
    share = dict(zip(SPLITS, fractions))
    for label in LABELS:
        new_ids = sorted(set(by_label.get(label, [])), key=lambda i: _rank(i, seed))
        for item_id in new_ids:
            total = sum(counts[label].values()) + 1
            # the split furthest below its share takes the item; ties go in SPLITS order
            name = max(targets, key=lambda n: (share[n] * total - counts[label][n], -SPLITS.index(n)))
            counts[label][name] += 1
            result[name].append(item_id)
    return result


def load_splits(path: str | Path) -> dict[str, list[str]]:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: split file not found", "create it with `feedback data split`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: broken JSON ({exc.msg})", "restore it from git") from exc
    if not isinstance(data, dict) or set(data) != set(SPLITS):
        raise DataError(f"{path}: expected keys {', '.join(SPLITS)}", "restore it from git")
    return {name: [str(i) for i in data[name]] for name in SPLITS}


def save_splits(path: str | Path, splits: dict[str, list[str]]) -> None:
    Path(path).write_text(json.dumps({n: splits[n] for n in SPLITS}, indent=1) + "\n", encoding="utf-8")


def split_examples(examples: Sequence[Example], splits: dict[str, list[str]]) -> dict[str, list[Example]]:
    """Examples grouped by split; an example in no split is a data error (run ``data split``)."""
    where = {i: name for name in SPLITS for i in splits[name]}
    missing = [ex.id for ex in examples if ex.id not in where]
    if missing:
        raise DataError(
            f"{len(missing)} example(s) are in no split, e.g. {missing[0]!r}",
            "run `feedback data split` to assign new items to train/validation",
        )
    out: dict[str, list[Example]] = {name: [] for name in SPLITS}
    for ex in examples:
        out[where[ex.id]].append(ex)
    return out


def data_hash(examples: Iterable[Example]) -> str:
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(f"{ex.id}\t{ex.label}\t{ex.text}\n".encode())
    return digest.hexdigest()[:16]


def set_hash(examples: Iterable[Example]) -> str:
    """``data_hash`` of the items in id order: a split hashes the same whatever order the file
    holds it in, so a model card can say which test split a model was kept away from."""
    return data_hash(sorted(examples, key=lambda e: e.id))


def to_dataset(examples: Sequence[Example]):
    """A ``datasets.Dataset`` with ``text`` and integer ``label`` columns."""
    from datasets import Dataset

    return Dataset.from_dict({"text": [e.text for e in examples], "label": [LABEL2ID[e.label] for e in examples]})
