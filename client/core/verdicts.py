"""An agent's verdict on a prediction, as the Correction the retraining store keeps."""

from __future__ import annotations

from client.core.api import Prediction
from client.core.corrections import Correction, now_iso

SINGLE_SOURCE = "single"


def make_verdict(
    text: str, prediction: Prediction, final_label: str, agent: str, source: str, flagged: bool | None = None, spot_check: bool = False,
    source_digest: str | None = None,
) -> Correction:
    """A confirmation when the agent keeps the model's label, else a correction.

    ``flagged`` is the review flag the agent saw (the agent's threshold may differ from the
    model's, so it is passed in; None: the model's own flag); ``spot_check`` marks an item
    drawn at random, whose verdict measures the model without the queue's bias;
    ``source_digest`` tells the file apart from others of the same name.
    """
    return Correction(
        text=text,
        final_label=final_label,
        predicted_label=prediction.label,
        kind="confirmation" if final_label == prediction.label else "correction",
        confidence=prediction.confidence,
        model_version=prediction.model_version,
        created_at=now_iso(),
        agent=agent or None,
        source=source,
        spot_check=spot_check,
        needs_review=prediction.needs_review if flagged is None else flagged,
        scores=dict(prediction.scores),
        source_digest=source_digest,
    )
