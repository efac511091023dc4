"""``feedback data check``: every problem of a labelled JSONL, as ``FILE:LINE: message``.

Checks: JSON and schema, label ids, empty text, length, duplicate ids, exact and near
duplicates (word-3-gram Jaccard >= 0.8) within the file and across splits, and leakage
from the evaluation sets (equal normalised text, or a shared 8-word sequence that is not
common boilerplate in the evaluation data).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from training.data import MAX_TEXT_CHARS, SPLITS
from client.core.labels import LABEL2ID, unknown_label_message
from client.core.records import RowError, read_jsonl_objects

NEAR_DUP_JACCARD = 0.8
LEAK_NGRAM = 8
LEAK_COMMON_MIN = 3  # an 8-gram in this many evaluation items is boilerplate, not a leak
REQUIRED = ("id", "text", "label")

_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Item:
    line: int
    id: str
    text: str
    label: str


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def normalise(text: str) -> str:
    return " ".join(words(text))


def text_key(text: str) -> str:
    """What two texts must share to be the same item: the normalised text, or the text as
    written when it has no words (emoji-only texts all normalise to "")."""
    return normalise(text) or text.strip()


def shingles(text: str, n: int = 3) -> frozenset[tuple[str, ...]]:
    w = words(text)
    if len(w) < n:
        return frozenset([tuple(w)]) if w else frozenset()
    return frozenset(tuple(w[i : i + n]) for i in range(len(w) - n + 1))


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


def check_schema(file: str, objects: Iterable[tuple[int, dict | RowError]]) -> tuple[list[Item], list[Problem]]:
    """Parse lines into items; every schema problem becomes a Problem."""
    items, problems = [], []
    for line, obj in objects:
        if isinstance(obj, RowError):
            problems.append(Problem(file, line, obj.message))
            continue
        missing = [k for k in REQUIRED if k not in obj]
        if missing:
            problems.append(Problem(file, line, f"missing field(s): {', '.join(missing)}"))
            continue
        text, label, item_id = obj["text"], obj["label"], obj["id"]
        if not isinstance(item_id, str) or not item_id.strip():
            problems.append(Problem(file, line, "id must be a non-empty string"))
            continue
        if not isinstance(text, str):
            problems.append(Problem(file, line, f"text must be a string, got {type(text).__name__}"))
            continue
        if not text.strip():
            problems.append(Problem(file, line, "empty or whitespace-only text"))
            continue
        if len(text) > MAX_TEXT_CHARS:
            problems.append(Problem(file, line, f"text has {len(text)} characters; the limit is {MAX_TEXT_CHARS}"))
            continue
        if label not in LABEL2ID:
            problems.append(Problem(file, line, unknown_label_message(label)))
            continue
        items.append(Item(line, item_id, text, label))
    return items, problems


def check_ids(file: str, items: Sequence[Item]) -> list[Problem]:
    first: dict[str, int] = {}
    problems = []
    for item in items:
        if item.id in first:
            problems.append(Problem(file, item.line, f"duplicate id {item.id!r} (first at line {first[item.id]})"))
        else:
            first[item.id] = item.line
    return problems


def check_duplicates(file: str, items: Sequence[Item], split_of: dict[str, str] | None = None) -> list[Problem]:
    """Exact duplicates (normalised text) and near-duplicates (3-gram Jaccard >= 0.8)."""
    split_of = split_of or {}
    problems = []
    seen: dict[str, Item] = {}
    for item in items:
        key = text_key(item.text)
        if key in seen:
            other = seen[key]
            problems.append(Problem(file, item.line, f"exact duplicate of line {other.line}{_across(item, other, split_of)}"))
        else:
            seen[key] = item
    unique = list(seen.values())
    for pos, other_pos, jaccard in _near_pairs([shingles(i.text) for i in unique]):
        item, other = unique[pos], unique[other_pos]
        problems.append(Problem(file, item.line, f"near-duplicate of line {other.line} (Jaccard {jaccard:.2f}){_across(item, other, split_of)}"))
    return problems


def _near_pairs(sets: Sequence[set[tuple[str, ...]]], earlier: int = 0) -> Iterator[tuple[int, int, float]]:
    """(later, earlier, Jaccard) for every pair at or above the threshold; the first
    ``earlier`` sets are only compared against, never with each other."""
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for pos, grams in enumerate(sets):
        if pos >= earlier:
            shared: Counter[int] = Counter()
            for gram in grams:
                shared.update(index[gram])
            for other_pos, common in shared.items():
                union = len(grams) + len(sets[other_pos]) - common
                jaccard = common / union if union else 0.0
                if jaccard >= NEAR_DUP_JACCARD:
                    yield pos, other_pos, jaccard
        for gram in grams:
            index[gram].append(pos)


def check_overlap(file: str, items: Sequence[Item], other_file: str, others: Sequence[Item]) -> list[Problem]:
    """Items that repeat or nearly repeat an item of another of our files (e.g. the
    development set against the training data: a model must not be picked on items it saw)."""
    problems = []
    keys = {text_key(o.text): o for o in others}
    exact = set()
    for pos, item in enumerate(items):
        other = keys.get(text_key(item.text))
        if other is not None:
            exact.add(pos + len(others))
            problems.append(Problem(file, item.line, f"exact duplicate of {other_file}:{other.line}"))
    sets = [shingles(o.text) for o in others] + [shingles(i.text) for i in items]
    for pos, other_pos, jaccard in _near_pairs(sets, earlier=len(others)):
        if other_pos < len(others) and pos not in exact:
            problems.append(Problem(file, items[pos - len(others)].line, f"near-duplicate of {other_file}:{others[other_pos].line} (Jaccard {jaccard:.2f})"))
    return problems


def _across(item: Item, other: Item, split_of: dict[str, str]) -> str:
    a, b = split_of.get(item.id), split_of.get(other.id)
    return f" across splits ({a} / {b})" if a and b and a != b else ""


class LeakIndex:
    """Normalised texts and 8-grams of the evaluation sets, minus boilerplate 8-grams."""

    def __init__(self, eval_texts: Iterable[str]) -> None:
        self.texts: set[str] = set()
        counts: Counter[tuple[str, ...]] = Counter()
        for text in eval_texts:
            self.texts.add(normalise(text))
            counts.update(ngrams(text, LEAK_NGRAM))
        self.grams = {g for g, c in counts.items() if c < LEAK_COMMON_MIN}

    def leak(self, text: str) -> str | None:
        if normalise(text) in self.texts:
            return "text equals an evaluation item"
        shared = ngrams(text, LEAK_NGRAM) & self.grams
        if shared:
            return f"shares an {LEAK_NGRAM}-word sequence with an evaluation item ({' '.join(next(iter(shared)))!r})"
        return None


def check_leakage(file: str, items: Sequence[Item], index: LeakIndex) -> list[Problem]:
    return [Problem(file, i.line, f"leak from ../shared/eval: {reason}") for i in items if (reason := index.leak(i.text))]


def check_splits(file: str, items: Sequence[Item], splits: dict[str, list[str]]) -> list[Problem]:
    problems = []
    where: dict[str, str] = {}
    for name in SPLITS:
        for item_id in splits[name]:
            if item_id in where:
                problems.append(Problem(file, 0, f"id {item_id!r} is in both {where[item_id]} and {name} splits"))
            where[item_id] = name
    ids = {i.id for i in items}
    problems += [Problem(file, i.line, f"id {i.id!r} is in no split; run `feedback data split`") for i in items if i.id not in where]
    stale = [i for i in where if i not in ids]
    if stale:
        problems.append(Problem(file, 0, f"{len(stale)} split id(s) not in the data, e.g. {stale[0]!r}"))
    return problems


def eval_texts(eval_dir: Path) -> list[str]:
    texts = []
    for path in sorted(eval_dir.glob("*.jsonl")):
        texts += [obj["text"] for _, obj in read_jsonl_objects(path) if isinstance(obj, dict) and isinstance(obj.get("text"), str)]
    return texts


def check_file(path: Path, eval_dir: Path | None, splits: dict[str, list[str]] | None, others: Sequence[Path] = ()) -> list[Problem]:
    """All checks on one file (and its overlap with ``others``); the edges (reading files) stay here."""
    file = str(path)
    items, problems = check_schema(file, read_jsonl_objects(path))
    for other in others:
        other_items, _ = check_schema(str(other), read_jsonl_objects(other))
        problems += check_overlap(file, items, str(other), other_items)
    problems += check_ids(file, items)
    split_of = {i: name for name in SPLITS for i in (splits or {}).get(name, [])}
    problems += check_duplicates(file, items, split_of)
    if splits is not None:
        problems += check_splits(file, items, splits)
    if eval_dir is not None and eval_dir.exists():
        problems += check_leakage(file, items, LeakIndex(eval_texts(eval_dir)))
    return sorted(problems, key=lambda p: p.line)
