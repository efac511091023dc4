"""Promotion undoes its registration when the server refuses to make the new version default."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.core.api import MODEL_NAME, ManagementClient
from client.core.corrections import Correction, CorrectionsStore
from client.core.errors import RequestRejectedError
from training.config import RetrainConfig
from training.registry import archive_name, recorded_default
from training.retrain import promote


class RefusedDefault(ManagementClient):
    """The real server, asked to make the version default of a model it does not have: a real 404."""

    def set_default(self, version: str, model: str = MODEL_NAME) -> None:
        super().set_default(version, model=f"{model}-missing")


def test_a_refused_set_default_unregisters_the_new_version_and_changes_nothing(server, tiny_model, as_version, tmp_path: Path) -> None:
    store = Path(server["config"].model_store)
    management = RefusedDefault(server["urls"]["management"], Path(server["key_file"]), timeout=120)
    before_versions = [(v.version, v.is_default) for v in management.versions()]
    before_default = recorded_default(store)
    corrections = CorrectionsStore(tmp_path / "corrections.sqlite3")
    ids = [corrections.add(Correction("the export crashes", "bug", "praise"))]
    model_dir = as_version(tiny_model.out_dir, tmp_path / "v7", 7)
    config = RetrainConfig(corrections=[corrections.path], models_dir=tmp_path / "models", model_store=store, state_dir=server["config"].state_dir)
    try:
        with pytest.raises(RequestRejectedError) as refused:
            promote(config, model_dir, "7", management, [(str(corrections.path), ids[0])])
        assert refused.value.status == 404
        assert [(v.version, v.is_default) for v in management.versions()] == before_versions
        assert recorded_default(store) == before_default
        assert [c.consumed_by for c in corrections.all()] == [None]
    finally:
        if "7" in [v.version for v in management.versions()]:
            management.unregister("7")
        (store / archive_name("7")).unlink(missing_ok=True)


def test_a_promoted_version_is_archived_the_way_the_current_one_is_served(tiny_model, as_version, tmp_path: Path) -> None:
    """A team that serves ``--runtime onnx`` with two workers keeps that after a retrain; an
    unreadable archive falls back to the defaults."""
    from training.archive import build_archive, serving_settings
    from training.config import ArchiveConfig

    store = tmp_path / "store"
    chosen = {"runtime": "int8", "workers": 2, "threads": 1, "batch_size": 4, "max_batch_delay": 9, "inference_batch_size": 8, "max_items": 100, "response_timeout": 60}
    build_archive(ArchiveConfig(model=tiny_model.out_dir, model_store=store, archive_format="zip-store", **chosen))
    assert serving_settings(store / archive_name(1)) == chosen
    as_version(tiny_model.out_dir, tmp_path / "v2", 2)
    config = RetrainConfig(models_dir=tmp_path, model_store=store, corrections=[tmp_path / "corrections.sqlite3"])
    report = promote(config, tmp_path / "v2", "2", None, [], current="1")
    assert Path(report["archive"]).name == archive_name(2) and serving_settings(store / archive_name(2)) == chosen
    (tmp_path / "broken.mar").write_bytes(b"not a zip")
    assert serving_settings(tmp_path / "broken.mar") == {} and serving_settings(tmp_path / "missing.mar") == {}
