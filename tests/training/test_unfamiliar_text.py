"""The unfamiliar-text measurement's distance (scripts/unfamiliar_text.py): docs/MODEL_REPORT.md
quotes its flags, so the distance must be the one it describes."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("unfamiliar_text")


def test_the_distance_is_to_the_nearest_label_mean_under_the_shared_covariance(script):
    rng = np.random.default_rng(0)
    scale = np.array([1.0, 10.0])  # the second dimension varies ten times as much within a label
    first = rng.normal(0, 1, size=(400, 2)) * scale
    second = rng.normal(0, 1, size=(400, 2)) * scale + np.array([100.0, 0.0])
    means, precision = script.fit_distance(np.vstack([first, second]), np.repeat([3, 5], 400))
    np.testing.assert_allclose(means, [[0, 0], [100, 0]], atol=1.5)
    points = np.array([[0.0, 10.0], [10.0, 0.0], [95.0, 0.0]])
    d = script.distances(points, means, precision)
    # ten units along the wide dimension are about one standard deviation; along the narrow one, about ten
    assert d[0] == pytest.approx(1.0, abs=0.15) and d[1] == pytest.approx(10.0, abs=1.5)
    assert d[2] == pytest.approx(5.0, abs=1.0)  # measured from the nearer mean, not the first


def test_flag_figures_are_shares_of_all_items_and_of_the_mistakes(script):
    flagged = np.array([True, True, False, False])
    wrong = np.array([True, False, True, False])
    assert script.flag_figures(flagged, wrong) == {"flagged": 0.5, "caught": 0.5}
    assert script.flag_figures(flagged, np.zeros(4, dtype=bool))["caught"] == 0.0
