"""Knowledge distillation (training/distill.py): the loss, the teacher's logits, the trainer, a real run."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

TEXTS = ["Please add a dark mode", "The export button crashes the app every single time I press it on my tablet",
         "How do I change my password?", "Love it"]


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_the_distillation_loss_is_kl_from_the_teacher_times_temperature_squared(temperature):
    from scipy.special import log_softmax

    from training.distill import distillation_loss

    student = np.array([[0.2, 1.0, -0.5], [1.5, -1.0, 0.0]])
    teacher = np.array([[3.0, 0.5, -1.0], [0.0, 2.0, 1.0]])
    log_t, log_s = log_softmax(teacher / temperature, axis=1), log_softmax(student / temperature, axis=1)
    by_hand = temperature**2 * np.sum(np.exp(log_t) * (log_t - log_s), axis=1)
    got = distillation_loss(torch.tensor(student), torch.tensor(teacher), temperature).numpy()
    np.testing.assert_allclose(got, by_hand, rtol=1e-9)
    np.testing.assert_allclose(distillation_loss(torch.tensor(teacher), torch.tensor(teacher), temperature).numpy(), 0.0, atol=1e-9)


def _examples(texts=TEXTS):
    from training.data import Example

    return [Example(id=f"t{i}", text=text, label="other") for i, text in enumerate(texts)]


def test_the_teachers_logits_row_i_belong_to_text_i_whatever_the_lengths(tiny_model):
    from training.distill import load_teacher
    from training.inference import load_model, predict_logits

    teacher = load_teacher(tiny_model.out_dir, _examples(), data_hash=tiny_model.card["data_hash"])
    loaded = load_model(tiny_model.out_dir)
    for i, text in enumerate(TEXTS):  # one at a time: no sorting by length to undo
        alone = predict_logits(loaded.model, loaded.tokenizer, [text], loaded.max_length, **loaded.text_settings)[0]
        np.testing.assert_allclose(teacher.logits[i], alone, atol=1e-4)
    assert teacher.card["version"] == tiny_model.card["version"]
    assert teacher.card["test_macro_f1"] == tiny_model.card["test"]["macro_f1"]


def test_a_teacher_kept_away_from_our_test_split_gives_no_warning_when_training_items_were_added(tiny_model, caplog):
    from training.distill import load_teacher

    with caplog.at_level("WARNING", logger="training.distill"):
        teacher = load_teacher(tiny_model.out_dir, _examples(), data_hash="data-with-more-training-items", test_hash=tiny_model.card["test_hash"])
    assert teacher.card["test_hash"] == tiny_model.card["test_hash"] and "may have seen our test items" not in caplog.text
    with caplog.at_level("WARNING", logger="training.distill"):
        load_teacher(tiny_model.out_dir, _examples(), data_hash="data-with-more-training-items", test_hash="another-test-split")
    assert "may have seen our test items" in caplog.text


def test_saved_targets_stand_in_for_the_teacher_only_for_the_texts_they_were_made_from(tiny_model, tmp_path):
    from training.data import Example
    from training.distill import load_teacher, write_targets

    out = tmp_path / "targets.json"
    summary = write_targets(tiny_model.out_dir, _examples(), out)
    assert summary["items"] == len(TEXTS) and summary["teacher"]["version"] == tiny_model.card["version"]
    live = load_teacher(tiny_model.out_dir, _examples())
    edited = [*_examples()[:3], Example(id="t3", text="Love it, but the sync is broken", label="bug"), Example(id="new", text="Hi", label="other")]
    saved = load_teacher(out, edited, data_hash="another-hash")
    np.testing.assert_allclose(saved.logits[:3], live.logits[:3], atol=1e-3)  # kept to 3 decimals
    assert np.isnan(saved.logits[3:]).all()  # an edited text and a new item learn from their labels alone
    assert saved.card["version"] == tiny_model.card["version"] and saved.card["path"] == str(out.resolve())
    assert saved.card["items_with_target"] == 3


def test_only_a_teacher_kept_away_from_another_test_split_is_said_to_have_maybe_seen_ours():
    from training.data import Example, data_hash, set_hash
    from training.distill import saw_other_test_split

    test = [Example(id="x2", text="Where is the export?", label="question"), Example(id="x1", text="It crashes", label="bug")]
    train, added = [Example(id="a", text="Love it", label="praise")], [Example(id="b", text="Add dark mode", label="feature_request")]
    teacher = {"data_hash": data_hash(train + test), "test_hash": set_hash(test)}
    # Training items added since: the whole data differs, the test split does not.
    assert not saw_other_test_split(teacher, data_hash(train + added + test), set_hash(list(reversed(test))))
    moved = [test[0], Example(id="x1", text="It crashes on start", label="bug")]
    assert saw_other_test_split(teacher, data_hash(train + moved), set_hash(moved))
    # A card from before test splits were recorded can only be compared on its whole data.
    older = {"data_hash": teacher["data_hash"]}
    assert saw_other_test_split(older, data_hash(train + added + test), set_hash(test))
    assert not saw_other_test_split(older, data_hash(train + test), set_hash(test))
    assert not saw_other_test_split({}, "any", "any")


def test_the_saved_default_targets_come_from_a_teacher_kept_away_from_our_test_split():
    from training import paths
    from training.data import load_examples, load_splits, set_hash, split_examples

    saved = json.loads(paths.teacher_targets_file().read_text(encoding="utf-8"))
    parts = split_examples(load_examples(paths.data_file()), load_splits(paths.splits_file()))
    assert saved["teacher"]["test_hash"] == set_hash(parts["test"])
    assert not {e.id for e in parts["test"]} & set(saved["items"])


def test_a_broken_targets_file_or_one_with_other_labels_is_refused_with_what_to_do(tmp_path):
    from client.core.errors import ModelError
    from training.distill import load_teacher

    out = tmp_path / "targets.json"
    out.write_text(json.dumps({"labels": ["good", "bad"], "teacher": {}, "items": {}}))
    with pytest.raises(ModelError, match="not the 8 labels") as refused:
        load_teacher(out, _examples())
    assert "feedback data teacher-targets" in refused.value.hint
    for broken in ('{"labels": [', '{"items": {}}', "[1, 2]"):
        out.write_text(broken)
        with pytest.raises(ModelError, match="not a teacher-targets file"):
            load_teacher(out, _examples())
    from client.core.labels import LABELS
    from training.distill import text_key

    for logits in ([1.0] * 7, [1.0, None, *[0.0] * 6], [1.0, "x", *[0.0] * 6], [1.0, float("inf"), *[0.0] * 6], [float("nan")] * 8):
        out.write_text(json.dumps({"labels": list(LABELS), "items": {"t0": {"text": text_key(TEXTS[0]), "logits": logits}}}))
        with pytest.raises(ModelError, match="item 't0' is not a text fingerprint with 8 finite logits"):
            load_teacher(out, _examples())
    out.write_text(json.dumps({"labels": list(LABELS), "items": {"t0": {"text": text_key(TEXTS[0]), "label": "praise!", "logits": [0.0] * 8}}}))
    with pytest.raises(ModelError, match="one of our labels"):
        load_teacher(out, _examples())
    from training.distill import write_targets

    with pytest.raises(ModelError, match="not a trained model folder"):  # targets are written from a model, never from targets
        write_targets(out, _examples(), tmp_path / "again.json")
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="its folder does not exist"):  # checked before the teacher's long pass
        write_targets(folder, _examples(), tmp_path / "missing" / "targets.json")
    out.write_text(json.dumps({"labels": list(LABELS), "items": {"t0": {"text": "f" * 12, "logits": [0.0] * 8}}}))
    with pytest.raises(ModelError, match="none of the 4 training items has a target"):
        load_teacher(out, _examples())


def _model_and_batch(tiny_model):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model.out_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model.out_dir)
    batch = dict(tokenizer(TEXTS[:2], padding=True, return_tensors="pt"))
    batch["labels"] = torch.tensor([1, 0])
    model.eval()  # no dropout: the same logits on every call
    return model, batch


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_the_trainer_mixes_label_loss_and_teacher_loss_by_the_weight(tiny_model, tmp_path, smoothing):
    from transformers import TrainingArguments

    from training.distill import distillation_loss, distillation_trainer

    model, batch = _model_and_batch(tiny_model)
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True, remove_unused_columns=False, label_smoothing_factor=smoothing)
    with torch.no_grad():
        own = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
    label_loss = torch.nn.functional.cross_entropy(own, batch["labels"], label_smoothing=smoothing).item()
    opposite = -own
    for weight in (0.0, 0.25, 1.0):
        trainer = distillation_trainer(weight, 2.0)(model=model, args=args)
        model.eval()
        with torch.no_grad():
            got = trainer.compute_loss(model, {**batch, "teacher_logits": opposite}, num_items_in_batch=torch.tensor(2))
        expected = (1 - weight) * label_loss + weight * distillation_loss(own, opposite, 2.0).mean().item()
        assert got.item() == pytest.approx(expected, rel=1e-4)


def test_rows_without_a_saved_target_learn_from_their_label_alone(tiny_model, tmp_path):
    from transformers import TrainingArguments

    from training.distill import distillation_loss, distillation_trainer

    model, batch = _model_and_batch(tiny_model)
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True, remove_unused_columns=False)
    trainer = distillation_trainer(0.5, 2.0)(model=model, args=args)
    model.eval()
    with torch.no_grad():
        own = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
        per_item = torch.nn.functional.cross_entropy(own, batch["labels"], reduction="none")
        teacher = -own
        teacher[1] = float("nan")
        none_known = trainer.compute_loss(model, {**batch, "teacher_logits": torch.full_like(own, float("nan"))}).item()
    loss = trainer.compute_loss(model, {**batch, "teacher_logits": teacher})
    loss.backward()  # the NaN row must not reach any gradient
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    got = loss.item()
    first = 0.5 * per_item[0].item() + 0.5 * distillation_loss(own[:1], teacher[:1], 2.0).item()
    assert got == pytest.approx((first + per_item[1].item()) / 2, rel=1e-4)  # the second row: its label alone, at full weight
    assert none_known == pytest.approx(per_item.mean().item(), rel=1e-4)


def test_a_training_batch_without_the_teachers_logits_fails_rather_than_training_on_labels_alone(tiny_model, tmp_path):
    from transformers import TrainingArguments

    from training.distill import distillation_trainer

    model, batch = _model_and_batch(tiny_model)
    trainer = distillation_trainer(0.5, 2.0)(model=model, args=TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True))
    model.train()
    with pytest.raises(RuntimeError, match="teacher_logits"):
        trainer.compute_loss(model, dict(batch))
    model.eval()  # evaluation batches carry no teacher and get the usual loss
    assert trainer.compute_loss(model, dict(batch)).item() > 0


def test_distillation_settings_are_checked_before_training(tmp_path):
    from training.config import TrainConfig

    with pytest.raises(ValueError, match="a file written by `feedback data teacher-targets`"):
        TrainConfig(out=tmp_path / "out", teacher=tmp_path / "nothing-here")
    with pytest.raises(ValueError, match="distill_weight"):
        TrainConfig(out=tmp_path / "out", distill_weight=1.5)
    with pytest.raises(ValueError, match="distill_temperature"):
        TrainConfig(out=tmp_path / "out", distill_temperature=0)
    assert TrainConfig(out=tmp_path / "out", teacher="none").teacher is None


@pytest.mark.slow
def test_a_real_run_distils_from_a_trained_teacher_and_names_it_on_the_card(tiny_model, tmp_path):
    from training.config import TrainConfig
    from training.train import train

    result = train(TrainConfig(out=tmp_path / "student", epochs=1, max_length=32, max_train_items=32, patience=1,
                               teacher=tiny_model.out_dir, distill_weight=0.7, threads=1, window_step=0.0))  # no windows at 32 tokens: minutes
    teacher = json.loads((tmp_path / "student" / "model_card.json").read_text())["teacher"]
    assert teacher["path"] == str(tiny_model.out_dir.resolve())
    assert teacher["data_hash"] == tiny_model.card["data_hash"]
    assert result.card["teacher"] == teacher


def test_the_targets_command_covers_the_given_data_except_its_test_split(tiny_model, tmp_path, capsys):
    from training.cli import main

    data, splits, out = tmp_path / "data.jsonl", tmp_path / "splits.json", tmp_path / "targets.json"
    data.write_text("".join(json.dumps({"id": e.id, "text": e.text, "label": e.label}) + "\n" for e in _examples()))
    splits.write_text(json.dumps({"train": ["t0", "t1"], "validation": ["t2"], "test": ["t3"]}))
    assert main(["data", "teacher-targets", "--teacher", str(tiny_model.out_dir), "--data", str(data), "--splits", str(splits), "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["items"] == 3
    assert sorted(json.loads(out.read_text())["items"]) == ["t0", "t1", "t2"]  # never a test item


def test_training_and_full_retrains_distil_from_the_saved_targets_by_default_and_fast_retrains_do_not(tmp_path, tiny_model):
    from training import paths
    from training.config import RetrainConfig, TrainConfig
    from training.retrain import new_version_config

    assert TrainConfig(out=tmp_path / "out").teacher == paths.teacher_targets_file()
    card = {"hyperparameters": {"clean_inbox": True, "head_share": 0.6}}
    assert new_version_config(RetrainConfig(), tmp_path / "v2", 2, card).teacher == paths.teacher_targets_file()
    assert new_version_config(RetrainConfig(fast=True), tmp_path / "v2", 2, card).teacher is None
    # The session's tiny model trains with the default settings on our items: it learned from the file.
    assert tiny_model.card["teacher"]["items_with_target"] > 0
    # Named by its place in the package, not this checkout's path: cards (and the cached tiny
    # model) read the same wherever the code lives.
    assert tiny_model.card["hyperparameters"]["teacher"] == tiny_model.card["teacher"]["path"] == "training/data/teacher_logits.json"
    assert paths.teacher_targets_file().as_posix().endswith(tiny_model.card["hyperparameters"]["teacher"])


def test_a_target_is_used_only_for_the_text_and_label_it_was_made_for(tmp_path):
    from client.core.labels import LABELS
    from training.data import Example
    from training.distill import load_teacher, text_key

    out = tmp_path / "targets.json"
    logits = [float(i) for i in range(len(LABELS))]
    items = {"a": {"text": text_key("Please add a dark mode"), "label": "feature_request", "logits": logits},
             "b": {"text": text_key("It crashes"), "label": "bug", "logits": logits},
             "c": {"text": text_key("Old file"), "logits": logits}}  # written before labels were recorded
    out.write_text(json.dumps({"labels": list(LABELS), "items": items}))
    examples = [Example("a", "Please add a dark mode", "feature_request"), Example("b", "It crashes", "complaint"), Example("c", "Old file", "other")]
    teacher = load_teacher(out, examples)
    assert np.isfinite(teacher.logits[0]).all() and np.isnan(teacher.logits[1]).all()  # relabelled since: its label alone
    assert np.isfinite(teacher.logits[2]).all() and teacher.card["items_with_target"] == 2


def test_the_default_targets_teach_nothing_to_other_data_and_training_goes_on_from_labels(caplog, tmp_path):
    from client.core.errors import ModelError
    from training import paths
    from training.distill import is_saved_default, load_teacher

    assert is_saved_default(paths.teacher_targets_file()) and not is_saved_default(tmp_path / "teacher_logits.json")

    with caplog.at_level("WARNING", logger="training.distill"):
        assert load_teacher(paths.teacher_targets_file(), _examples(), required=False) is None
    assert "no target for these 4 training items" in caplog.text
    with pytest.raises(ModelError, match="none of the 4 training items has a target"):  # asked for by name: refused
        load_teacher(paths.teacher_targets_file(), _examples())


def test_the_saved_targets_cover_our_training_items():
    """Not every item must have one (an item added since learns from its label alone), but a
    targets file that has fallen far behind the data no longer carries the teacher."""
    from training import paths
    from training.data import load_examples, load_splits
    from training.distill import load_teacher

    test = set(load_splits(paths.splits_file())["test"])
    items = [e for e in load_examples(paths.data_file()) if e.id not in test]
    teacher = load_teacher(paths.teacher_targets_file(), items)
    assert teacher.card["items_with_target"] >= 0.9 * len(items), "run `feedback data teacher-targets --teacher DIR` with the MPNet teacher"
