"""Native look: colours from the system palette (dark mode readable), one colour per label in
tables and charts, rows that grow with the font, charts that screen readers can read."""

from __future__ import annotations


import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette

from client.core.api import Prediction
from client.core.batch import BatchResult
from client.core.labels import LABELS
from client.core.records import Row
from client.ui.charts import BarChart, label_bars
from client.ui.palette import LABEL_COLORS, contrast_ratio
from client.ui.results_model import LABEL, TEXT, ResultsFilter, ResultsTableModel
from client.ui.results_view import ResultsTable


def flagged_table(qtbot) -> ResultsTable:
    """A results table with one row that needs review (and no verdict) and one that does not."""
    scores = {label: 0.05 for label in LABELS} | {"bug": 0.4, "question": 0.25}
    model = ResultsTableModel()
    for line, flagged in ((2, True), (3, False)):
        row = Row(line=line, text=f"the export button crashes (#{line})", id=None, fields={})
        model.add_results([BatchResult(row, Prediction("bug", 0.4, scores, flagged, "1"), flagged)])
    proxy = ResultsFilter()
    proxy.setSourceModel(model)
    table = ResultsTable(proxy)
    qtbot.addWidget(table)
    return table


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, color in (
        (QPalette.ColorRole.Window, "#202124"),
        (QPalette.ColorRole.WindowText, "#E8EAED"),
        (QPalette.ColorRole.Base, "#121212"),
        (QPalette.ColorRole.AlternateBase, "#1E1E1E"),
        (QPalette.ColorRole.Text, "#E8EAED"),
        (QPalette.ColorRole.Button, "#303134"),
        (QPalette.ColorRole.ButtonText, "#E8EAED"),
    ):
        palette.setColor(role, QColor(color))
    return palette


@pytest.fixture
def app_palette(qapp):
    """Set the application's palette for one test and put the original back."""
    original = QGuiApplication.palette()
    yield QGuiApplication.setPalette
    QGuiApplication.setPalette(original)


@pytest.mark.parametrize("palette", [dark_palette, QPalette], ids=["dark", "light"])
def test_needs_review_rows_keep_table_text_readable(qtbot, app_palette, palette) -> None:
    app_palette(palette())
    table = flagged_table(qtbot)
    table.show()
    proxy = table.proxy
    text_color = table.palette().color(QPalette.ColorRole.Text)
    background = proxy.index(0, TEXT).data(Qt.ItemDataRole.BackgroundRole)
    assert isinstance(background, QColor), "the needs-review row must be painted"
    assert background != table.palette().color(QPalette.ColorRole.Base), "and stand out from the plain rows"
    assert contrast_ratio(text_color, background) >= 4.5
    assert proxy.index(1, TEXT).data(Qt.ItemDataRole.BackgroundRole) is None


def test_contrast_ratio_matches_wcag_reference_values() -> None:
    assert contrast_ratio(QColor("black"), QColor("white")) == pytest.approx(21.0)
    assert contrast_ratio(QColor("#777777"), QColor("white")) == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio(QColor("#123456"), QColor("#123456")) == pytest.approx(1.0)


def test_tables_and_charts_use_the_same_label_colour_and_rows_grow_with_the_font(qtbot) -> None:
    table = flagged_table(qtbot)
    icon = table.proxy.index(0, LABEL).data(Qt.ItemDataRole.DecorationRole)
    swatch = icon.pixmap(12, 12).toImage()
    assert QColor(swatch.pixel(6, 6)).name() == LABEL_COLORS["bug"].name()

    before = table.verticalHeader().defaultSectionSize()
    big = QFont(table.font())
    big.setPointSize(big.pointSize() * 3)
    table.setFont(big)
    assert table.verticalHeader().defaultSectionSize() > before
    assert table.verticalHeader().defaultSectionSize() >= table.fontMetrics().height()


def test_painted_charts_have_accessible_names_and_read_out_their_bars(qtbot) -> None:
    chart = BarChart("Scores per label")
    qtbot.addWidget(chart)
    chart.set_bars(label_bars({"bug": 0.81, "question": 0.1}, ".2f"), maximum=1.0, highlight="bug")
    assert chart.accessibleName() == "Scores per label"
    assert chart.accessibleDescription().startswith("Bug report 0.81 (predicted); Feature request 0.00")
    height = chart.sizeHint().height()
    big = QFont(chart.font())
    big.setPointSize(big.pointSize() * 3)
    chart.setFont(big)
    assert chart.sizeHint().height() > height




@pytest.mark.parametrize("palette", [dark_palette, QPalette], ids=["dark", "light"])
def test_settings_error_text_stays_readable(qtbot, app_palette, palette) -> None:
    from client.core.settings import ClientSettings
    from client.ui.settings_dialog import SettingsDialog

    app_palette(palette())
    dialog = SettingsDialog(ClientSettings("http://127.0.0.1:8080", "http://127.0.0.1:8081", "key_file.json"))
    qtbot.addWidget(dialog)
    colour = QColor(dialog.error.styleSheet().split("color:")[1].strip())
    window = dialog.palette().color(QPalette.ColorRole.Window)
    assert contrast_ratio(colour, window) >= 4.5


@pytest.mark.parametrize("palette", [dark_palette, QPalette], ids=["dark", "light"])
def test_status_colours_keep_contrast_and_stay_apart(palette) -> None:
    from client.ui.palette import alert_color, ok_color

    chosen = palette()
    window = chosen.color(QPalette.ColorRole.Window)
    ok, alert = ok_color(chosen), alert_color(chosen)
    assert contrast_ratio(ok, window) >= 4.5 and contrast_ratio(alert, window) >= 4.5
    assert ok.green() > ok.red() and alert.red() > alert.green()  # still green and red
