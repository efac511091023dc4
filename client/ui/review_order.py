"""The review queue's order and memory, on top of the queue's table model and filter.

Orders come from ``client.core.review_queue``; "most useful" needs the whole queue (near-
duplicate groups, labels in turns), so it is ranked on a pool thread and applied when it
comes back, again when a run ends (rows that came in meanwhile join at the end until
then). The queue also hides every text that has a verdict in the corrections store, from
this session or an earlier one, so an agent never sees an item twice.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from client.core.batch import BatchResult
from client.core.corrections import Correction
from client.core.review_queue import CONFIDENCE, ORDER_KEYS, ORDERS, USEFUL, text_key, useful_order
from client.ui.results_model import ResultsFilter, ResultsTableModel
from client.ui.services import Services
from client.ui.signals import emit
from client.ui.workers import Worker

ENDED_STATES = ("finished", "cancelled", "interrupted")  # the batch controller's states that end a run


class ReviewOrder(QObject):
    ordered = Signal(str)  # the order now applied

    def __init__(self, services: Services, model: ResultsTableModel, queue: ResultsFilter, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.model = model
        self.queue = queue
        self.order = CONFIDENCE
        self._ranking: Worker | None = None
        self._judged: frozenset[str] = frozenset()
        services.corrections.listed.connect(self._store_listed)
        services.corrections.undone.connect(self._undone)

    def set_order(self, order: str) -> None:
        """Order the queue by ``order`` (one of ``ORDERS``)."""
        if order not in ORDERS:
            raise ValueError(f"unknown review order {order!r}; expected one of: {', '.join(ORDERS)}")
        self.order = order
        if order != USEFUL:
            score = ORDER_KEYS[order]
            self.model.order_by(lambda r: (score(r.prediction), r.row.line))
            emit(self.ordered, order)
            return
        results = self.model.results()
        worker = Worker(useful_order, [r.row.text for r in results], [r.prediction for r in results])
        self._ranking = worker
        self.services.start(worker.on(returned=lambda ranks: self._ranked(worker, results, ranks)))

    def _ranked(self, worker: Worker, results: list[BatchResult], order: list[int]) -> None:
        if worker is not self._ranking or self.order != USEFUL:
            return  # another order was chosen meanwhile
        rank = {id(results[i]): position for position, i in enumerate(order)}
        self.model.order_by(lambda r: (rank.get(id(r), len(rank)), r.row.line))
        emit(self.ordered, USEFUL)

    def run_state(self, state: str) -> None:
        """Connected to the batch's state: when a run ends, rank its late rows too."""
        if state in ENDED_STATES and self.order == USEFUL:
            self.set_order(USEFUL)

    def _store_listed(self, corrections: list[Correction]) -> None:
        self._judged = frozenset(text_key(c.text) for c in corrections)
        self.queue.set_judged(self._judged)

    def _undone(self, removed: Correction) -> None:
        # Back in the queue at once; the store's next listing says whether another verdict keeps it out.
        self._judged = self._judged - {text_key(removed.text)}
        self.queue.set_judged(self._judged)
