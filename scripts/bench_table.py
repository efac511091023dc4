"""Benchmark the results table at 100,000 rows: fill, header sort, a chunk arriving while
sorted, a filter and its reset.

Prints seconds per step; asserts nothing (speed goals live here, not in timed tests; the
behaviour is tested in tests/client/test_large_table.py, whose table this times). No server,
no network.

    QT_QPA_PLATFORM=offscreen python scripts/bench_table.py [--rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "client"))
from test_large_table import CHUNK, big_table, predictions  # noqa: E402

from client.ui.results_model import CONFIDENCE  # noqa: E402


def timed(app: QApplication, action) -> float:  # noqa: ANN001
    """Seconds for ``action`` plus the event processing it causes in the view."""
    start = time.perf_counter()
    action()
    app.processEvents()
    return time.perf_counter() - start


def one_round(app: QApplication, rows: int) -> dict[str, float]:
    start = time.perf_counter()
    run, model, proxy, table, rng = big_table(rows)
    app.processEvents()
    figures = {f"fill {rows - CHUNK:,} rows in chunks of {CHUNK:,}": time.perf_counter() - start}
    figures["sort by confidence"] = timed(app, lambda: table.sortByColumn(CONFIDENCE, Qt.SortOrder.DescendingOrder))
    figures[f"add {CHUNK:,} rows while sorted"] = timed(app, lambda: model.add_results(run.add(predictions(rng, CHUNK))))
    figures["filter label + search"] = timed(app, lambda: proxy.set_filters(label="bug", search="SYNC"))
    figures["clear filters"] = timed(app, proxy.set_filters)
    table.close()
    table.deleteLater()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.rows <= CHUNK or args.repeat < 1:
        parser.error(f"--rows must be over {CHUNK} and --repeat at least 1")
    app = QApplication.instance() or QApplication([])
    rounds = [one_round(app, args.rows) for _ in range(args.repeat)]
    print(f"results table, {args.rows:,} rows, {args.repeat} round(s): median (min-max) seconds")
    for step in rounds[0]:
        values = [r[step] for r in rounds]
        print(f"  {step:<40} {statistics.median(values):7.3f}  ({min(values):.3f}-{max(values):.3f})")


if __name__ == "__main__":
    main()
