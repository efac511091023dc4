"""The eight label ids of ``shared/LABELS.md``, in the contract's order.

This is the one label list of the project. The order is the contract's table order
(not alphabetical) and is written into every model's ``config.json`` as ``id2label``,
which the handler and the client read back.
"""

from __future__ import annotations

LABELS: tuple[str, ...] = (
    "bug",
    "feature_request",
    "praise",
    "complaint",
    "question",
    "usage_tip",
    "documentation",
    "other",
)

LABEL2ID: dict[str, int] = {label: i for i, label in enumerate(LABELS)}
ID2LABEL: dict[int, str] = dict(enumerate(LABELS))

LABEL_NAMES: dict[str, str] = {
    "bug": "Bug report",
    "feature_request": "Feature request",
    "praise": "Praise",
    "complaint": "Complaint",
    "question": "Question",
    "usage_tip": "Usage tip",
    "documentation": "Documentation",
    "other": "Other",
}


def unknown_label_message(value: object) -> str:
    """A message for a label that is not one of the eight, listing the valid ids."""
    return f"unknown label {value!r}; expected one of: {', '.join(LABELS)}"
