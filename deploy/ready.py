"""Readiness check for the TorchServe container: exit 0 when a worker of the model is READY.

Why not ``/ping``: TorchServe 0.12 answers Healthy there before the model's workers have
loaded. The management API lists each worker's status, so this asks it. Standard library
only, since it runs inside the image (Docker HEALTHCHECK, Kubernetes probes).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path


def management_key(key_file: Path) -> str | None:
    """The management key when TorchServe runs with token authorization (it writes key_file.json)."""
    try:
        return json.loads(key_file.read_text(encoding="utf-8"))["management"]["key"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def ready_workers(url: str, model: str, key: str | None, timeout: float) -> int:
    request = urllib.request.Request(f"{url.rstrip('/')}/models/{model}")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        described = json.loads(response.read().decode("utf-8"))
    return sum(1 for version in described for worker in version.get("workers", []) if worker.get("status") == "READY")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8081", help="management address (default: %(default)s)")
    parser.add_argument("--model", default="feedback-classifier", help="model name (default: %(default)s)")
    parser.add_argument("--key-file", type=Path, default=Path("/home/model-server/key_file.json"), help="TorchServe key file, read when present (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=4.0, help="seconds (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        ready = ready_workers(args.url, args.model, management_key(args.key_file), args.timeout)
    except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
        print(f"not ready: {args.url}/models/{args.model}: {exc}", file=sys.stderr)
        return 1
    if ready == 0:
        print(f"not ready: no READY worker for {args.model} yet", file=sys.stderr)
        return 1
    print(f"ready: {ready} worker(s) of {args.model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
