"""Classify one text: Ctrl+Enter, the label, the confidence band, the eight bars, the review badge."""

from __future__ import annotations

from dataclasses import replace

import pytest
from drive import classify

from client.core.stats import confidence_band
from client.core.labels import LABEL_NAMES, LABELS

pytestmark = pytest.mark.server


def test_ctrl_enter_shows_label_band_value_and_all_eight_scores(qtbot, window) -> None:
    prediction = classify(qtbot, window, "The app crashes every time I upload a photo from my gallery")
    panel = window.single
    assert panel.label_name.text() == LABEL_NAMES[prediction.label]
    band = confidence_band(prediction.confidence)
    assert panel.confidence.text().startswith(f"{band} confidence  ·  {prediction.confidence:.2f}")
    bars = panel.chart.bars()
    assert [bar.key for bar in bars] == list(LABELS)
    assert sum(bar.value for bar in bars) == pytest.approx(1.0, abs=1e-3)
    assert max(bars, key=lambda bar: bar.value).key == prediction.label
    assert panel.confirm_button.isEnabled() and panel.correct_button.isEnabled()
    assert len(panel.correct_menu.actions()) == 7
    assert window.dashboard.stats.totals.text().startswith("1 classified")


def test_needs_review_badge_follows_the_agents_threshold(qtbot, window) -> None:
    texts = ["The app crashes every time I upload a photo from my gallery", "How do I reset my password?", "not sure what to say really"]

    def badge_after(threshold: float, text: str) -> bool:
        window.services.apply_settings(replace(window.services.settings, review_threshold=threshold))
        classify(qtbot, window, text)
        return window.single.badge.isVisible()

    window.services.apply_settings(replace(window.services.settings, review_threshold=1.0))
    scored = sorted(((classify(qtbot, window, text), text) for text in texts), key=lambda pair: pair[0].confidence)
    (low, low_text), (high, high_text) = scored[0], scored[-1]
    assert low.confidence < high.confidence and low.language_supported and high.language_supported
    assert badge_after(1.0, low_text) and badge_after(1.0, high_text)
    # A threshold between two real scores flags the less confident text and not the other.
    between = (low.confidence + high.confidence) / 2
    assert badge_after(between, low_text) and not badge_after(between, high_text)
    assert not badge_after(0.01, low_text) and not badge_after(0.01, high_text)
