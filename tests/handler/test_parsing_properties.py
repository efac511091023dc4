"""Properties of the handler's request parsing: whatever arrives, a well-formed answer.

Requests go through TorchServe's own code on the way in (``_retrieve_input_data`` decodes
a parameter frame the way the worker does: JSON for ``application/json``, text for
``text/*``, bytes otherwise, and bytes again when its own decoding fails;
``Service.retrieve_data_for_inference`` builds the batch and the request headers) and on
the way out (``create_predict_response`` serialises the answers). Between the two, the
handler's real ``preprocess`` runs with a real ``Context``. Only the model is left out:
every item that parses gets a made-up probability vector. The property is that nothing
raises, every request gets either a one-line error or one answer per item, and every
answer can be sent back to the client as strict JSON.

The nastiest inputs found here also run against the real server (the last test): never a
5xx, and the same worker processes still READY afterwards.
"""

from __future__ import annotations

import io
import json
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

pytest.importorskip("ts")

from ts.context import Context  # noqa: E402
from ts.protocol.otf_message_handler import _retrieve_input_data, create_predict_response  # noqa: E402
from ts.service import Service  # noqa: E402

from client.core.labels import LABELS  # noqa: E402
from handler.feedback_handler import (  # noqa: E402
    DEFAULT_MAX_ITEMS,
    FeedbackHandler,
    Parsed,
    build_error,
    build_prediction,
    looks_english,
    parse_request,
    prepare_text,
)

PROPERTY = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MAX_ERROR_CHARS = 300

CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            "",
            "application/json",
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            "text/plain",
            "text/plain; charset=latin-1",
            "text/csv",
            "text/html",
            "application/octet-stream",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/x-ndjson",
            "image/png",
            ";;;",
        ]
    ),
    st.text(max_size=40),
)

# Text that parses but that a tokenizer or a JSON encoder may choke on: control characters,
# NUL, lone surrogates (a JSON body may carry "\ud800"), right-to-left marks, BOMs, emoji.
NASTY_CHARS = st.sampled_from(["\x00", "\x01", "\x1b", "\x7f", "\u0085", "\u2028", "\u200f", "\ufeff", "\ud800", "\udfff", "\udc80", "😀", "\r", "\n", "\t", " "])
TEXTS = st.one_of(st.text(max_size=30), st.text(alphabet=st.one_of(NASTY_CHARS, st.characters()), max_size=60))
# Up to 1 MB (4 MB of UTF-8): a repeated unit, so drawing it stays cheap.
HUGE_TEXTS = st.builds(lambda unit, n: unit * n, st.text(alphabet=st.one_of(NASTY_CHARS, st.characters()), min_size=1, max_size=4), st.sampled_from([1000, 100_000, 1_000_000]))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=6)
ANY_VALUE = st.one_of(TEXTS, JSON_VALUES)
ITEM = st.one_of(
    st.fixed_dictionaries({"text": ANY_VALUE}, optional={"id": JSON_VALUES}),
    st.fixed_dictionaries({}, optional={"id": JSON_VALUES, "txt": ANY_VALUE}),
    ANY_VALUE,
)
PAYLOADS = st.one_of(
    st.fixed_dictionaries({"text": st.one_of(ANY_VALUE, HUGE_TEXTS)}, optional={"id": JSON_VALUES, "texts": ANY_VALUE}),
    st.builds(lambda text, n: {"texts": [text] * n}, HUGE_TEXTS, st.sampled_from([2, 3])),
    st.fixed_dictionaries({"texts": st.one_of(st.lists(ANY_VALUE, max_size=6), ANY_VALUE)}),
    st.fixed_dictionaries({"items": st.one_of(st.lists(ITEM, max_size=6), ANY_VALUE)}),
    st.builds(lambda text, n: {"texts": [text] * n}, st.text(max_size=20), st.sampled_from([DEFAULT_MAX_ITEMS, DEFAULT_MAX_ITEMS + 1, 5000])),
    st.builds(lambda n: [{"id": i, "text": "x"} for i in range(n)], st.sampled_from([1, DEFAULT_MAX_ITEMS, 3000])),
    st.lists(ITEM, max_size=4),
    JSON_VALUES,
)

SMALL_PAYLOADS = st.one_of(
    st.fixed_dictionaries({"text": JSON_VALUES}, optional={"id": JSON_VALUES}),
    st.fixed_dictionaries({"items": st.lists(st.fixed_dictionaries({"text": st.one_of(st.text(alphabet=NASTY_CHARS, max_size=5), JSON_VALUES)}, optional={"id": JSON_VALUES}), max_size=5)}),
)


def _deep(depth: int, open_: str, close: str, inner: str = "") -> str:
    return open_ * depth + inner + close * depth


# Bodies no JSON encoder writes: nesting past the recursion limit, numbers past Python's
# digit limit, non-finite numbers, lone surrogate escapes, an id nested just deep enough to
# parse and too deep to send back.
HOSTILE_JSON = st.one_of(
    st.builds(lambda d: _deep(d, "[", "]"), st.sampled_from([10, 900, 1000, 5000, 100_000])),
    st.builds(lambda d: '{"text": ' + _deep(d, '{"a": ', "}", '"x"') + "}", st.sampled_from([10, 990, 3000])),
    st.builds(lambda d: '{"id": ' + _deep(d, "[", "]") + ', "text": "hello"}', st.sampled_from([10, 500, 990, 2000])),
    st.builds(lambda d: '{"items": [{"id": ' + _deep(d, "[", "]") + ', "text": "hello"}]}', st.sampled_from([10, 500, 990])),
    st.builds(lambda n: '{"id": ' + "9" * n + ', "text": "hello"}', st.sampled_from([10, 4300, 4301, 50_000])),
    st.sampled_from(
        [
            '{"id": NaN, "text": "hello"}',
            '{"id": Infinity, "text": "hello"}',
            '{"id": 1e999, "text": "hello"}',
            '{"items": [{"id": -Infinity, "text": "a"}, {"id": 2, "text": "b"}]}',
            '{"text": "\\ud800"}',
            '{"texts": ["fine", "\\udfff lone", "\\ud83d\\ude00 paired"]}',
            '{"text": "a\\u0000b"}',
            '{"text": "x", "text": 5}',
            '{"texts": [], "text": "x"}',
            "\ufeff" + '{"text": "after a BOM"}',
            '{"text": "x"} trailing',
            "null",
            "[]",
            '"just a string"',
            "42",
        ]
    ),
)


class _Wire:
    """What ``_retrieve_input_data`` reads from: a socket's ``recv`` over one frame."""

    def __init__(self, frame: bytes) -> None:
        self.buffer = io.BytesIO(frame)

    def recv(self, n: int) -> bytes:
        return self.buffer.read(n)


def parameter(name: str, content_type: str, value: bytes) -> dict:
    """One request parameter as the worker decodes it from the frontend's frame."""
    frame = b"".join(struct.pack("!i", len(part)) + part for part in (name.encode(), content_type.encode(), value))
    return _retrieve_input_data(_Wire(frame))


def through_torchserve(requests: list[tuple[list[dict], dict[str, str]]]) -> tuple[list[Parsed], list[dict | list], bytes]:
    """A batch through TorchServe's decoding, the handler's ``preprocess``, made-up
    scores in place of the model, and TorchServe's response encoding."""
    batch = [
        {"requestId": f"req-{i}".encode(), "parameters": params, "headers": [{"name": k.encode(), "value": v.encode()} for k, v in headers.items()]}
        for i, (params, headers) in enumerate(requests)
    ]
    request_headers, input_batch, req_id_map = Service.retrieve_data_for_inference(batch)
    context = Context("feedback-classifier", "/nonexistent", {}, len(batch), None, "0.12.0")
    context.request_processor = request_headers
    context.request_ids = req_id_map
    handler = FeedbackHandler()
    handler.context = context
    handler.max_items = DEFAULT_MAX_ITEMS
    parsed = handler.preprocess(input_batch)
    answers = [answer(context, idx, request) for idx, request in enumerate(parsed)]
    message = create_predict_response(answers, req_id_map, "Prediction success", 200, context=context)
    return parsed, answers, bytes(message)


def answer(context: Context, idx: int, request: Parsed) -> dict | list:
    """What ``postprocess`` sends for one request, with uniform probabilities for the model's."""
    if request.error:
        context.set_response_status(400, request.error, idx)
        return {"error": request.error}
    out = []
    for item in request.items:
        if item.error:
            out.append(build_error(item))
            continue
        text, _cleaned, _cut = prepare_text(item.text, 64, clean=True, head_share=0.75)
        item.english = looks_english(text)
        out.append(build_prediction([1 / len(LABELS)] * len(LABELS), list(LABELS), 0.5, "1", False, item))
    return out if request.is_list else out[0]


def assert_well_formed(parsed: Parsed, reply: dict | list, max_items: int = DEFAULT_MAX_ITEMS) -> None:
    assert isinstance(parsed, Parsed)
    if parsed.error is not None:
        assert_one_line(parsed.error)
        assert parsed.items == []
    else:
        assert 1 <= len(parsed.items) <= max_items
        assert parsed.is_list or len(parsed.items) == 1
        for item in parsed.items:
            if item.error is None:
                assert isinstance(item.text, str) and item.text.strip()
                item.text.encode("utf-8")  # what the tokenizer needs: no lone surrogates
            else:
                assert item.text is None
                assert_one_line(item.error)
            if item.has_id:
                assert item.id is None or isinstance(item.id, (str, int, float)), "ids are echoed as JSON scalars"
    # The reply is strict JSON (no NaN or Infinity a browser or a Java client would refuse).
    json.loads(json.dumps(reply, allow_nan=False))


def assert_one_line(message: object) -> None:
    """Errors are fixed sentences: one printable ASCII line, no customer text in them."""
    assert isinstance(message, str) and 0 < len(message) <= MAX_ERROR_CHARS
    assert message.isascii() and message.isprintable(), message


@PROPERTY
@given(body=st.one_of(st.binary(max_size=2000), st.builds(lambda unit, n: unit * n, st.binary(min_size=1, max_size=4), st.sampled_from([1000, 1_000_000]))), content_type=CONTENT_TYPES)
@example(body=b"\xff\xfe\x00t\x00e\x00x\x00t", content_type="application/json")
@example(body=b"\xed\xa0\x80", content_type="text/plain")  # UTF-8 of a surrogate: invalid
@example(body=b"", content_type="")
def test_random_bytes_under_any_content_type(body, content_type):
    parsed, answers, _ = through_torchserve([([parameter("body", content_type, body)], {})])
    assert_well_formed(parsed[0], answers[0])


@PROPERTY
@given(payload=PAYLOADS, content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""]), ascii_only=st.booleans())
def test_json_bodies_of_every_shape(payload, content_type, ascii_only):
    raw = json.dumps(payload, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    parsed, answers, _ = through_torchserve([([parameter("body", content_type, raw)], {})])
    assert_well_formed(parsed[0], answers[0])
    if parsed[0].error is None and content_type.startswith("application/json") and isinstance(payload, dict) and ("texts" in payload or "items" in payload):
        assert len(answers[0]) == len(payload.get("texts", payload.get("items")))


@PROPERTY
@given(body=HOSTILE_JSON, content_type=st.sampled_from(["application/json", "application/json; charset=utf-8"]))
def test_hostile_json(body, content_type):
    parsed, answers, _ = through_torchserve([([parameter("body", content_type, body.encode("utf-8"))], {})])
    assert_well_formed(parsed[0], answers[0])


@PROPERTY
@given(
    params=st.lists(
        st.tuples(st.sampled_from(["body", "data", "text", "file", "texts", ""]), CONTENT_TYPES, st.one_of(st.binary(max_size=200), st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))),
        max_size=4,
        unique_by=lambda p: p[0],
    ),
    headers=st.dictionaries(st.sampled_from(["body", "content-type", "text", "x-anything", "Authorization"]), st.text(max_size=30), max_size=3),
)
def test_form_fields_query_parameters_and_headers(params, headers):
    """A form post, query parameters or a header named like a parameter (TorchServe puts
    request headers and parameter content types in the same dictionary)."""
    parsed, answers, _ = through_torchserve([([parameter(name, ctype, value) for name, ctype, value in params], headers)])
    assert_well_formed(parsed[0], answers[0])


@PROPERTY
@given(
    bodies=st.lists(
        st.one_of(
            st.tuples(st.just("application/json"), HOSTILE_JSON.map(str.encode)),
            st.tuples(CONTENT_TYPES, st.binary(max_size=100)),
            st.tuples(st.just("application/json"), SMALL_PAYLOADS.map(lambda p: json.dumps(p).encode())),
        ),
        min_size=2,
        max_size=4,
    )
)
def test_one_bad_request_never_spoils_its_batch(bodies):
    """A batch of mixed requests plus one good one: the good one is always classified."""
    good = ("text/plain", b"The export button does nothing")
    requests = [([parameter("body", ctype, body)], {}) for ctype, body in [*bodies, good]]
    parsed, answers, message = through_torchserve(requests)
    assert len(parsed) == len(answers) == len(requests)
    for request, reply in zip(parsed, answers):
        assert_well_formed(request, reply)
    assert parsed[-1].error is None and answers[-1]["label"] in LABELS
    assert struct.unpack("!i", message[:4])[0] == 200  # the batch as a whole succeeded


@PROPERTY
@given(row=st.dictionaries(st.sampled_from(["body", "data", "text", "other"]), st.one_of(JSON_VALUES, TEXTS, st.binary(max_size=50).map(bytearray)), max_size=3), content_type=st.one_of(st.none(), CONTENT_TYPES))
def test_parse_request_on_already_decoded_values_of_any_type(row, content_type):
    """``parse_request`` on its own, with values of types TorchServe never sends."""
    parsed = parse_request(row, content_type)
    assert_well_formed(parsed, {"error": parsed.error} if parsed.error else [build_error(i) if i.error else {"text": len(i.text)} for i in parsed.items])



# What broke the handler or the worker before the fixes the properties above led to, and
# the largest inputs a client can send, each with the status and message it must get.
NASTIEST = [
    ("deep array", "application/json", _deep(100_000, "[", "]").encode(), 400, "nested too deeply"),
    ("id nested 980 deep", "application/json", ('{"items": [{"id": ' + _deep(980, "[", "]") + ', "text": "hello"}, {"id": 2, "text": "fine"}]}').encode(), 200, "id must be"),
    ("5000-digit id", "application/json", ('{"id": ' + "9" * 5000 + ', "text": "hello"}').encode(), 400, "number too long"),
    ("lone surrogates", "application/json", b'{"texts": ["fine", "\\ud800 lone", "\\udfff"]}', 200, "lone surrogate"),
    ("NaN and Infinity ids", "application/json", b'{"items": [{"id": NaN, "text": "a"}, {"id": Infinity, "text": "b"}, {"id": 3, "text": "c"}]}', 200, "finite number"),
    ("1 MB of control characters", "text/plain", ("\x00\x1b\u202e\u2028" * 250_000).encode(), 200, None),
    ("5000 items", "application/json", json.dumps({"texts": ["x"] * 5000}).encode(), 400, "too many items"),
    ("byte-order mark", "application/json; charset=utf-8", "\ufeff{\"text\": \"after a BOM\"}".encode(), 200, None),
    ("random bytes", "application/octet-stream", bytes(range(256)) * 64, 400, "not valid UTF-8"),
    ("a PNG", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(1000), 400, "not valid UTF-8"),
    ("NUL escapes", "application/json", json.dumps({"text": "\x00" * 10_000 + "crash"}).encode(), 200, None),
    ("wrong types", "application/json", b'{"items": [1, null, {"text": {"a": 1}}, {"text": ["x"]}, {"id": 4}]}', 200, "must be"),
]


def _strict_json(text: str):
    return json.loads(text, parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"))


def _ready_workers(api_url: str, auth: dict, seconds: float = 180) -> list[int]:
    """The worker pids once every worker is READY (a worker may still be starting or
    scaling when the test begins)."""
    deadline = time.monotonic() + seconds
    while True:
        describe = requests.get(f"{api_url}/models/feedback-classifier", headers=auth, timeout=30).json()[0]
        workers = describe["workers"]
        if workers and all(worker["status"] == "READY" for worker in workers):
            return sorted(worker["pid"] for worker in workers)
        assert time.monotonic() < deadline, f"workers not READY: {workers}"
        time.sleep(1)


def test_nastiest_requests_against_the_real_server(server):
    """Sent concurrently with good requests (so they share inference batches): each gets its
    own 200 or 400 with a message, never a 5xx, and no worker dies on the way."""
    from client.core.instance import read_key

    key_file = Path(server["key_file"])
    urls = server["urls"]
    auth = {"Authorization": f"Bearer {read_key(key_file, 'inference')}"}
    mauth = {"Authorization": f"Bearer {read_key(key_file, 'management')}"}
    url = f"{urls['inference']}/predictions/feedback-classifier"
    before = _ready_workers(urls["management"], mauth)

    good = [(f"good {i}", "text/plain", f"The invoice page crashes when I click export ({i})".encode(), 200, None) for i in range(len(NASTIEST))]
    cases = [case for pair in zip(NASTIEST, good) for case in pair]

    def send(case):
        _name, ctype, body, _status, _fragment = case
        return requests.post(url, data=body, headers={**auth, "Content-Type": ctype}, timeout=120)

    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(send, cases))
    for (name, _ctype, _body, status, fragment), reply in zip(cases, replies):
        assert reply.status_code == status, (name, reply.status_code, reply.text[:300])
        body = _strict_json(reply.text)
        if status == 400:
            assert fragment in body["error"] and "\n" not in body["error"], (name, body)
            continue
        answers = body if isinstance(body, list) else [body]
        assert all(("error" in a) or a["label"] in LABELS for a in answers), name
        if fragment is not None:
            assert any(fragment in a.get("error", "") for a in answers), (name, answers)
            assert any("label" in a for a in answers) or name == "wrong types", name
    assert _ready_workers(urls["management"], mauth) == before, "a worker died and was restarted"
    after = requests.post(url, data=b"Please add an export to PDF", headers={**auth, "Content-Type": "text/plain"}, timeout=60)
    assert after.status_code == 200 and after.json()["label"] in LABELS
