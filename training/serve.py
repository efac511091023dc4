"""``feedback serve start|stop|status``: one TorchServe instance per state directory.

TorchServe keeps its pid file in ``$TMPDIR`` and writes ``key_file.json`` into its
working directory, so each instance runs with both inside its own state directory: two
instances (say the user's and a test's) never collide.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from client.core import instance
from client.core.api import MODEL_NAME, ManagementClient
from client.core.errors import ServerDownError, ServerError
from client.core.instance import read_key
from training import paths
from training.config import ServeConfig
from training.properties import set_properties
from training.registry import archive_name, archived_versions, recorded_default

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ports:
    inference: int
    management: int
    metrics: int
    grpc_inference: int
    grpc_management: int

    @classmethod
    def from_base(cls, base: int) -> Ports:
        """8080 -> 8080/8081/8082 and gRPC 7070/7071 (TorchServe's defaults); others shift alike."""
        return cls(base, base + 1, base + 2, base - 1010, base - 1009)

    def urls(self) -> dict[str, str]:
        return {
            "inference": f"http://127.0.0.1:{self.inference}",
            "management": f"http://127.0.0.1:{self.management}",
            "metrics": f"http://127.0.0.1:{self.metrics}",
        }


def choose_archive(model_store: Path) -> str:
    """The archive to load: the recorded default, else the newest version in the store."""
    default = recorded_default(model_store)
    if default and (model_store / archive_name(default)).exists():
        return archive_name(default)
    found = archived_versions(model_store)
    if not found:
        raise ServerError(
            f"no {MODEL_NAME}-v<N>.mar archive in {model_store}",
            "build one with `feedback archive` (after `feedback train`), or run `make run`",
        )
    return found[max(found)]


def render_config(template: str, ports: Ports, model_store: Path, archive: str, key_minutes: float = 480.0) -> str:
    """The template with this instance's ports, absolute model store and restricted URLs.

    Workers and batching are not here: they travel in the archive's model-config YAML.
    ``allowed_urls`` admits only file names directly in the store (no ``/``, so no ``..``).
    """
    store = model_store.resolve()
    allowed = "file://" + re.escape(str(store)) + "/[^/]+\\.mar"
    values = {
        "inference_address": ports.urls()["inference"],
        "management_address": ports.urls()["management"],
        "metrics_address": ports.urls()["metrics"],
        "grpc_inference_port": str(ports.grpc_inference),
        "grpc_management_port": str(ports.grpc_management),
        "model_store": str(store),
        "allowed_urls": allowed.replace("\\", "\\\\"),
        "load_models": archive,
        "token_expiration_min": f"{key_minutes:.10g}",  # TorchServe reads a Double and keeps whole seconds
    }
    return set_properties(template, values)


def ephemeral_ports() -> range:
    """The kernel's ephemeral range: where it picks the local ports of outgoing connections.

    A port chosen there can be taken between our check and the server's bind by any
    connection the machine opens (our own clients included), so test ports stay outside it.
    """
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return range(low, high + 1)


def port_free(port: int) -> bool:
    """Whether a server could bind ``port`` on loopback now (another process may take it next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_port_free(port: int, seconds: float) -> bool:
    """A just-stopped server can hold its port for a moment; wait briefly before giving up."""
    deadline = time.monotonic() + seconds
    while not port_free(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _env(state: Path) -> dict[str, str]:
    tmp = state / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        TMPDIR=str(tmp),
        LOG_LOCATION=str(state / "logs"),
        METRICS_LOCATION=str(state / "logs"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    # TEMP becomes the frontend's java.io.tmpdir, where it puts the workers' Unix sockets
    # (.ts.sock.9000, .9001... in every instance): under /tmp, two instances share the names
    # and a restarting worker can be wired to the other instance. Unless the path would be
    # too long for a Unix socket (107 bytes).
    if len(str(tmp.resolve())) <= 80:
        env["TEMP"] = str(tmp.resolve())
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


def _pid(state: Path) -> int | None:
    pid_file = state / "tmp" / ".model_server.pid"
    if not pid_file.exists():
        return None
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (ValueError, ProcessLookupError, PermissionError):
        return None


def management_client(config: ServeConfig) -> ManagementClient:
    inst = instance.read_instance(config.state_dir) or {}
    url = inst.get("urls", {}).get("management") or Ports.from_base(config.port_base).urls()["management"]
    return ManagementClient(url, instance.key_file(config.state_dir))


def _log_tail(state: Path, lines: int = 15) -> str:
    log = state / "logs" / "model_log.log"
    if not log.exists():
        log = state / "logs" / "ts_log.log"
    if not log.exists():
        return "(no log yet)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def start(config: ServeConfig) -> dict:
    """Start TorchServe and wait for a READY worker; returns the instance description."""
    state = config.state_dir
    state.mkdir(parents=True, exist_ok=True)
    if _pid(state):
        raise ServerError(f"a server of this state directory is already running (pid {_pid(state)})", "use `feedback serve status`, or `feedback serve stop` first")
    if shutil.which("java") is None:
        raise ServerError("Java was not found on PATH; TorchServe's frontend needs Java 11 or newer", "install it, e.g. `apt-get install openjdk-17-jre-headless`")
    archive = choose_archive(config.model_store)
    ports = Ports.from_base(config.port_base)
    for name, port in ports.__dict__.items():
        if not _wait_port_free(port, seconds=5):
            raise ServerError(f"port {port} ({name}) is already in use", "stop what uses it, or pass --port-base with another value")
    (state / "config.properties").write_text(render_config(paths.config_template().read_text(encoding="utf-8"), ports, config.model_store, archive, config.key_minutes), encoding="utf-8")
    command = [str(Path(sys.executable).with_name("torchserve")), "--start", "--ncs", "--ts-config", str(state / "config.properties"), "--model-store", str(config.model_store.resolve())]
    logger.info("starting TorchServe with %s", archive)
    (state / "logs").mkdir(exist_ok=True)
    console = state / "logs" / "torchserve_console.log"
    # The daemonised Java process inherits stdout/stderr: pipes would never close, so a file.
    with console.open("ab") as out:
        result = subprocess.run(command, cwd=state, env=_env(state), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=60, start_new_session=True)
    if result.returncode != 0:
        text = console.read_text(errors="replace").strip()[-400:]
        raise ServerError(f"torchserve --start failed: {text}", f"see {console}")
    key_file = instance.key_file(state)
    inst = {"urls": ports.urls(), "ports": ports.__dict__, "archive": archive, "key_file": str(key_file), "model_store": str(config.model_store.resolve()),
            "key_seconds": round(config.key_minutes * 60)}
    instance.write_instance(state, inst)
    deadline = time.monotonic() + config.timeout
    client = None
    while time.monotonic() < deadline:
        if key_file.exists() and read_key(key_file, "management"):
            key_file.chmod(0o600)
            client = client or ManagementClient(ports.urls()["management"], key_file, timeout=5, retries=0)
            try:
                if any(v.ready_workers for v in client.versions()):
                    return inst
            except ServerDownError:
                pass
        if _pid(state) is None and time.monotonic() > deadline - config.timeout + 10:
            break
        time.sleep(1)
    tail = _log_tail(state)
    stop(config)
    raise ServerError(f"TorchServe did not get a READY worker within {config.timeout:g} s. Last log lines:\n{tail}", f"see {state / 'logs'}")


def stop(config: ServeConfig) -> bool:
    """Stop this state directory's instance only; False when none was running."""
    state = config.state_dir
    pid = _pid(state)
    if pid is None:
        return False
    with (state / "logs" / "torchserve_console.log").open("ab") as out:
        subprocess.run([str(Path(sys.executable).with_name("torchserve")), "--stop"], cwd=state, env=_env(state), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=120)
    for _ in range(120):
        if not _alive(pid):
            break
        time.sleep(0.5)
    else:
        os.kill(pid, signal.SIGKILL)
    return True


def status(config: ServeConfig) -> dict:
    state = config.state_dir
    inst = instance.read_instance(state) or {}
    pid = _pid(state)
    out = {"running": pid is not None, "pid": pid, "state_dir": str(state), **inst}
    if pid is not None:
        try:
            out["versions"] = [v.__dict__ for v in management_client(config).versions()]
        except ServerError as exc:
            out["error"] = exc.message
    return out
