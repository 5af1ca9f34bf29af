"""Run the BentoML service as a real local server on a free port (demo, canary, tests, bench)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fraud_detection.errors import FraudDetectionError

SERVICE = "serving.service:FraudDetector"


class ServerNotReadyError(FraudDetectionError):
    """The service did not become ready in time (or exited while starting)."""


@dataclass(frozen=True)
class LocalServer:
    url: str
    log_file: Path
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(
    project_root: Path,
    bentoml_home: Path,
    model_tag: str,
    feature_repo: Path,
    log_file: Path,
    model_dir: Path | None = None,
    ready_timeout_s: float = 90.0,
    extra_env: dict[str, str] | None = None,
    wait_for: str = "/readyz",
) -> Iterator[LocalServer]:
    """Start `bentoml serve` for `model_tag` and yield once `wait_for` answers 200
    (`/livez` to get a server whose readiness is expected to be false).

    Raises:
        ServerNotReadyError: with the tail of the server log, if it exits or times out first.
    """
    port = free_port()
    env = {
        **os.environ,
        "BENTOML_HOME": str(bentoml_home),
        "FRAUD_SERVING_FEATURE_REPO": str(feature_repo),
        "BENTOML_DO_NOT_TRACK": "True",
        # One scoring thread per server: single rows gain nothing from OpenMP, and several
        # servers spinning OpenMP threads on a small machine slow each other down badly.
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
        **({"FRAUD_SERVING_MODEL_DIR": str(model_dir)} if model_dir else {}),
        **(extra_env or {}),
    }
    command = [
        str(Path(sys.executable).with_name("bentoml")), "serve", SERVICE,
        "--host", "127.0.0.1", "--port", str(port), "--arg", f"model_tag={model_tag}",
    ]  # fmt: skip
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=project_root, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # so stopping it stops its worker processes too
        )  # fmt: skip
    server = LocalServer(f"http://127.0.0.1:{port}", log_file, process)
    try:
        _wait_ready(server, ready_timeout_s, wait_for)
        yield server
    finally:
        _stop(process)


def _wait_ready(server: LocalServer, timeout_s: float, path: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerNotReadyError(
                f"the scoring server exited with status {server.process.returncode} while "
                f"starting:\n{_tail(server.log_file)}"
            )
        try:
            with urllib.request.urlopen(f"{server.url}{path}", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise ServerNotReadyError(
        f"the scoring server was not ready after {timeout_s:.0f}s:\n{_tail(server.log_file)}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _tail(log_file: Path, lines: int = 15) -> str:
    try:
        text = log_file.read_text(errors="replace").splitlines()
    except OSError:
        return "(no server log)"
    return "\n".join(text[-lines:])
