"""The ``onnx`` runtime's graph: a trained model folder exported to ONNX at archive time;
and the ``onnx-int8`` runtime's, the same graph with its linear layers quantised.

The archive keeps the fp32 weights as well, so a GPU worker (or an older handler) can still
serve it with PyTorch; the handler's ``onnx_session`` runs this file on the CPU. The export
is checked against PyTorch on a few texts of different lengths before it is packed: a graph
that answers differently is refused here, not found out by an agent.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from client.core.errors import ModelError

logger = logging.getLogger(__name__)

OPSET = 17
# Largest difference of a logit between PyTorch and ONNX Runtime that still counts as the
# same model (both fp32; measured differences are about 1e-5).
TOLERANCE = 1e-3
PARITY_TEXTS = (
    "hi",
    "The export button does nothing when I click it, every single time, on two laptops.",
    "Could you add a dark mode? " * 20,
)


def export_onnx(model_dir: Path, target: Path, max_length: int = 128) -> float:
    """Write ``model_dir``'s classifier to ``target`` as ONNX (inputs ``input_ids`` and
    ``attention_mask``, output ``logits``, batch and length dynamic) and return the largest
    logit difference from PyTorch on ``PARITY_TEXTS`` (a ``ModelError`` above ``TOLERANCE``),
    checked both as one padded batch cut at ``max_length`` and one text alone, unpadded (the
    shape of a single-text request).

    The TorchScript exporter (``dynamo=False``) is used: it traces BERT's dynamic shapes
    without the extra packages the dynamo exporter needs. The model is traced with its eager
    attention (not PyTorch's fused ``sdpa`` call), whose pattern ONNX Runtime's transformer
    optimizer recognises: ``fuse_transformer`` then replaces each layer's attention, layer
    norms and GELU with ONNX Runtime's fused operators (``Attention``, ``SkipLayerNormalization``,
    ``BiasGelu``): faster for the same logits to 1e-6 (docs/PERFORMANCE.md, "Fused
    attention")."""
    import importlib.util

    import torch

    missing = [name for name in ("onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise ModelError(f"--runtime onnx needs {' and '.join(missing)}, which is not installed", "install the train extra (pip install '.[train]') or archive with --runtime fp32")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from handler.feedback_handler import ONNX_INPUTS, ONNX_OUTPUT, use_pooling

    model = use_pooling(AutoModelForSequenceClassification.from_pretrained(model_dir, attn_implementation="eager").eval())
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    sample = tokenizer(list(PARITY_TEXTS[:2]), padding=True, return_tensors="pt")
    with tempfile.TemporaryDirectory(prefix="onnx-trace-", dir=target.parent) as tmp:
        traced = Path(tmp) / "traced.onnx"
        with warnings.catch_warnings():  # tracer warnings about Python control flow on shapes, expected for BERT
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, tuple(sample[name] for name in ONNX_INPUTS), str(traced), input_names=list(ONNX_INPUTS),
                output_names=[ONNX_OUTPUT], dynamic_axes={**{name: {0: "batch", 1: "tokens"} for name in ONNX_INPUTS}, ONNX_OUTPUT: {0: "batch"}},
                opset_version=OPSET, dynamo=False,
            )
        if not fuse_transformer(traced, target, model.config):
            shutil.copyfile(traced, target)
    difference = parity_difference(model, tokenizer, target, max_length)
    if difference > TOLERANCE:
        raise ModelError(f"the ONNX export of {model_dir} answers differently from PyTorch (largest logit difference {difference:.2g})",
                         "archive it with `--runtime fp32`, and report the model and versions")
    logger.info("exported %s to ONNX (opset %d), largest logit difference from PyTorch %.1g", model_dir, OPSET, difference)
    return difference


def fuse_transformer(source: Path, target: Path, config: Any) -> bool:
    """Write ``source`` to ``target`` with ONNX Runtime's transformer fusions for a BERT-style
    encoder (``onnxruntime.transformers.optimizer``, CPU) when they fuse every layer's
    attention; False, writing nothing, when they do not.

    Only all or nothing: fusing the layer norms and GELU around an attention the optimizer does
    not recognise (MPNet's relative position bias, for one) measured slower than no fusion at
    all (docs/PERFORMANCE.md, "Fused attention"), and an optimizer that fails on an unfamiliar
    graph must not fail the archive. The fused ``Attention`` reads the mask as one length per
    row, so it assumes right padding, as every tokenizer we serve pads; the parity check
    would refuse a graph fed otherwise."""
    from onnxruntime.transformers.optimizer import optimize_model

    heads, hidden = getattr(config, "num_attention_heads", 0), getattr(config, "hidden_size", 0)
    layers = getattr(config, "num_hidden_layers", 0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            optimized = optimize_model(str(source), model_type="bert", num_heads=heads, hidden_size=hidden)
        fused = {name: count for name, count in optimized.get_fused_operator_statistics().items() if count}
    except Exception as exc:  # noqa: BLE001 - the unfused graph is a correct answer
        logger.warning("ONNX Runtime's transformer optimizer failed on this model (%s); the graph is packed unfused", exc)
        return False
    if fused.get("Attention", 0) != layers:
        logger.warning("ONNX Runtime would fuse the attention of %d of %d layers (%s); the graph is packed unfused", fused.get("Attention", 0), layers, fused)
        return False
    optimized.save_model_to_file(str(target))
    return True


# Largest difference of a logit between the quantised graph and PyTorch that still counts as
# a sound quantisation: a sanity bound (a broken graph answers NaN or nonsense), not a quality
# rule; the quality rule (at most 0.5 macro-F1 points lost on our test split and development
# set) is measured by `feedback bench` (docs/PERFORMANCE.md, "The onnx-int8 runtime").
INT8_TOLERANCE = 2.0


def quantize_onnx(model_dir: Path, source: Path, target: Path, max_length: int = 128) -> float:
    """Write ``source`` (``export_onnx``'s graph) to ``target`` with the weights of every
    linear layer in int8, one scale per output channel, and activations quantised per call
    (ONNX Runtime's dynamic quantisation); return the largest logit difference from PyTorch
    on ``PARITY_TEXTS`` (a ``ModelError`` above ``INT8_TOLERANCE`` or not finite).

    Per channel, not per tensor: with one scale per weight matrix, quantising every layer lost
    1.8 macro-F1 points on our development set (keeping the feed-forward output projections in
    fp32, as the PyTorch int8 runtime does, lost 0.5 on the test split); one scale per channel
    loses nothing on either and is the fastest of the four (docs/PERFORMANCE.md, "The
    onnx-int8 runtime")."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from handler.feedback_handler import use_pooling

    # Attention: the fused operator's query, key and value projections (one int8 QAttention);
    # DefaultTensorType: shape inference does not type the outputs of ONNX Runtime's fused
    # operators, and they are all fp32.
    quantize_dynamic(str(source), str(target), op_types_to_quantize=["MatMul", "Gemm", "Attention"], weight_type=QuantType.QInt8, per_channel=True,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    model = use_pooling(AutoModelForSequenceClassification.from_pretrained(model_dir).eval())
    difference = parity_difference(model, AutoTokenizer.from_pretrained(model_dir), target, max_length)
    if difference > INT8_TOLERANCE:
        raise ModelError(f"the int8 ONNX graph of {model_dir} answers far from PyTorch (largest logit difference {difference:.2g})",
                         "archive it with `--runtime onnx`, and report the model and versions")
    logger.info("quantised the ONNX graph of %s to int8, largest logit difference from PyTorch %.2g", model_dir, difference)
    return difference


def parity_difference(model: Any, tokenizer: Any, graph: Path, max_length: int) -> float:
    """The largest logit difference between the PyTorch ``model`` and the ONNX ``graph`` on
    ``PARITY_TEXTS``, as one padded batch cut at ``max_length`` and as one text alone, unpadded
    (the shape of a single-text request); infinite when the graph answers NaN or infinity."""
    import numpy as np
    import torch

    from handler.feedback_handler import ONNX_INPUTS, onnx_logits, onnx_session

    session = onnx_session(graph, threads=1)
    difference = 0.0
    for texts in (list(PARITY_TEXTS), [PARITY_TEXTS[1]]):
        check = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        with torch.inference_mode():
            expected = model(**{name: check[name] for name in ONNX_INPUTS}).logits.numpy()
        got = onnx_logits(session, check)
        if not np.isfinite(got).all():
            return float("inf")
        difference = max(difference, float(np.abs(expected - got).max()))
    return difference
