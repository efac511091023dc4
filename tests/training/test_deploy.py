"""`feedback deploy`: the container context, manifests and KServe layout built from the real
tiny archive, checked offline (no container engine here), and one prediction from a real
TorchServe started from exactly that KServe layout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import kubernetes_validate
import pytest
import requests
import yaml

from training.cli import main
from training.deploy import read_properties, set_properties
from training.serve import Ports

ARCHIVE = "feedback-classifier-v1.mar"
K8S_VERSION = kubernetes_validate.latest_version()
READY = [sys.executable, str(Path(__file__).resolve().parents[2] / "deploy" / "ready.py")]


@pytest.fixture(scope="module")
def built(model_store: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("deploy") / "out"
    assert main(["deploy", "--archive", str(model_store / ARCHIVE), "--out", str(out), "--image", "registry.example.com/team/feedback-analyzer"]) == 0
    return out


def props(path: Path) -> dict[str, str]:
    return read_properties(path.read_text(encoding="utf-8"))


def manifests(built: Path) -> dict[str, dict]:
    return {doc["kind"]: doc for path in sorted((built / "k8s").glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc}


def test_container_context_carries_the_archive_and_a_cluster_config_without_keys(built: Path, model_store: Path) -> None:
    container = built / "container"
    assert (container / "model-store" / ARCHIVE).read_bytes() == (model_store / ARCHIVE).read_bytes()
    cluster = props(container / "config.properties")
    assert cluster["inference_address"] == "http://0.0.0.0:8080" and cluster["metrics_address"] == "http://0.0.0.0:8082"
    assert cluster["management_address"] == "http://127.0.0.1:8081"  # only the pod's readiness check reaches it
    assert cluster["disable_token_authorization"] == "true" and cluster["metrics_mode"] == "prometheus"
    assert cluster["load_models"] == f"feedback-classifier={ARCHIVE}" and cluster["model_store"] == "/home/model-server/model-store"
    single = props(container / "config.token-auth.properties")
    assert single["disable_token_authorization"] == "false" and single["load_models"] == cluster["load_models"]
    assert "gateway" in (container / "config.properties").read_text()  # the reason auth is off is stated
    dockerfile = (container / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=pytorch/torchserve:0.12.0-cpu" in dockerfile and "FROM ${BASE_IMAGE}" in dockerfile
    assert "COPY --chown=model-server model-store/ /home/model-server/model-store/" in dockerfile
    assert "HEALTHCHECK" in dockerfile and "ready.py" in dockerfile and "EXPOSE 8080 8082" in dockerfile
    pins = dict(line.split("==") for line in (container / "requirements.txt").read_text().splitlines() if "==" in line)
    assert pins["torchserve"] == "0.12.0" and set(pins) == {"torch", "transformers", "torchserve", "onnxruntime"}


def test_kserve_layout_is_what_the_torchserve_runtime_expects(built: Path) -> None:
    kserve = built / "kserve"
    assert sorted(p.relative_to(kserve).as_posix() for p in kserve.rglob("*") if p.is_file()) == ["config/config.properties", f"model-store/{ARCHIVE}"]
    config = props(kserve / "config" / "config.properties")
    snapshot = json.loads(config["model_snapshot"])
    entry = snapshot["models"]["feedback-classifier"]["1"]
    assert entry["marName"] == ARCHIVE and entry["defaultVersion"] is True and entry["batchSize"] == 1
    with zipfile.ZipFile(kserve / "model-store" / ARCHIVE) as mar:
        archived = yaml.safe_load(mar.read("model-config.yaml"))
    assert entry["minWorkers"] == archived["minWorkers"] and entry["maxBatchDelay"] == archived["maxBatchDelay"]
    assert config["model_store"] == "/mnt/models/model-store" and config["enable_envvars_config"] == "true"
    assert config["inference_address"] == "http://127.0.0.1:8085" and config["disable_token_authorization"] == "true"


def test_manifests_pass_offline_schema_validation_and_name_ports_probes_and_image(built: Path) -> None:
    docs = manifests(built)
    assert set(docs) == {"Deployment", "Service", "HorizontalPodAutoscaler", "PersistentVolumeClaim", "InferenceService"}
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PersistentVolumeClaim"):
        kubernetes_validate.validate(docs[kind], K8S_VERSION, strict=True)
    pod = docs["Deployment"]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["image"] == "registry.example.com/team/feedback-analyzer:v1"
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"inference": 8080, "metrics": 8082}
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "8082" and pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    management = props(built / "container" / "config.properties")["management_address"]
    for probe in ("startupProbe", "readinessProbe"):
        command = container[probe]["exec"]["command"]
        assert command[1] == "/home/model-server/ready.py" and command[command.index("--url") + 1] == management
    assert container["livenessProbe"]["httpGet"] == {"path": "/ping", "port": "inference"}
    volume = pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
    assert volume == docs["PersistentVolumeClaim"]["metadata"]["name"] and container["volumeMounts"][0]["mountPath"] == "/home/model-server/model-store"
    assert {p["targetPort"] for p in docs["Service"]["spec"]["ports"]} == {"inference", "metrics"}  # management is not exposed
    assert docs["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == docs["Deployment"]["metadata"]["name"]
    isvc = docs["InferenceService"]
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1" and isvc["metadata"]["labels"]["serviceEnvelope"] == "kserve"
    model = dict(isvc["spec"]["predictor"]["model"])
    assert model.pop("modelFormat") == {"name": "pytorch"} and model.pop("runtime") == "kserve-torchserve" and model.pop("protocolVersion") == "v1"
    assert model.pop("storageUri") == f"pvc://{volume}/kserve"
    assert model["image"] == "registry.example.com/team/feedback-analyzer-kserve:v1"
    # The rest of KServe's model spec is a Kubernetes container: validate it as one.
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "isvc"}, "spec": {"containers": [{"name": "kserve-container", **model}]}}, K8S_VERSION, strict=True)


def test_a_broken_manifest_is_refused_by_the_validator(built: Path) -> None:
    deployment = manifests(built)["Deployment"]
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8080"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_deploy_refuses_a_used_folder_and_both_sources(built: Path, model_store: Path, capsys) -> None:
    assert main(["deploy", "--archive", str(model_store / ARCHIVE), "--out", str(built)]) == 1
    assert "pass --out with a new or empty folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["deploy", "--archive", str(model_store / ARCHIVE), "--model", "somewhere", "--out", str(built / "x")])
    assert usage.value.code == 2 and "not both" in capsys.readouterr().err


def test_set_properties_replaces_and_appends_without_touching_comments() -> None:
    text = "# load_models=keep me\nload_models=\nmetrics_mode=log\n"
    assert set_properties(text, {"load_models": "a=b.mar", "extra": "1"}) == "# load_models=keep me\nload_models=a=b.mar\nmetrics_mode=log\nextra=1\n"


@pytest.fixture(scope="module")
def kserve_server(built: Path, tmp_path_factory, new_port_base):
    """TorchServe started as KServe's runtime starts it, from the layout; only its addresses
    and ports are moved to free loopback ports."""
    layout = built / "kserve"
    ports = Ports.from_base(new_port_base())
    state = tmp_path_factory.mktemp("kserve-state")
    (state / "tmp").mkdir()
    config = state / "config.properties"
    config.write_text(set_properties((layout / "config" / "config.properties").read_text(), {
        "inference_address": f"http://127.0.0.1:{ports.inference}",
        "management_address": f"http://127.0.0.1:{ports.inference}",  # one port for both, as in the layout
        "metrics_address": f"http://127.0.0.1:{ports.metrics}",
        "grpc_inference_address": "127.0.0.1",
        "grpc_management_address": "127.0.0.1",
        "grpc_inference_port": str(ports.grpc_inference),
        "grpc_management_port": str(ports.grpc_management),
    }))
    env = {**os.environ, "TMPDIR": str(state / "tmp"), "LOG_LOCATION": str(state / "logs"), "METRICS_LOCATION": str(state / "logs"), "TS_SERVICE_ENVELOPE": "kserve"}
    torchserve = str(Path(sys.executable).with_name("torchserve"))
    command = [torchserve, "--start", f"--model-store={layout / 'model-store'}", f"--ts-config={config}"]
    with (state / "console.log").open("wb") as out:
        subprocess.run(command, cwd=state, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=60, check=True, start_new_session=True)
    url = f"http://127.0.0.1:{ports.inference}"
    try:
        deadline = time.monotonic() + 240
        while subprocess.run([*READY, "--url", url, "--key-file", str(state / "none.json")], capture_output=True).returncode != 0:
            assert time.monotonic() < deadline, (state / "logs" / "model_log.log").read_text(errors="replace")[-2000:]
            time.sleep(1)
        yield {"url": url, "metrics": f"http://127.0.0.1:{ports.metrics}"}
    finally:
        with (state / "console.log").open("ab") as out:
            subprocess.run([torchserve, "--stop"], cwd=state, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=120)


@pytest.mark.server
def test_kserve_layout_serves_a_v1_prediction_with_per_item_errors(kserve_server) -> None:
    url = kserve_server["url"]
    body = {"instances": [{"data": {"texts": ["The app crashes every time I upload a photo", "   "]}}]}
    response = requests.post(f"{url}/v1/models/feedback-classifier:predict", json=body, timeout=60)
    assert response.status_code == 200, response.text
    [results] = response.json()["predictions"]
    assert results[0]["model_version"] == "1" and 0.0 <= results[0]["confidence"] <= 1.0 and len(results[0]["scores"]) == 8
    assert results[1] == {"error": "text is empty"}
    described = requests.get(f"{url}/models/feedback-classifier", timeout=10).json()[0]
    assert described["batchSize"] == 1 and described["modelUrl"] == ARCHIVE  # the snapshot, not the archive's 8
    metrics = requests.get(f"{kserve_server['metrics']}/metrics", timeout=10).text
    assert 'ts_inference_requests_total{model_name="feedback-classifier"' in metrics


@pytest.mark.server
def test_a_bad_instance_among_good_ones_gets_its_own_error(kserve_server) -> None:
    """KServe's envelope turns instances into rows of one request: a bad row must not fail the rest."""
    body = {"instances": [{"data": {"text": "Please add a dark mode"}}, {"data": 7}, {"data": {"text": "The export crashes"}}]}
    response = requests.post(f"{kserve_server['url']}/v1/models/feedback-classifier:predict", json=body, timeout=60)
    assert response.status_code == 200, response.text
    first, bad, last = response.json()["predictions"]
    assert first["label"] and last["label"] and set(bad) == {"error"}


@pytest.mark.server
def test_readiness_check_fails_where_no_model_is_served(kserve_server, tmp_path) -> None:
    missing = subprocess.run([*READY, "--url", kserve_server["url"], "--model", "no-such-model", "--key-file", str(tmp_path / "k.json")], capture_output=True, text=True)
    assert missing.returncode == 1 and "not ready" in missing.stderr
    ready = subprocess.run([*READY, "--url", kserve_server["url"], "--key-file", str(tmp_path / "k.json")], capture_output=True, text=True)
    assert ready.returncode == 0 and "worker(s) of feedback-classifier" in ready.stdout
