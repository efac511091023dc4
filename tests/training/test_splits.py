"""The fixed split: deterministic, stratified, leak-free, and stable when data is added."""

from __future__ import annotations

from collections import Counter

from training import paths
from training.data import Example, load_examples, load_splits, make_splits
from client.core.labels import LABELS


def examples(n_per_label: int, prefix: str = "e") -> list[Example]:
    return [Example(f"{prefix}-{label}-{i}", f"text {prefix} {label} {i}", label) for label in LABELS for i in range(n_per_label)]


def test_split_is_deterministic_and_independent_of_order():
    data = examples(20)
    assert make_splits(data) == make_splits(data)
    first, reordered = make_splits(data), make_splits(list(reversed(data)))
    assert {k: sorted(v) for k, v in first.items()} == {k: sorted(v) for k, v in reordered.items()}


def test_split_is_stratified_80_10_10_and_disjoint():
    splits = make_splits(examples(20))
    labels_of = {e.id: e.label for e in examples(20)}
    for name, share in (("train", 16), ("validation", 2), ("test", 2)):
        assert Counter(labels_of[i] for i in splits[name]) == {label: share for label in LABELS}
    all_ids = splits["train"] + splits["validation"] + splits["test"]
    assert len(all_ids) == len(set(all_ids)) == 160


def test_adding_items_never_moves_a_test_id():
    before = make_splits(examples(20))
    after = make_splits(examples(20) + examples(10, prefix="new"), before)
    assert after["test"] == before["test"]
    new_ids = {e.id for e in examples(10, prefix="new")}
    assert new_ids <= set(after["train"]) | set(after["validation"])
    assert set(before["train"]) <= set(after["train"]) and set(before["validation"]) <= set(after["validation"])


def test_the_committed_split_covers_the_dataset_exactly():
    data = load_examples(paths.data_file())
    splits = load_splits(paths.splits_file())
    ids = [i for name in ("train", "validation", "test") for i in splits[name]]
    assert sorted(ids) == sorted(e.id for e in data)
    assert make_splits(data, splits) == splits
