"""TorchServe handler for the feedback classifier.

Packed alone into the ``.mar``: TorchServe imports this file by its bare name, so it
imports nothing from ``training`` or ``client``. Labels come from the model's own
``config.json``; temperature, review threshold, max length and threads from the
``handler:`` section of the archive's model-config YAML written by ``feedback archive``
(TorchServe hands it over as ``context.model_yaml_config``; the same file carries the
workers, ``batchSize`` and ``maxBatchDelay`` that TorchServe itself reads).

The top half is plain functions (request parsing, validation, response building, the
occlusion arithmetic of explanations) that tests import without a server. The bottom half
is the ``BaseHandler`` subclass.

Why per-item errors: TorchServe fails *every* request of a batch when the handler raises
(``ts/service.py`` ``predict``), so a bad request gets a 400 through
``context.set_response_status(code, message, idx)`` and an error entry in its place,
and the others in the batch are classified.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_MAX_ITEMS = 256
# Explanations (``/explanations/<model>``) re-score one text once per occlusion unit: a text
# that fits in max_length tokens costs EXPLAIN_MAX_UNITS + 1 sequences at most; a long text
# read in windows costs its readings plus, per unit, only the readings that hold it (its
# window, two where windows meet, and head and tail near the ends): about two to three times
# that, never more than (EXPLAIN_MAX_UNITS + 1) x (1 + MAX_WINDOWS). With at most
# EXPLAIN_MAX_ITEMS texts per request, one request costs a bounded number of forward passes
# whatever the texts' length (the time is measured in tests/handler/test_explanations.py).
EXPLAIN_MAX_UNITS = 40
EXPLAIN_MAX_ITEMS = 16
CHARS_PER_TOKEN_CAP = 24  # no word-piece is longer; cutting here first keeps a 1 MB text cheap
# Windows read per long text, besides head and tail. ``prepare_text`` keeps at most
# max_length x 24 characters, 600 to 700 word pieces of English (about 5 windows side by
# side, 10 overlapping by half), so ordinary text never reaches the bound; text of
# one-character pieces (a pasted hex dump, emoji) could make one item cost 48 forward passes. Past the bound the windows
# spread out over the whole text, and if that leaves gaps the item is flagged truncated.
MAX_WINDOWS = 16
FORM_HINT = "send the text as the request body with Content-Type: text/plain, or JSON {\"text\": \"...\"}"


class RequestError(ValueError):
    """A request the handler refuses (HTTP 400), with a one-line message."""


@dataclass
class Item:
    text: str | None
    id: Any = None
    has_id: bool = False
    error: str | None = None
    logits: list[float] | None = None
    truncated: bool = False
    cleaned: bool = False
    english: bool = True
    explanation: dict[str, Any] | None = None


@dataclass
class Parsed:
    """One TorchServe request: a single item or a list of items, or a request-level error.
    ``explain``: it came in on ``/explanations`` (the answer is an explanation per item)."""

    items: list[Item] = field(default_factory=list)
    is_list: bool = False
    error: str | None = None
    explain: bool = False


def _decode(raw: bytes | bytearray) -> str:
    """UTF-8, with a leading byte-order mark dropped (Windows tools write one, and JSON
    refuses it)."""
    try:
        return bytes(raw).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RequestError(f"the body is not valid UTF-8 (byte {exc.start}); send UTF-8 text") from None


_JSON_TYPE = {dict: "an object", list: "an array", bool: "a boolean", int: "a number", float: "a number"}
_SURROGATE = re.compile("[\ud800-\udfff]")


def _item(value: Any, item_id: Any = None, has_id: bool = False) -> Item:
    """One text to classify, or the reason it cannot be (a fixed sentence: no customer text).

    Ids are echoed back, so only JSON scalars are taken: TorchServe serialises answers
    outside any ``try`` in the worker process, so a nested id is echoed within a few
    frames of the recursion limit (985 levels came back on 0.12; the limit is ~990), and
    NaN or Infinity would come back as non-standard JSON. Lone
    surrogates (a JSON ``"\\ud800"`` escape) make the tokenizer raise, which would fail
    every request of the batch."""
    if has_id and not _is_scalar_id(item_id):
        return Item(None, None if isinstance(item_id, (dict, list)) else str(item_id), has_id, "id must be a string or a finite number")
    if value is None:
        return Item(None, item_id, has_id, "missing text")
    if not isinstance(value, str):
        return Item(None, item_id, has_id, f"text must be a string, got {_JSON_TYPE.get(type(value), 'a ' + type(value).__name__)}")
    if not value.strip():
        return Item(None, item_id, has_id, "text is empty")
    if _SURROGATE.search(value):
        return Item(None, item_id, has_id, "text contains a lone surrogate (a \\ud800-\\udfff escape); send valid Unicode")
    return Item(value, item_id, has_id)


def _is_scalar_id(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (str, int))


def parse_payload(payload: Any, max_items: int = DEFAULT_MAX_ITEMS) -> Parsed:
    """A decoded JSON body -> Parsed. Raises RequestError for a request-level problem."""
    if isinstance(payload, list):
        payload = {"items" if any(isinstance(p, dict) for p in payload) else "texts": payload}
    if not isinstance(payload, dict):
        raise RequestError('expected a JSON object: {"text": ...}, {"texts": [...]} or {"items": [{"id", "text"}, ...]}')
    if "texts" in payload or "items" in payload:
        key = "texts" if "texts" in payload else "items"
        values = payload[key]
        if not isinstance(values, list):
            raise RequestError(f"{key!r} must be a JSON array")
        if not values:
            raise RequestError(f"{key!r} is empty")
        if len(values) > max_items:
            raise RequestError(f"too many items: {len(values)}; at most {max_items} per request")
        if key == "texts":
            return Parsed([_item(v) for v in values], is_list=True)
        items = []
        for value in values:
            if isinstance(value, dict):
                items.append(_item(value.get("text"), value.get("id"), "id" in value))
            else:
                items.append(Item(None, None, False, 'each item must be an object {"id": ..., "text": ...}'))
        return Parsed(items, is_list=True)
    if "text" in payload:
        item = _item(payload["text"], payload.get("id"), "id" in payload)
        if item.error:
            raise RequestError(item.error)
        return Parsed([item])
    raise RequestError('no "text" field; expected {"text": ...}, {"texts": [...]} or {"items": [{"id", "text"}, ...]}')


def _load_json(text: str) -> Any:
    """``json.loads`` with its every failure as a RequestError. TorchServe hands a body it
    could not decode over as bytes, so this sees the bodies that broke its own parser:
    nesting past the recursion limit and integers past Python's digit limit too."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RequestError(f"broken JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise RequestError('JSON nested too deeply; send {"text": ...} or {"items": [{"id", "text"}, ...]}') from None
    except ValueError:
        raise RequestError("JSON number too long (over 4300 digits); send ids as strings") from None


def parse_request(row: dict[str, Any], content_type: str | None, max_items: int = DEFAULT_MAX_ITEMS) -> Parsed:
    """One request as TorchServe hands it over -> Parsed (never raises).

    ``row`` maps parameter names to values: ``body`` for a raw body (already a dict for
    valid JSON, a str for text/*, bytes otherwise, and bytes for *broken* JSON), or the
    form fields of a form post.
    """
    try:
        if "body" in row or "data" in row:
            value = row.get("body", row.get("data"))
            ctype = (content_type or "").split(";")[0].strip().lower()
            if isinstance(value, (dict, list)):
                return parse_payload(value, max_items)
            if isinstance(value, (bytes, bytearray)):
                text = _decode(value)
                if ctype == "application/json":
                    return parse_payload(_load_json(text), max_items)
                value = text
            item = _item(value)
            if item.error:
                raise RequestError(item.error)
            return Parsed([item])
        if "text" in row:
            value = row["text"]
            item = _item(_decode(value) if isinstance(value, (bytes, bytearray)) else value)
            if item.error:
                raise RequestError(item.error)
            return Parsed([item])
        raise RequestError(f"no text received: {FORM_HINT} (a form post needs a field named text)")
    except RequestError as exc:
        return Parsed(error=str(exc))


def softmax(logits: list[float], temperature: float) -> list[float]:
    import math

    scaled = [v / temperature for v in logits]
    top = max(scaled)
    exps = [math.exp(v - top) for v in scaled]
    total = sum(exps)
    return [e / total for e in exps]


def build_prediction(
    probs: list[float], labels: list[str], threshold: float, version: str, truncated: bool, item: Item
) -> dict[str, Any]:
    """The response for one classified item."""
    best = max(range(len(probs)), key=probs.__getitem__)
    out: dict[str, Any] = {}
    if item.has_id:
        out["id"] = item.id
    out.update(
        {
            "label": labels[best],
            "confidence": round(probs[best], 6),
            "scores": {label: round(p, 6) for label, p in zip(labels, probs)},
            "needs_review": probs[best] < threshold or not item.english,
            "model_version": version,
            "truncated": truncated,
            "cleaned": item.cleaned,
            "language_supported": item.english,
        }
    )
    return out


def build_error(item: Item) -> dict[str, Any]:
    out: dict[str, Any] = {"id": item.id} if item.has_id else {}
    out["error"] = item.error
    return out


# ----------------------------------------------------------------------------- explanations
#
# Occlusion: remove one unit (a word, or a span of consecutive words in a long text) from the
# token ids the model classified, re-score, and call the fall of the predicted label's
# calibrated probability the unit's weight. It needs nothing beyond the model, sees the text
# exactly as the prediction did (same clean-up, same cut, same tokens, the same readings of a
# long text pooled the same way), and its weights are in the unit agents already read:
# "without this word, the model is 0.31 less sure". In a long text the unit leaves each
# reading that holds it; the windows keep their places (the text is not re-cut).

_EDGE_PUNCTUATION = "\"'`.,;:!?()[]{}<>«»“”‘’…*_-/\\|"


def occlusion_units(
    offsets: list[tuple[int, int]], max_units: int = EXPLAIN_MAX_UNITS, join: int | None = None
) -> tuple[list[list[int]], int]:
    """Token positions grouped into occlusion units, and the words per unit.

    ``offsets`` are the character spans of the tokens the model saw, special tokens first and
    last (left out of every unit). A word is a run of tokens with no space between them
    ("don't", "crashes," and "v2.3" are one word each); more than ``max_units`` words are
    grouped into spans of ``ceil(words / max_units)`` consecutive words, which bounds the
    forward passes of one text whatever its length. ``join``: the character where a cut
    joined a long text's head to its tail (``cut_join``); no span crosses it, since words from
    both sides together are not a piece of the original, and the bound still holds (for a
    max_units of 2 or more).
    """
    words: list[list[int]] = []
    for pos in range(1, len(offsets) - 1):
        start, end = offsets[pos]
        if end <= start:
            continue
        if words and offsets[words[-1][-1]][1] == start:
            words[-1].append(pos)
        else:
            words.append([pos])
    parts = [words] if join is None else [[w for w in words if offsets[w[0]][0] < join], [w for w in words if offsets[w[0]][0] >= join]]
    parts = [part for part in parts if part]
    # ceil(a) + ceil(b) <= ceil(a + b) + 1: one unit fewer per extra part keeps max_units
    per_unit = max(1, math.ceil(len(words) / max(1, max_units - len(parts) + 1)))
    units = [[pos for word in part[i : i + per_unit] for pos in word] for part in parts for i in range(0, len(part), per_unit)]
    return units, per_unit


def cut_join(text: str, max_length: int, head_share: float = 1.0) -> int | None:
    """Where ``cut_text`` joined the head and tail of ``text`` (the newline it put between
    them), for a text ``prepare_text`` cut last; None when ``text`` is not such a cut (and for
    the rare text that clean-up shrank under the cap after a first cut: its join is not
    known, and a span there may join words from both sides)."""
    cap, head = cut_point(max_length, head_share)
    return head if len(text) == cap + 1 and text[head] == "\n" else None


def unit_text(text: str, offsets: list[tuple[int, int]], unit: list[int]) -> str:
    """What a unit says, as a piece of ``text``: its characters, whitespace runs made single
    spaces, punctuation at its edges dropped (kept when the unit is nothing else)."""
    raw = " ".join(text[offsets[unit[0]][0] : offsets[unit[-1]][1]].split())
    return raw.strip(_EDGE_PUNCTUATION) or raw


def occluded_readings(read: list[list[int]], unit: list[int]) -> list[tuple[int, list[int]]]:
    """(index, positions) of each reading in ``read`` (token positions, as ``readings`` gives
    them) that holds part of ``unit``, without the unit's positions. The other readings are
    unchanged by removing the unit, so their logits are reused: a word of a long text costs
    the passes of its window and, near the start or end, of the head-and-tail reading."""
    drop = set(unit)
    return [(index, [p for p in positions if p not in drop]) for index, positions in enumerate(read) if not drop.isdisjoint(positions)]


def occlusion_weights(base: list[float], occluded: list[list[float]], labels: list[str]) -> list[tuple[float, str]]:
    """(weight, label) per unit, from the calibrated probabilities of the whole text (``base``)
    and of the text without each unit (``occluded``).

    weight: how far the predicted label's probability falls when the unit is removed (negative:
    the unit held the prediction back). label: the predicted label when the weight is positive,
    otherwise the label whose probability falls most without the unit, i.e. the label the unit
    speaks for (the predicted label again when removing it changes nothing)."""
    best = max(range(len(base)), key=base.__getitem__)
    out = []
    for probs in occluded:
        falls = [b - p for b, p in zip(base, probs)]
        weight = falls[best]
        supported = best if weight > 0 or max(falls) <= 0 else max(range(len(falls)), key=falls.__getitem__)
        out.append((weight, labels[supported]))
    return out


def build_explanation(
    probs: list[float], labels: list[str], words: list[dict[str, Any]], words_per_unit: int, version: str, truncated: bool, item: Item
) -> dict[str, Any]:
    """The response for one explained item: its label, and its units sorted by weight (the
    words that pushed the prediction most first; those that held it back last)."""
    best = max(range(len(probs)), key=probs.__getitem__)
    out: dict[str, Any] = {"id": item.id} if item.has_id else {}
    out.update(
        {
            "label": labels[best],
            "confidence": round(probs[best], 6),
            "words": sorted(words, key=lambda w: -w["weight"]),
            "unit": "word" if words_per_unit == 1 else "span",
            "words_per_unit": words_per_unit,
            "model_version": version,
            "truncated": truncated,
            "cleaned": item.cleaned,
        }
    )
    return out


def cut_point(max_length: int, head_share: float = 1.0) -> tuple[int, int]:
    """(characters kept of a very long text, of which from its head): ``cut_text`` cuts
    there, and ``cut_join`` finds the cut by it."""
    cap = max_length * CHARS_PER_TOKEN_CAP
    return cap, int(cap * head_share)


def cut_text(text: str, max_length: int, head_share: float = 1.0) -> tuple[str, bool]:
    """Cut very long text before tokenizing (keeping its head and its tail, like
    ``head_tail``); True when something was cut. Keeps a 1 MB text cheap."""
    cap, head = cut_point(max_length, head_share)
    if len(text) <= cap:
        return text, False
    return text[:head] + "\n" + text[len(text) - (cap - head):], True


def head_tail(ids: list[int], max_length: int, head_share: float = 1.0) -> tuple[list[int], bool]:
    """Token ids (with their two special tokens) cut to ``max_length`` by keeping the start
    and the end: requests open with the ask and close with the question or the sign-off
    that decides it, while the middle of a long message is mostly story and pasted logs.
    True when tokens were dropped."""
    if len(ids) <= max_length:
        return list(ids), False
    keep = max_length - 2
    head = int(round(keep * head_share))
    tail = keep - head
    return [ids[0], *ids[1 : 1 + head], *(ids[len(ids) - 1 - tail : -1] if tail else []), ids[-1]], True


def windows(ids: list[int], max_length: int, stride: int) -> list[list[int]]:
    """``ids`` (with its two special tokens) as windows of ``max_length`` tokens whose starts
    are ``stride`` tokens apart, the last one ending at the text's end (it may overlap the one
    before), each with the special tokens; a text that fits is its own one window."""
    body, keep = ids[1:-1], max_length - 2
    if len(body) <= keep:
        return [list(ids)]
    starts = [*range(0, len(body) - keep, stride), len(body) - keep]
    return [[ids[0], *body[s : s + keep], ids[-1]] for s in starts]


def readings(ids: list[int], max_length: int, head_share: float = 1.0, window_step: float = 0.0) -> tuple[list[list[int]], bool]:
    """The token sequences the model reads for one text, and True when tokens went unread.

    Always the head-and-tail cut (``head_tail``), the reading the model was trained on. With
    ``window_step`` (> 0) a text longer than ``max_length`` is also read whole, in windows
    (``windows``) each starting that share of a window after the one before (0.5: overlapping
    by half, 1: side by side), and its logits are the mean over all of them (``pool_logits``):
    a request buried in the middle of a long message is read too, and the head and tail still
    count (docs/MODEL_REPORT.md, "Reading long texts whole")."""
    cut, dropped = head_tail(ids, max_length, head_share)
    if window_step <= 0 or not dropped:
        return [cut], dropped
    keep = max_length - 2
    stride = max(1, int(keep * window_step))
    beyond = len(ids) - 2 - keep  # word pieces past the first window
    if beyond > stride * (MAX_WINDOWS - 1):  # spread MAX_WINDOWS windows over the whole text
        stride = -(-beyond // (MAX_WINDOWS - 1))
    return [cut, *windows(ids, max_length, stride)], stride > keep


def encode_readings(
    tokenizer: Any, texts: list[str], max_length: int, head_share: float = 1.0, window_step: float = 0.0
) -> tuple[list[list[int]], list[int], list[bool]]:
    """Tokenize once, then ``readings`` of each text: all sequences flat (to batch them
    together), the index of the text each belongs to, and per text whether tokens went unread.
    Training, evaluation and serving all read through this function (training with no
    windows), so the model sees the same tokens everywhere."""
    encoded = tokenizer(texts, truncation=False, verbose=False)["input_ids"]
    sequences: list[list[int]] = []
    owners: list[int] = []
    dropped: list[bool] = []
    for index, ids in enumerate(encoded):
        read, unread = readings(ids, max_length, head_share, window_step)
        sequences += read
        owners += [index] * len(read)
        dropped.append(unread)
    return sequences, owners, dropped


def pool_logits(rows: list[list[float]], owners: list[int], n_texts: int) -> list[list[float]]:
    """The mean of each text's rows of logits (``owners``: the text of each row)."""
    sums: list[list[float]] = [[] for _ in range(n_texts)]
    counts = [0] * n_texts
    for row, owner in zip(rows, owners):
        sums[owner] = [a + b for a, b in zip(sums[owner], row)] if counts[owner] else list(row)
        counts[owner] += 1
    return [[value / counts[i] for value in total] for i, total in enumerate(sums)]


def prepare_text(text: str, max_length: int, clean: bool = False, head_share: float = 1.0) -> tuple[str, bool, bool]:
    """(text the model sees, cleaned, cut): a bounded slice of a huge text, cleaned of what
    carries no intent when the model was trained that way (``clean``), then cut to what
    ``max_length`` tokens can hold. Shared by training, evaluation and serving."""
    bounded, cut_first = cut_text(text, max_length * 4, head_share)
    cleaned_text, cleaned = clean_inbox(bounded) if clean else (bounded, False)
    final, cut_again = cut_text(cleaned_text, max_length, head_share)
    return final, cleaned, cut_first or cut_again


_ENGLISH_FUNCTION_WORDS = frozenset(
    "the a an and or but is are was were be been it its this that these those i you he she we they me my your our their "
    "to of in on for with at from by about as if so not no can could would should will do does did have has had just "
    "what when where why how which who there here all any some more very too also than then".split()
)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


# Frequent function words of other languages that customers write in (de, fr, es, pt, it,
# nl, pl, sv, tr), minus anything that is also an English word.
_OTHER_FUNCTION_WORDS = frozenset(
    "der das und ist nicht ich ein eine mit für auf sie es dem zu von bitte aber auch wenn "
    "le la les et est pas je une des du que qui pour dans avec mais très sur ne "
    "el los las y por para con una muy pero más esta está como gracias "
    "uma não com é são mas você obrigado "
    "il lo gli che di della sono ma questo grazie "
    "het een en van ik niet dat zijn voor je ook maar "
    "nie się na że z jak ale czy proszę "
    "och att är det som jag inte på för varje mycket gång "
    "bir ve bu için çok ile lütfen "
    "de se mi da na ao quando já muito seria tu su lui nous vous non mio mia è sono "
    "bij sinds kunnen jullie zou mijn bardzo bez przy bo mogę wszystko".split()
) - _ENGLISH_FUNCTION_WORDS - {"die", "to", "i", "in", "on", "a", "as", "no", "do", "me", "he", "we", "so", "men", "per", "con", "den", "van", "son"}


def looks_english(text: str) -> bool:
    """A cheap, measured guess whether ``text`` is English (the only language we trained on).

    Not English: mostly non-Latin letters, or more function words of another language than
    of English. Short texts ("ok", "gg", a product name) get the benefit of the doubt.
    Measured on our data, the development set, the external set and hand-written samples in
    16 languages (tests/handler/data/non_english.jsonl): README, "Model quality on real traffic".
    """
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 8 and sum(ord(c) > 0x24F for c in letters) / len(letters) > 0.3:
        return False  # beyond Latin Extended: Cyrillic, Greek, Arabic, Devanagari, CJK, ...
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < 5:
        return True
    english = sum(w in _ENGLISH_FUNCTION_WORDS for w in words)
    other = sum(w in _OTHER_FUNCTION_WORDS for w in words)
    return not (other >= 2 and other > english)


# ----------------------------------------------------------------------------- inbox clean-up

_REPLY_HEADER = re.compile(
    r"^(?:>?\s*On\s[^\n]{0,200}?(?:\n[^\n]{0,200}?)?\bwrote:\s*$"
    r"|-{2,}\s*Original Message\s*-{2,}"
    r"|From:\s[^\n]+\n(?:Sent|Date):\s[^\n]+\n(?:To|Subject):)",
    re.IGNORECASE | re.MULTILINE,
)
_QUOTED_LINE = re.compile(r"^\s*>.*$\n?", re.MULTILINE)
_SIG_DELIMITER = re.compile(r"^-- ?$", re.MULTILINE)
_SENT_FROM = re.compile(r"^\s*(?:Sent from my [^\n]{1,40}|Get Outlook for \w+|Sent from (?:Mail|Yahoo Mail|Outlook)[^\n]{0,40})\s*$", re.IGNORECASE | re.MULTILINE)
_VALEDICTION = re.compile(
    r"^\s*(?:(?:best|kind|warm|many)\s+(?:regards|wishes)|regards|best|cheers|sincerely|yours (?:truly|sincerely)|"
    r"thanks(?: (?:in advance|again|and regards))?|thank you(?: in advance)?|many thanks|mfg|br)\s*[,.!]?\s*$",
    re.IGNORECASE,
)
_DISCLAIMER = re.compile(
    r"intended (?:solely |only )?for the (?:use of the )?(?:named )?(?:addressee|recipient|individual)|"
    r"received this (?:e-?mail|message|communication) in error|confidentiality notice|"
    r"this (?:e-?mail|message|communication)(?: and any attachments)? (?:is|are|may be|contains?) (?:strictly )?(?:confidential|privileged)|"
    r"please consider the environment before printing",
    re.IGNORECASE,
)
_HEADING_LINE = re.compile(r"^\s*(?:#{1,6}\s+(?P<hash>[^\n]{1,60}?)|\*\*(?P<bold>[^*\n]{1,60})\*\*:?)\s*:?\s*$")
_TEMPLATE_WORDS = frozenset(
    "describe the bug steps to reproduce expected actual behavior behaviour result results environment version versions "
    "additional context screenshots screenshot logs log summary description system info information details os device "
    "browser what happened problem feature request proposal motivation alternatives considered checklist solution "
    "you'd like would platform relevant output issue type current new and or of a".split()
)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_URL = re.compile(r"https?://([^/\s?#]+)[^\s]*", re.IGNORECASE)
_BLANK_RUNS = re.compile(r"\n\s*\n(?:\s*\n)+")
MIN_WORDS_LEFT = 2


def _looks_like_signature_line(line: str) -> bool:
    """A name, title, company, phone or address line: short, and not a sentence."""
    stripped = line.strip()
    return len(stripped) <= 80 and len(stripped.split()) <= 6 and not stripped.endswith((".", "!", "?")) or "@" in stripped


def _drop_signature_block(text: str) -> str:
    """Cut at a valediction followed only by a few signature lines (name, title, phone);
    a sign-off followed by a sentence ("Thanks. One more thing: ...") is kept."""
    lines = text.split("\n")
    for i in range(len(lines) - 1, -1, -1):
        if _VALEDICTION.match(lines[i]):
            rest = [line for line in lines[i + 1 :] if line.strip()]
            if len(rest) <= 6 and all(_looks_like_signature_line(line) for line in rest):
                return "\n".join(lines[:i])
            break
    return text


def _is_template_heading(line: str) -> bool:
    """An issue-template heading ("### Steps to reproduce", "**Expected behaviour:**"), not
    a line the customer wrote in bold or as a title."""
    m = _HEADING_LINE.match(line)
    if not m:
        return False
    words = re.findall(r"[a-z']+", (m.group("hash") or m.group("bold") or "").lower())
    return bool(words) and all(w in _TEMPLATE_WORDS for w in words)


def clean_inbox(text: str) -> tuple[str, bool]:
    """What carries no intent, removed: quoted earlier replies, signatures and sign-offs,
    legal disclaimers, issue-template headings, tracking links (kept as their host).

    Pure and shared: the handler classifies the cleaned text and flags ``cleaned`` in
    its response (the agent always sees the original), and ``training`` trains and
    evaluates on the same clean-up. When cleaning would leave fewer than two words
    (a message that *is* only a sign-off or a quote), the original is kept.
    """
    original = text.replace("\r\n", "\n").replace("\r", "\n")
    out = original
    header = _REPLY_HEADER.search(out)
    if header and len(out[: header.start()].split()) >= MIN_WORDS_LEFT:
        out = out[: header.start()]
    out = _QUOTED_LINE.sub("", out)
    delimiter = _SIG_DELIMITER.search(out)
    if delimiter:
        out = out[: delimiter.start()]
    out = _SENT_FROM.sub("", out)
    out = "\n\n".join(p for p in re.split(r"\n\s*\n", out) if not _DISCLAIMER.search(p) or len(p.split()) < 12)
    out = _HTML_COMMENT.sub("", out)
    out = "\n".join(line for line in out.split("\n") if not _is_template_heading(line))
    out = _drop_signature_block(out.rstrip())
    out = _URL.sub(lambda m: m.group(1), out)
    out = _BLANK_RUNS.sub("\n\n", out).strip()
    if len(out.split()) < MIN_WORDS_LEFT:
        return text, False
    return out, out != original.strip()


REQUIRED_SETTINGS = ("temperature", "needs_review_threshold", "max_length", "threads")


def handler_settings(model_yaml_config: dict[str, Any] | None, model_dir: Path) -> dict[str, Any]:
    """The ``handler:`` section of the archive's model-config YAML, checked once at load time."""
    settings = (model_yaml_config or {}).get("handler")
    if not isinstance(settings, dict):
        raise RuntimeError(f"the archive in {model_dir} has no model-config YAML with a handler: section; rebuild it with `feedback archive`")
    missing = [key for key in REQUIRED_SETTINGS if key not in settings]
    if missing:
        raise RuntimeError(f"the archive's model-config YAML ({model_dir}) lacks handler settings {missing}; rebuild it with `feedback archive`")
    return settings


def choose_device(gpu_id: Any, cuda_available: bool) -> Any:
    """The GPU TorchServe assigned to this worker when there is one, else the CPU."""
    import torch

    if gpu_id is not None and cuda_available:
        return torch.device(f"cuda:{int(gpu_id)}")
    return torch.device("cpu")


RUNTIMES = ("fp32", "int8", "onnx", "onnx-int8")
# The ONNX graph `feedback archive --runtime onnx` exports beside the weights, its inputs
# (batch and length dynamic) and its output; `--runtime onnx-int8` packs the same graph with
# its linear layers quantised (``ONNX_INT8_FILE``) instead.
ONNX_FILE = "model.onnx"
ONNX_INT8_FILE = "model-int8.onnx"
ONNX_FILES = {"onnx": ONNX_FILE, "onnx-int8": ONNX_INT8_FILE}
ONNX_INPUTS = ("input_ids", "attention_mask")
ONNX_OUTPUT = "logits"


def onnx_logits(session: Any, batch: Any) -> Any:
    """Logits from the exported graph for one padded batch (``tokenizer.pad`` output, as
    NumPy arrays or CPU tensors): the graph takes int64 ids and mask, whatever the
    tokenizer returned. The one place that feeds the graph: the handler, the archive's
    parity check and the bench all call it."""
    import numpy as np

    return session.run([ONNX_OUTPUT], {name: np.asarray(batch[name], dtype=np.int64) for name in ONNX_INPUTS})[0]


def onnx_session(path: Path, threads: int) -> Any:
    """An ONNX Runtime session for the ``onnx`` and ``onnx-int8`` runtimes, on the CPU with
    ``threads`` threads.

    The archive's graph comes with each layer's attention already fused where ONNX Runtime's
    optimizer recognises it (``feedback archive``); ONNX Runtime's own graph optimisations (constant folding and the like) run when
    the session is built. The win is per call, so it shows most at small batches, where
    PyTorch's eager overhead weighs most (docs/PERFORMANCE.md)."""
    runtime = next((name for name, file in ONNX_FILES.items() if file == path.name), "onnx")  # for the messages
    try:
        import onnxruntime
    except ImportError:
        raise RuntimeError(f"the archive's runtime is {runtime} but onnxruntime is not installed in the serving environment; "
                           "install it (pip install '.[serve]', or onnxruntime==1.32.0) or rebuild the archive with `feedback archive --runtime fp32`") from None
    if not path.exists():
        raise RuntimeError(f"the archive's runtime is {runtime} but {path.name} is missing; rebuild it with `feedback archive --runtime {runtime}`")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


# What the classification head reads, as the model's config.json says (``feedback_pooling``):
# "cls", BERT's own pooled [CLS] vector (models trained before the setting), or "mean", the
# attention-masked mean of the last hidden states.
POOLING_KEY = "feedback_pooling"
POOLINGS = ("cls", "mean")


def use_pooling(model: Any) -> Any:
    """Make ``model`` read its text as its config says (``POOLING_KEY``); returns it.

    all-MiniLM-L6-v2 was trained as a sentence encoder on the mean of its token vectors; its
    [CLS] pooler is left over from masked-language pretraining and was never trained for
    sentence meaning. A head on the mean starts from the encoder's sentence space
    (docs/MODEL_REPORT.md, "Mean pooling"). The one place that knows how: training, the
    archive's ONNX export and this handler all load a model through it. Plain
    ``from_pretrained`` (or ``pipeline()``) reads [CLS] and answers wrongly for such a model.

    The model's class becomes a subclass of its own class, under the same name (so
    ``save_pretrained`` writes the same ``architectures``), whose ``forward`` reads the mean: a
    copy (``copy.deepcopy``, ``quantize_dynamic``, a ``DataParallel`` replica) keeps it and
    uses its own layers.
    """
    import torch

    pooling = getattr(model.config, POOLING_KEY, "cls")
    if pooling not in POOLINGS:
        raise RuntimeError(f"the model's config.json has {POOLING_KEY}={pooling!r}, expected one of {', '.join(POOLINGS)}; retrain it with `feedback train`")
    if pooling == "cls" or getattr(type(model), "_reads_mean", False):
        return model
    # BERT-family: one linear layer (or its int8 copy) reads the dropout of the pooled vector of
    # hidden_size; not DistilBERT's extra pre_classifier nor MPNet's dense head, which expect the [CLS] token.
    classifier = getattr(model, "classifier", None)
    if (getattr(classifier, "in_features", None) != getattr(model.config, "hidden_size", -1) or not hasattr(model, "dropout")
            or hasattr(model, "pre_classifier")):
        raise RuntimeError(f"{type(model).__name__}: mean pooling needs a single linear `classifier` on the hidden states after `dropout` "
                           "(BERT-family); train it with --pooling cls")
    from transformers.modeling_outputs import SequenceClassifierOutput

    def forward(self: Any, input_ids: Any = None, attention_mask: Any = None, token_type_ids: Any = None, labels: Any = None) -> Any:
        # Only what we feed: a model that took **kwargs would tell Trainer it scales the loss
        # for gradient accumulation itself. The base model still computes its pooler, unused
        # here (one H x H layer); the ONNX graph drops it.
        hidden = self.base_model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
        if attention_mask is None:
            attention_mask = torch.ones(hidden.shape[:2], device=hidden.device)
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        logits = self.classifier(self.dropout(pooled))
        loss = torch.nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)

    cls = type(model)
    model.__class__ = type(cls.__name__, (cls,), {"forward": forward, "_reads_mean": True, "__module__": cls.__module__,
                                                   "__doc__": f"{cls.__name__} whose head reads the mean of the token vectors."})
    return model


def int8_layers(model: Any) -> set[str]:
    """The names of the ``nn.Linear`` layers the int8 runtime quantises: all but each encoder
    layer's feed-forward output projection (``layer.N.output.dense``, not the attention's).

    That projection (DistilBERT's ``ffn.lin2``) reads the feed-forward activations, whose few
    large outliers a per-batch int8 scale rounds the rest of away (Bondarenko et al. 2021);
    left in fp32, the int8 model stays within 0.5 macro-F1 points of fp32 on our test split
    and development set, where quantising every layer lost 0.75 on the test split
    (docs/PERFORMANCE.md, "The int8 runtime").
    """
    import torch

    def feed_forward_output(name: str) -> bool:
        parts = name.split(".")
        # BERT, MiniLM, MPNet: layer.N.output.dense (the attention's is attention.output.dense);
        # DistilBERT: layer.N.ffn.lin2.
        return (parts[-2:] == ["output", "dense"] and "attention" not in parts) or parts[-2:] == ["ffn", "lin2"]

    return {name for name, module in model.named_modules() if isinstance(module, torch.nn.Linear) and not feed_forward_output(name)}


def apply_runtime(model: Any, runtime: str, device: Any) -> tuple[Any, str]:
    """The model as the archive's ``runtime`` serves it, and the runtime actually used.

    ``int8``: dynamic quantisation of the ``nn.Linear`` layers that ``int8_layers`` names
    (weights stored as int8, activations quantised per batch): faster on a CPU, a little less
    accurate (both measured in docs/PERFORMANCE.md). Done here at load time, not in the
    archive, so the archive keeps the fp32 weights and one file serves either way. PyTorch
    quantises dynamically on the CPU only: a GPU worker serves an int8 archive in fp32 (and
    says so in its log).
    """
    import torch

    if runtime not in RUNTIMES:
        raise RuntimeError(f"the archive's handler setting runtime is {runtime!r}, expected one of {', '.join(RUNTIMES)}; rebuild it with `feedback archive --runtime fp32`")
    if runtime == "fp32" or runtime in ONNX_FILES or device.type != "cpu":  # onnx runtimes run through onnx_session, not a torch model
        return model, "fp32"
    import warnings

    # torch 2.13 (pinned) marks torch.ao.quantization as moving to torchao but still ships it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*", category=UserWarning)
        return torch.ao.quantization.quantize_dynamic(model, int8_layers(model), dtype=torch.qint8), "int8"


# ----------------------------------------------------------------------------- handler

try:
    from ts.torch_handler.base_handler import BaseHandler
except ImportError:  # tests of the pure functions run without TorchServe importable
    BaseHandler = object  # type: ignore[assignment,misc]


class FeedbackHandler(BaseHandler):  # type: ignore[misc,valid-type]
    """Batched text classification with calibrated confidences and per-item errors."""

    def initialize(self, context: Any) -> None:
        import torch
        from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

        model_dir = Path(context.system_properties.get("model_dir"))
        self.setup = handler_settings(getattr(context, "model_yaml_config", None), model_dir)
        torch.set_num_threads(int(self.setup["threads"]))
        self.device = choose_device(context.system_properties.get("gpu_id"), torch.cuda.is_available())
        runtime = str(self.setup.get("runtime", "fp32"))
        self.session = None
        if runtime in ONNX_FILES and self.device.type == "cpu":
            self.model, self.runtime = None, runtime
            self.session = onnx_session(model_dir / ONNX_FILES[runtime], int(self.setup["threads"]))
        else:  # a GPU worker serves an onnx archive with PyTorch in fp32 (the archive keeps the weights)
            model = AutoModelForSequenceClassification.from_pretrained(model_dir).to(self.device).eval()
            self.model, self.runtime = apply_runtime(use_pooling(model), runtime, self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        config = AutoConfig.from_pretrained(model_dir)
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        self.version = str(context.manifest.get("model", {}).get("modelVersion") or self.setup.get("version", ""))
        self.max_items = int(self.setup.get("max_items", DEFAULT_MAX_ITEMS))
        self.batch_size = int(self.setup.get("inference_batch_size", 32))  # archives from before the setting used 32
        # How the model was trained to see text (older archives: plain head truncation).
        self.clean = bool(self.setup.get("clean_inbox", False))
        self.head_share = float(self.setup.get("head_share", 1.0))
        self.window_step = float(self.setup.get("window_step", 0.0))  # older archives: head and tail only
        self.explain_units = int(self.setup.get("explain_max_units", EXPLAIN_MAX_UNITS))
        self.explain_items = int(self.setup.get("explain_max_items", EXPLAIN_MAX_ITEMS))
        self.initialized = True
        logger.info("feedback model v%s loaded from %s on %s, %s (%d labels, %d threads)", self.version, model_dir, self.device, self.runtime, len(self.labels), self.setup["threads"])

    def preprocess(self, data: list[dict[str, Any]]) -> list[Parsed]:
        parsed = []
        for idx, row in enumerate(data):
            header = self.context.get_request_header(idx, "body") if "body" in row else None
            content_type = header.get("content-type") if isinstance(header, dict) else None
            request = parse_request(row, content_type, self.max_items)
            request.explain = self._asks_for_explanation(idx, len(data))
            if request.explain and not request.error and len(request.items) > self.explain_items:
                request = Parsed(error=f"too many items to explain: {len(request.items)}; at most {self.explain_items} per explanation request", explain=True)
            parsed.append(request)
        return parsed

    def _asks_for_explanation(self, idx: int, rows: int) -> bool:
        """Did request ``idx`` come in on ``/explanations``? TorchServe marks each such request
        with the header ``explain: True``, but ``BaseHandler.handle`` reads it for request 0
        only and sends the whole batch one way; a batch may mix both, so each request is
        asked here and ``inference``/``postprocess`` answer each the way it asked.

        Behind a request envelope (KServe v1 ``instances``) rows are not requests, so the
        batch goes the way its first request asked, as in ``BaseHandler``."""
        requests_sent = len(getattr(self.context, "request_ids", None) or {})
        return self.context.get_request_header(idx if rows == requests_sent else 0, "explain") == "True"

    def explain_handle(self, data_preprocess: list[Parsed], raw_data: list[dict[str, Any]]) -> list[Any]:
        """``BaseHandler.handle`` calls this when the batch's *first* request asked for an
        explanation; routing is per request (``preprocess``), so both paths are one."""
        return self.postprocess(self.inference(data_preprocess))

    def _forward(self, sequences: list[list[int]]) -> list[list[float]]:
        """Logits for token-id sequences, shortest first in batches padded per batch."""
        import torch

        logits: list[list[float]] = [[] for _ in sequences]
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        with torch.inference_mode():
            for begin in range(0, len(order), self.batch_size):
                idx = order[begin : begin + self.batch_size]
                if self.session is not None:
                    enc = self.tokenizer.pad({"input_ids": [sequences[i] for i in idx]}, return_tensors="np")
                    rows = onnx_logits(self.session, enc).tolist()
                else:
                    enc = self.tokenizer.pad({"input_ids": [sequences[i] for i in idx]}, return_tensors="pt")
                    rows = self.model(**enc.to(self.device)).logits.float().cpu().tolist()
                for i, row in zip(idx, rows):
                    logits[i] = row
        return logits

    def inference(self, parsed: list[Parsed], *args: Any, **kwargs: Any) -> list[Parsed]:
        """Classify every valid item of every prediction request together; explain the items
        of explanation requests."""
        max_length = int(self.setup["max_length"])
        wanted = [(request.explain, item) for request in parsed if not request.error for item in request.items if not item.error]
        todo = [item for explain, item in wanted if not explain]
        start = time.perf_counter()
        prepared = []
        for item in todo:
            text, item.cleaned, cut = prepare_text(item.text or "", max_length, self.clean, self.head_share)
            item.english = looks_english(text)
            prepared.append((text, cut))
        texts = [text for text, _ in prepared]
        sequences, owners, unread = encode_readings(self.tokenizer, texts, max_length, self.head_share, self.window_step) if todo else ([], [], [])
        pooled = pool_logits(self._forward(sequences), owners, len(todo))
        for item, row_logits, (_, text_cut), tokens_unread in zip(todo, pooled, prepared, unread):
            item.logits = row_logits
            item.truncated = text_cut or tokens_unread
        elapsed_ms = (time.perf_counter() - start) * 1000
        metrics = self.context.metrics
        if any(not request.explain for request in parsed):
            metrics.add_metric("FeedbackBatchItems", len(todo), "count", None, [], _histogram_type())
            metrics.add_time("FeedbackInferenceMs", round(elapsed_ms, 2), None, "ms")
        self._explain([item for explain, item in wanted if explain], max_length)
        explained = sum(request.explain for request in parsed)
        if 0 < explained < len(parsed):
            logger.info("mixed batch: %d explanation and %d prediction requests, each answered as it asked", explained, len(parsed) - explained)
        return parsed

    def _explain(self, items: list[Item], max_length: int) -> None:
        """Occlusion for each item (see ``occlusion_units``), read as its prediction is: every
        reading of the text (``readings``: head and tail, and a long text's windows), then each
        reading that holds a unit without it (``occluded_readings``), all scored in shared
        batches and pooled like the prediction (``pool_logits``), so the explanation's label
        and scores are the prediction's. The units are the words that some reading holds."""
        if not items:
            return
        start = time.perf_counter()
        temperature = float(self.setup["temperature"])
        texts = []
        for item in items:
            text, item.cleaned, item.truncated = prepare_text(item.text or "", max_length, self.clean, self.head_share)
            texts.append(text)
        encoded = self.tokenizer(texts, truncation=False, return_offsets_mapping=True, verbose=False)
        sequences: list[list[int]] = []
        plans = []
        for item, text, ids, offsets in zip(items, texts, encoded["input_ids"], encoded["offset_mapping"]):
            read, unread = readings(list(range(len(ids))), max_length, self.head_share, self.window_step)
            seen = sorted(set().union(*read))  # special tokens first and last, as occlusion_units expects
            join = cut_join(text, max_length, self.head_share) if item.truncated else None
            units, per_unit = occlusion_units([tuple(offsets[p]) for p in seen], self.explain_units, join)
            units = [[seen[i] for i in unit] for unit in units]  # positions in ``ids``
            first = len(sequences)
            sequences += [[ids[p] for p in positions] for positions in read]
            swaps = []
            for unit in units:
                swap = []
                for index, positions in occluded_readings(read, unit):
                    swap.append((index, len(sequences)))
                    sequences.append([ids[p] for p in positions])
                swaps.append(swap)
            plans.append((first, len(read), [tuple(o) for o in offsets], units, swaps, per_unit, unread))
        logits = self._forward(sequences)
        for item, text, (first, n_read, offsets, units, swaps, per_unit, unread) in zip(items, texts, plans):
            base_rows = logits[first : first + n_read]
            pooled = [pool_logits(base_rows, [0] * n_read, 1)[0]]
            for swap in swaps:
                rows = list(base_rows)
                for index, row in swap:
                    rows[index] = logits[row]
                pooled.append(pool_logits(rows, [0] * n_read, 1)[0])
            base, *occluded = (softmax(row, temperature) for row in pooled)
            weighed = occlusion_weights(base, occluded, self.labels)
            words = [{"word": unit_text(text, offsets, unit), "weight": round(weight, 6), "label": label} for unit, (weight, label) in zip(units, weighed)]
            item.explanation = build_explanation(base, self.labels, words, per_unit, self.version, item.truncated or unread, item)
        self.context.metrics.add_time("FeedbackExplainMs", round((time.perf_counter() - start) * 1000, 2), None, "ms")

    def postprocess(self, parsed: list[Parsed]) -> list[Any]:
        from ts.metrics.dimension import Dimension

        threshold = float(self.setup["needs_review_threshold"])
        temperature = float(self.setup["temperature"])
        responses: list[Any] = []
        metrics = self.context.metrics
        # One HTTP request per row, except behind a request envelope (KServe's v1 "instances"
        # become several rows of one request): a status for a row that is not a request of
        # its own would raise in TorchServe and fail the whole batch, so such a row gets
        # only its error entry.
        requests_sent = len(getattr(self.context, "request_ids", None) or {})
        for idx, request in enumerate(parsed):
            if request.error:
                if idx < requests_sent:
                    self.context.set_response_status(400, request.error, idx)
                responses.append({"error": request.error})
                logger.info("request %d refused: %s", idx, request.error)
                continue
            out = []
            for item in request.items:
                if item.error:
                    out.append(build_error(item))
                    continue
                if request.explain:
                    metrics.add_counter("FeedbackExplanations", 1, None, [])
                    logger.debug("request %d: explained label=%s chars=%d", idx, (item.explanation or {}).get("label"), len(item.text or ""))
                    out.append(item.explanation)
                    continue
                probs = softmax(item.logits or [], temperature)
                prediction = build_prediction(probs, self.labels, threshold, self.version, item.truncated, item)
                metrics.add_counter("FeedbackPredictions", 1, None, [Dimension("label", prediction["label"])])
                if prediction["needs_review"]:
                    metrics.add_counter("FeedbackLowConfidence", 1, None, [])
                logger.debug("request %d: label=%s chars=%d", idx, prediction["label"], len(item.text or ""))
                out.append(prediction)
            responses.append(out if request.is_list else out[0])
        return responses


def _histogram_type() -> Any:
    from ts.metrics.metric_type_enum import MetricTypes

    return MetricTypes.HISTOGRAM


_service: FeedbackHandler | None = None


def handle(data: list[dict[str, Any]] | None, context: Any) -> list[Any] | None:
    """TorchServe's entry point.

    TorchServe accepts a module with exactly one class, or a ``handle`` function; this file
    also holds the small request dataclasses, so the function is the entry point. TorchServe
    calls it once with ``data=None`` when the worker loads, which is when the model loads.
    """
    global _service
    if _service is None:
        _service = FeedbackHandler()
        _service.initialize(context)
    if data is None:
        return None
    return _service.handle(data, context)
