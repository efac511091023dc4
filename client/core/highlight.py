"""An explanation drawn over the text the agent reads: which words to mark, and the HTML.

Pure (no Qt, no I/O): colours come in as ``#rrggbb`` strings from ``client.ui.palette``, the
one home of label colours. The handler explains the text the model saw (inbox clean-up and
the cut applied), and clean-up only removes text or shortens a link to its host, so every
word it names is a piece of the original: each is marked wherever it stands there as a whole
word, case aside. A word the original does not hold whole (one split by the cut) stays in
the list below the text, unmarked. Everything from the text is HTML-escaped.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from client.core.api import Explanation
from client.core.labels import LABEL_NAMES

# Marked: the strongest units by |weight|, down to a fifth of the strongest. Relative, because
# a confident label saturates: without any one word a 0.94 may only fall to 0.935, and those
# words are still the ones that carried it. Below FLOOR nothing moved at all.
TOP_WORDS = 8
MIN_SHARE = 0.2
FLOOR = 1e-4
_EDGES = re.compile(r"^\W+|\W+$")


@dataclass(frozen=True)
class Mark:
    """A word to mark: the label it speaks for and its weight (negative: held the label back)."""

    label: str
    weight: float


# Below this largest weight (one point of confidence) no word matters much on its own: several
# words say the same thing (with "logs me out" and "draft is gone", neither is needed alone).
SURE_ANYWAY = 0.01


def marked_words(explanation: Explanation, top: int = TOP_WORDS, min_share: float = MIN_SHARE) -> dict[str, Mark]:
    """Lower-cased word -> Mark, for the ``top`` units with the largest |weight| (at least
    ``min_share`` of the largest, and above ``FLOOR``). A span unit marks each of its words;
    a word in two units keeps the stronger."""
    largest = max((abs(w.weight) for w in explanation.words), default=0.0)
    cut = max(FLOOR, largest * min_share)
    strongest = sorted((w for w in explanation.words if abs(w.weight) >= cut), key=lambda w: -abs(w.weight))[:top]
    marks: dict[str, Mark] = {}
    for unit in strongest:
        for piece in unit.word.split():
            word = _EDGES.sub("", piece).lower()
            if word and (word not in marks or abs(unit.weight) > abs(marks[word].weight)):
                marks[word] = Mark(unit.label, unit.weight)
    return marks


def highlight_html(text: str, explanation: Explanation, backgrounds: dict[str, str], foreground: str, top: int = TOP_WORDS) -> str:
    """``text`` as HTML with its marked words on the background colour of the label they
    speak for, then a legend of those labels and the marked words with their weights."""
    marks = marked_words(explanation, top)
    body = _marked_text(text, marks, backgrounds, foreground)
    return f'<div style="white-space: pre-wrap;">{body}</div>{legend_html(explanation, marks, backgrounds, foreground)}'


def _marked_text(text: str, marks: dict[str, Mark], backgrounds: dict[str, str], foreground: str) -> str:
    if not marks:
        return html.escape(text)
    alternatives = "|".join(re.escape(word) for word in sorted(marks, key=len, reverse=True))
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
    out, last = [], 0
    for match in pattern.finditer(text):
        mark = marks[match.group(0).lower()]
        out.append(html.escape(text[last : match.start()]))
        out.append(_span(html.escape(match.group(0)), mark.label, backgrounds, foreground))
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def _span(inner: str, label: str, backgrounds: dict[str, str], foreground: str) -> str:
    return f'<span style="background-color: {backgrounds[label]}; color: {foreground};">{inner}</span>'


def legend_html(explanation: Explanation, marks: dict[str, Mark], backgrounds: dict[str, str], foreground: str) -> str:
    """One line per label that has marked words: its colour, its name, and its words with
    their weights (the fall of the predicted label's probability without the word)."""
    if not marks:
        return "<p>No single word moved the label: the model read the message as a whole.</p>"
    by_label: dict[str, list[tuple[str, Mark]]] = {}
    for word, mark in marks.items():
        by_label.setdefault(mark.label, []).append((word, mark))
    lines = []
    for label in sorted(by_label, key=lambda lab: (lab != explanation.label, lab)):
        words = ", ".join(f"{html.escape(word)} ({mark.weight:+.2g})" for word, mark in sorted(by_label[label], key=lambda wm: -abs(wm[1].weight)))
        role = "for this label" if label == explanation.label else "for another label"
        lines.append(f"{_span('&nbsp;' + html.escape(LABEL_NAMES.get(label, label)) + '&nbsp;', label, backgrounds, foreground)} {role}: {words}")
    unit = f" Long text: weighed {explanation.words_per_unit} words at a time." if explanation.unit == "span" else ""
    if max(abs(mark.weight) for mark in marks.values()) < SURE_ANYWAY:
        lines.append(f"The model is sure of {html.escape(LABEL_NAMES.get(explanation.label, explanation.label))} from the message as a whole: "
                     "no single word changes its confidence by even a point; the marked words weigh most, by a little.")
    return f"<p>{'<br>'.join(lines)}</p><p><small>Weight: how much less sure the model is of {html.escape(LABEL_NAMES.get(explanation.label, explanation.label))} without the word.{unit}</small></p>"
