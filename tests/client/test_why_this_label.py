""""Why this label": the client's explain calls on the real server, the highlighting (escaped,
coloured per label, readable in a dark palette), the single-text view and the batch detail
pane driven by real key presses."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from drive import classify, open_and_run, write_csv
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette

from client.core.api import EXPLAIN_CHUNK, Explanation, InferenceClient, ItemError, WordWeight
from client.core.highlight import highlight_html, marked_words
from client.core.labels import LABELS
from client.ui.explanation import highlight_colors
from client.ui.palette import TEXT_CONTRAST, contrast_ratio

BUG = "The app crashes every time I upload a photo from the gallery"
SCRIPT = "<script>alert('x')</script> & the upload crashes <b>every</b> time"
SPAN = re.compile(r'<span style="background-color: (#[0-9a-f]{6}); color: #[0-9a-f]{6};">([^<]*)</span>')


@pytest.fixture
def client(server) -> InferenceClient:
    return InferenceClient(server["urls"]["inference"], Path(server["key_file"]))


def _colors() -> tuple[dict[str, str], str]:
    return {label: f"#{i:02x}{i:02x}{i:02x}" for i, label in enumerate(LABELS, start=0xA0)}, "#000000"


# ------------------------------------------------------------------ the client on the real server


def test_explain_returns_the_words_of_the_text_behind_its_label(client) -> None:
    explanation = client.explain(BUG)
    assert explanation.label == client.classify(BUG).label
    assert explanation.unit == "word" and sorted(w.word for w in explanation.words) == sorted(BUG.split())
    assert [w.weight for w in explanation.words] == sorted((w.weight for w in explanation.words), reverse=True)


@pytest.mark.parametrize(
    "text, action",
    [
        (BUG, "crashes"),
        ("Since the last update the sync freezes on my phone", "freezes"),
        ("Export to CSV fails with an error every single time", "fails"),
    ],
)
def test_the_failing_action_is_among_the_top_words_of_an_obvious_bug_report(client, text, action) -> None:
    """What an agent should see highlighted. It holds on the session's tiny model (480 items,
    4 epochs); a model that learnt less may not hold it, and the occlusion arithmetic itself
    is tested in tests/handler/test_explanations.py whatever the model learnt."""
    explanation = client.explain(text)
    top = [w.word for w in explanation.words[:3]]
    print(f"tiny model, {explanation.label} {explanation.confidence:.2f}: top words {[(w.word, w.weight) for w in explanation.words[:3]]}")
    assert explanation.label == "bug" and action in top, (explanation.label, top)


def test_explain_many_keeps_order_and_ids_and_gives_a_bad_item_its_own_error(client) -> None:
    from handler.feedback_handler import EXPLAIN_MAX_ITEMS

    assert EXPLAIN_CHUNK == EXPLAIN_MAX_ITEMS  # the client's chunks are what the handler accepts
    seen: list[dict] = []
    client.session.on_request = seen.append
    texts = [f"the export button crashes on page {i}" for i in range(EXPLAIN_CHUNK + 3)]
    items = [(i, text) for i, text in enumerate(texts)]
    items[5] = (5, "   ")
    results = client.explain_many(items)
    assert [r.id for r in results] == list(range(len(items)))
    assert results[5] == ItemError("text is empty", 5)
    assert all(isinstance(r, Explanation) and r.label in LABELS and r.words for i, r in enumerate(results) if i != 5)
    assert [s["items"] for s in seen if s["path"].startswith("/explanations/")] == [EXPLAIN_CHUNK, 3]


# ------------------------------------------------------------------ the pure highlighting


def test_text_is_escaped_and_marked_words_are_spans_in_their_labels_colour() -> None:
    explanation = Explanation("bug", 0.9, (WordWeight("crashes", 0.4, "bug"), WordWeight("every", -0.1, "praise"), WordWeight("script", 0.002, "bug")))
    backgrounds, foreground = _colors()
    out = highlight_html(SCRIPT, explanation, backgrounds, foreground)
    assert "<script>" not in out and "<b>" not in out and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp;" in out
    assert SPAN.findall(out.split("</div>")[0]) == [(backgrounds["bug"], "crashes"), (backgrounds["praise"], "every")]
    assert set(marked_words(explanation)) == {"crashes", "every"}  # 0.002 is under a fifth of the strongest
    assert html.unescape(re.sub(r"<[^>]+>", "", out.split("</div>")[0])) == SCRIPT


def test_weights_keep_two_significant_digits_and_a_saturated_label_says_so() -> None:
    backgrounds, foreground = _colors()
    sure = Explanation("bug", 0.97, (WordWeight("every", 0.00042, "bug"), WordWeight("15", 0.0003, "bug")))
    out = highlight_html("logs me out every time, Android 15", sure, backgrounds, foreground)
    assert "every (+0.00042)" in out and "15 (+0.0003)" in out
    assert "from the message as a whole" in out
    unsure = Explanation("bug", 0.6, (WordWeight("crashes", 0.31, "bug"),))
    out = highlight_html("the app crashes", unsure, backgrounds, foreground)
    assert "crashes (+0.31)" in out and "as a whole" not in out


def test_a_span_marks_each_of_its_words_wherever_they_stand_whole() -> None:
    explanation = Explanation("bug", 0.8, (WordWeight("upload crashes,", 0.3, "bug"),), unit="span", words_per_unit=2)
    backgrounds, foreground = _colors()
    out = highlight_html("Uploads fail. Upload crashes; the upload CRASHES", explanation, backgrounds, foreground)
    assert [word for _, word in SPAN.findall(out.split("</div>")[0])] == ["Upload", "crashes", "upload", "CRASHES"]
    assert "2 words at a time" in out


# ------------------------------------------------------------------ the app


def assert_marked(view, explanation: Explanation) -> None:
    """Each word the explanation marks sits on its label's colour in the view wherever the
    text holds it whole (the cut of a long text may split one word: that piece is listed,
    not marked). Qt rewrites the HTML it was given, so this reads Qt's own."""
    shown = view.browser.toHtml()
    backgrounds, _ = highlight_colors(view.browser.palette())
    marks = {word: mark for word, mark in marked_words(explanation).items() if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", view.text, re.IGNORECASE)}
    assert marks, explanation
    for word, mark in marks.items():
        assert re.search(rf"background-color:{backgrounds[mark.label]};[^>]*>{re.escape(word)}<", shown, re.IGNORECASE), (word, shown)


def test_single_view_highlights_the_words_behind_the_label_with_a_legend(qtbot, window) -> None:
    panel = window.single
    with qtbot.waitSignal(panel.explained, timeout=30000) as explained:
        prediction = classify(qtbot, window, BUG)
    explanation = explained.args[0]
    assert explanation.label == prediction.label and panel.why_box.isVisible()
    assert_marked(panel.why, explanation)
    assert panel.why.browser.toPlainText().startswith(BUG)
    assert "for this label" in panel.why.browser.toPlainText()  # the legend


def test_script_text_is_shown_as_text_in_the_single_view(qtbot, window) -> None:
    panel = window.single
    with qtbot.waitSignal(panel.explained, timeout=30000):
        classify(qtbot, window, SCRIPT)
    # Shown literally: markup in the text would have vanished from the plain text (or made "every" bold).
    assert panel.why.browser.toPlainText().startswith(SCRIPT)
    assert "font-weight" not in panel.why.browser.toHtml().split("every")[0].rsplit("<span", 1)[-1]


def test_dark_palette_highlights_keep_text_readable(qtbot, window) -> None:
    view = window.single.why
    dark = QPalette(view.palette())
    dark.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#e6e6e6"))
    backgrounds, foreground = highlight_colors(dark)
    for label, background in backgrounds.items():
        assert contrast_ratio(QColor(background), QColor(foreground)) >= TEXT_CONTRAST, label
        assert QColor(background) != dark.color(QPalette.ColorRole.Base), label  # still tinted
    explanation = Explanation("bug", 0.9, (WordWeight("crashes", 0.4, "bug"),))
    view.show_explanation(BUG, explanation)
    view.browser.setPalette(dark)
    view.setPalette(dark)  # a theme switch re-renders with the new palette's colours
    assert f"background-color:{backgrounds['bug']}" in view.browser.toHtml()


@pytest.fixture
def ran(qtbot, make_window, server, key_file: Path, tmp_path: Path):
    """A window whose batch of 10 rows has run, every row in the review queue too."""
    urls = server["urls"]
    window = make_window(urls["inference"], urls["management"], key_file, review_threshold=0.999)
    open_and_run(qtbot, window, write_csv(tmp_path / "export.csv", 10))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    return window


def _explanation_requests(records: list[dict]) -> int:
    return sum(record["path"].startswith("/explanations/") for record in records)


def test_batch_detail_pane_explains_the_row_the_agent_stops_on(qtbot, ran) -> None:
    batch, table, pane = ran.batch, ran.batch.table, ran.batch.results_detail
    records: list[dict] = []
    ran.services.request_logged.connect(records.append)
    batch.tabs.setCurrentIndex(1)
    table.setFocus()
    qtbot.waitUntil(table.hasFocus)
    start = table.currentIndex().row()
    with qtbot.waitSignal(pane.explained, timeout=30000) as explained:
        for _ in range(4):  # J four times in quick succession: one request, for the row reached
            qtbot.keyClick(table, Qt.Key.Key_J)
    result, explanation = explained.args
    assert result is table.current_result() and table.currentIndex().row() == (3 if start < 0 else start + 4)
    assert explanation.label == result.prediction.label
    assert pane.browser.toPlainText().startswith(result.row.text)
    assert_marked(pane, explanation)
    assert _explanation_requests(records) == 1
    # Back to a row explained before: shown at once, no second request.
    with qtbot.waitSignal(pane.explained, timeout=1000):
        qtbot.keyClick(table, Qt.Key.Key_K)
        qtbot.keyClick(table, Qt.Key.Key_J)
    qtbot.wait(2 * 300)
    assert _explanation_requests(records) == 1


def test_review_queue_has_its_own_detail_pane(qtbot, ran) -> None:
    batch, queue, pane = ran.batch, ran.batch.queue_table, ran.batch.queue_detail
    batch.tabs.setCurrentIndex(2)
    queue.setFocus()
    qtbot.waitUntil(queue.hasFocus)
    with qtbot.waitSignal(pane.explained, timeout=30000) as explained:
        qtbot.keyClick(queue, Qt.Key.Key_J)
    result, explanation = explained.args
    assert result is queue.current_result() and explanation.label == result.prediction.label
    assert pane.browser.toPlainText().startswith(result.row.text)
    assert_marked(pane, explanation)
    assert ran.batch.results_detail.explanation is None  # the results pane follows its own table


def test_a_long_text_is_explained_in_spans_and_the_view_says_so(qtbot, window) -> None:
    text = " ".join(f"the export to csv fails with error {i} when the report is long" for i in range(400))  # 4,800 words
    panel = window.single
    with qtbot.waitSignal(panel.explained, timeout=60000) as explained:
        classify(qtbot, window, text)
    explanation = explained.args[0]
    assert explanation.unit == "span" and explanation.truncated and explanation.words_per_unit > 1
    assert f"weighed {explanation.words_per_unit} words at a time" in panel.why.browser.toPlainText()
    assert_marked(panel.why, explanation)


def test_a_verdict_key_moves_on_and_the_pane_explains_the_next_row(qtbot, ran) -> None:
    batch, table, pane = ran.batch, ran.batch.table, ran.batch.results_detail
    batch.tabs.setCurrentIndex(1)
    table.setFocus()
    qtbot.waitUntil(table.hasFocus)
    with qtbot.waitSignal(pane.explained, timeout=30000):
        table.setCurrentIndex(table.proxy.index(0, 0))
    first = table.current_result()
    with qtbot.waitSignal(pane.explained, timeout=30000) as explained:
        with qtbot.waitSignal(ran.services.corrections.saved, timeout=10000):
            qtbot.keyClick(table, Qt.Key.Key_1)
    result, explanation = explained.args
    assert first.reviewed_label == LABELS[0] and result is table.current_result() and result is not first
    assert pane.browser.toPlainText().startswith(result.row.text) and explanation.label == result.prediction.label
