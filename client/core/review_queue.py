"""What to correct first: the review queue's orders and the reasons an item is in it.

Plain Python (no Qt, no numpy, no scikit-learn: the desktop install has none of them), a
function of its arguments only, so the orders are tested without a window.

- ``confidence``: lowest confidence first (the model's own score for its label).
- ``margin``: smallest gap between the two best scores first: the model hesitates between
  two labels, so a verdict moves its decision boundary most.
- ``entropy``: the flattest score distribution first (uses all eight scores, which every
  Prediction carries): the model has no idea rather than two ideas.
- ``useful``: a few verdicts that teach the most. The most uncertain item of each group of
  near-duplicate texts comes first (correcting ten copies of the same complaint teaches
  about as much as one), taken in turns from each predicted label so the first verdicts
  cover every label; the other copies follow.
"""

from __future__ import annotations

import math
import random
import re
import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence

from client.core.api import Prediction
from client.core.labels import LABEL_NAMES, LABELS

CONFIDENCE, MARGIN, ENTROPY, USEFUL = "confidence", "margin", "entropy", "useful"
ORDER_TITLES: dict[str, str] = {
    CONFIDENCE: "Lowest confidence first",
    MARGIN: "Smallest margin first",
    ENTROPY: "Most spread-out scores first",
    USEFUL: "Most useful first",
}
ORDERS: tuple[str, ...] = tuple(ORDER_TITLES)

CLOSE_CALL = 0.15  # a margin below this is worth telling the agent: "close to <label>"
NEAR_DUPLICATE = 0.5  # Jaccard similarity of word-pair sets from which two texts count as copies
_HASHES, _BAND = 12, 2  # MinHash signature length and rows per LSH band (6 bands)
_PRIME = (1 << 61) - 1
_WORD = re.compile(r"\w+")


def ranked(scores: dict[str, float]) -> list[tuple[str, float]]:
    """(label, score) best first; ties in the contract's label order."""
    order = {label: i for i, label in enumerate(LABELS)}
    return sorted(scores.items(), key=lambda item: (-item[1], order.get(item[0], len(order))))


def margin(scores: dict[str, float]) -> float:
    """Best score minus the second best (1.0 when there is only one score)."""
    best = ranked(scores)
    if not best:
        return 0.0
    return best[0][1] - (best[1][1] if len(best) > 1 else 0.0)


def entropy(scores: dict[str, float]) -> float:
    """Shannon entropy of the scores, divided by its maximum: 0 sure, 1 uniform."""
    total = sum(v for v in scores.values() if v > 0)
    if total <= 0 or len(scores) < 2:
        return 0.0
    h = -sum((v / total) * math.log(v / total) for v in scores.values() if v > 0)
    return h / math.log(len(scores))


# The sort key of each per-item order: smaller comes first.
ORDER_KEYS: dict[str, Callable[[Prediction], float]] = {
    CONFIDENCE: lambda p: p.confidence,
    MARGIN: lambda p: margin(p.scores),
    ENTROPY: lambda p: -entropy(p.scores),
}


def review_reasons(prediction: Prediction, flagged: bool) -> list[str]:
    """Why an item is in the queue, in words an agent reads at a glance (empty when not flagged)."""
    if not flagged:
        return []
    reasons = [] if prediction.language_supported else ["not English"]
    if prediction.language_supported or prediction.confidence < 0.5:
        reasons.append(f"low confidence {prediction.confidence:.2f}")
    best = ranked(prediction.scores)
    if len(best) > 1 and best[0][1] - best[1][1] < CLOSE_CALL:
        reasons.append(f"close to {LABEL_NAMES.get(best[1][0], best[1][0])}")
    if prediction.truncated:
        reasons.append("cut to the model's length")
    if prediction.cleaned:
        reasons.append("quotes or signature removed")
    return reasons


def text_key(text: str) -> str:
    """The form in which two texts count as the same item: case and spacing ignored."""
    return " ".join(text.casefold().split())


def shingles(text: str) -> frozenset[str]:
    """The text's word pairs (its words, when it has fewer than two)."""
    words = _WORD.findall(text.casefold())
    if len(words) < 2:
        return frozenset(words)
    return frozenset(f"{a} {b}" for a, b in zip(words, words[1:]))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _signature(hashed: list[int], params: list[tuple[int, int]]) -> tuple[int, ...]:
    if not hashed:
        return (0,) * len(params)
    return tuple(min((a * x + b) % _PRIME for x in hashed) for a, b in params)


def near_duplicate_groups(texts: Sequence[str], threshold: float = NEAR_DUPLICATE) -> list[int]:
    """A group number per text; texts whose word-pair sets overlap by ``threshold`` (Jaccard) share one.

    MinHash with banding finds candidate pairs without comparing every pair (a queue of
    20,000 items would be 200 million pairs); each candidate is then checked exactly. The
    hash parameters come from a fixed seed, so the groups are the same on every run.
    """
    rng = random.Random(13)
    params = [(rng.randrange(1, _PRIME), rng.randrange(0, _PRIME)) for _ in range(_HASHES)]
    sets = [shingles(t) for t in texts]
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    buckets: dict[tuple[int, tuple[int, ...]], list[int]] = defaultdict(list)
    for i, words in enumerate(sets):
        signature = _signature([zlib.crc32(w.encode("utf-8")) for w in words], params)
        for band in range(0, _HASHES, _BAND):
            buckets[(band, signature[band : band + _BAND])].append(i)
    for members in buckets.values():
        first = members[0]
        for other in members[1:]:
            a, b = find(first), find(other)
            if a != b and jaccard(sets[first], sets[other]) >= threshold:
                parent[b] = a
    roots: dict[int, int] = {}
    return [roots.setdefault(find(i), len(roots)) for i in range(len(texts))]


def _in_turns(indices: list[int], predictions: Sequence[Prediction]) -> list[int]:
    """Most uncertain first within each predicted label, labels taking turns."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for i in sorted(indices, key=lambda i: (margin(predictions[i].scores), i)):
        by_label[predictions[i].label].append(i)
    queues = sorted(by_label.values(), key=lambda q: (margin(predictions[q[0]].scores), q[0]))
    out: list[int] = []
    for turn in range(max((len(q) for q in queues), default=0)):
        out.extend(q[turn] for q in queues if turn < len(q))
    return out


def useful_order(texts: Sequence[str], predictions: Sequence[Prediction]) -> list[int]:
    """Indices of the items in "most useful" order (see the module docstring)."""
    if len(texts) != len(predictions):
        raise ValueError(f"texts and predictions must pair up. But there were {len(texts)} texts and {len(predictions)} predictions")
    groups = near_duplicate_groups(texts)
    leaders: dict[int, int] = {}
    for i in sorted(range(len(texts)), key=lambda i: (margin(predictions[i].scores), i)):
        leaders.setdefault(groups[i], i)
    first = sorted(leaders.values())
    chosen = set(first)
    rest = [i for i in range(len(texts)) if i not in chosen]
    return _in_turns(first, predictions) + _in_turns(rest, predictions)
