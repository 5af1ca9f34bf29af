"""Run the BentoML service as a real local server: on a free port for as long as a `with` block
(demo, canary, tests, bench), or in the foreground (`fraud-detection serve`). This module is the
one way the project starts a local server, and `bentoml_environment` the one place that builds
a BentoML subprocess's environment.

Each server leads a process group of its own, its workers included, and stops as a group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from fraud_detection.config import Settings
from fraud_detection.errors import ServerNotReadyError
from fraud_detection.registry.local import RegisteredModel
from fraud_detection.serving.model_store import save_to_bentoml

SERVICE = "serving.service:FraudDetector"
# How long a local server may take to answer /readyz: a start is about 6-20 s on 2 cores.
READY_TIMEOUT_S = 90.0


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


def bentoml_environment(
    bentoml_home: Path,
    feature_repo: Path | None = None,
    *,
    model_dir: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    one_thread: bool = False,
) -> dict[str, str]:
    """Our environment plus what a BentoML subprocess (a server, or `bentoml build`) reads:
    the store under `bentoml_home` and, for a server, the Feast repository and model directory.

    `one_thread` caps OpenMP at one thread unless the caller's environment says otherwise:
    single rows gain nothing from OpenMP, and several servers spinning OpenMP threads on a
    small machine slow each other down badly. `extra_env` comes last and wins.
    """
    return {
        **os.environ,
        "BENTOML_HOME": str(bentoml_home),
        **({"FRAUD_SERVING_FEATURE_REPO": str(feature_repo)} if feature_repo else {}),
        "BENTOML_DO_NOT_TRACK": "True",
        **({"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")} if one_thread else {}),
        **({"FRAUD_SERVING_MODEL_DIR": str(model_dir)} if model_dir else {}),
        **(extra_env or {}),
    }


@contextmanager
def serve(
    project_root: Path,
    bentoml_home: Path,
    model_tag: str,
    feature_repo: Path,
    log_file: Path,
    model_dir: Path | None = None,
    ready_timeout_s: float = READY_TIMEOUT_S,
    extra_env: dict[str, str] | None = None,
    wait_for: str | None = "/readyz",
) -> Iterator[LocalServer]:
    """Start `bentoml serve` for `model_tag` and yield once `wait_for` answers 200
    (`/livez` to get a server whose readiness is expected to be false; None to yield at once
    and wait with `wait_until_ready`, as when starting several servers side by side).

    Raises:
        ServerNotReadyError: with the tail of the server log, if it exits or times out first.
    """
    port = free_port()
    env = bentoml_environment(
        bentoml_home, feature_repo, model_dir=model_dir, extra_env=extra_env, one_thread=True
    )
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("wb") as log:
        process = start(serve_command(model_tag, port, "127.0.0.1"), env, project_root, log)
    try:
        server = LocalServer(f"http://127.0.0.1:{port}", log_file, process)
        if wait_for is not None:
            wait_until_ready(server, ready_timeout_s, wait_for)
        yield server
    finally:
        stop(process)


@contextmanager
def serve_registered(
    settings: Settings,
    model: RegisteredModel,
    log_file: Path,
    *,
    model_dir: Path | None = None,
    ready_timeout_s: float = READY_TIMEOUT_S,
    extra_env: dict[str, str] | None = None,
    wait_for: str | None = "/readyz",
) -> Iterator[LocalServer]:
    """`serve` a registered model of the workspace: saved to its BentoML store (idempotent),
    with its Feast repository, for as long as the `with` block."""
    paths = settings.paths
    with serve(
        project_root=paths.root, bentoml_home=paths.bentoml_home,
        model_tag=save_to_bentoml(model, paths.bentoml_home), feature_repo=paths.feature_repo,
        log_file=log_file, model_dir=model_dir, ready_timeout_s=ready_timeout_s,
        extra_env=extra_env, wait_for=wait_for,
    ) as server:  # fmt: skip
        yield server


def serve_command(model_tag: str, port: int, host: str | None = None) -> list[str]:
    """`bentoml serve` for the service with `model_tag`; without `host`, on BentoML's default
    (all interfaces)."""
    bentoml = str(Path(sys.executable).with_name("bentoml"))
    return [bentoml, "serve", SERVICE, *(["--host", host] if host else []),
            "--port", str(port), "--arg", f"model_tag={model_tag}"]  # fmt: skip


def start(
    command: list[str], env: dict[str, str], cwd: Path | None = None, log: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """Start `command` as the leader of a new session (so that `stop` reaches its workers too),
    with its stdout and stderr into `log`, or ours."""
    return subprocess.Popen(
        command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT if log else None,
        start_new_session=True,
    )  # fmt: skip


def run_in_foreground(command: list[str], env: dict[str, str]) -> int:
    """Run a server with our stdout and stderr until it exits, and return its status.

    Whatever ends the wait (Ctrl-C's KeyboardInterrupt, or the SystemExit the CLI raises on
    SIGTERM) stops the server's whole group before it propagates: in a session of its own the
    server gets no Ctrl-C from the terminal, and must not outlive us holding its port.
    """
    process = start(command, env)
    try:
        return process.wait()
    finally:
        stop(process)


def wait_until_ready(
    server: LocalServer, timeout_s: float, path: str = "/readyz",
    *, startup_failure_is_final: bool = False,
) -> None:  # fmt: skip
    """Poll `path` until it answers 200.

    `startup_failure_is_final` gives up as soon as the worker's startup failed once: the
    service's `__init__` raised (its model or feature configuration is unusable), and BentoML
    restarts the worker only for it to fail the same way every 10 s until the timeout.

    Raises:
        ServerNotReadyError: with the tail of the server log, if it exits, fails to start (with
            `startup_failure_is_final`) or times out first.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerNotReadyError(
                f"the scoring server exited with status {server.process.returncode} while "
                f"starting:\n{_tail(server.log_file)}"
            )
        if startup_failure_is_final and _startup_failed(server.log_file):
            raise ServerNotReadyError(
                f"the scoring server's worker failed to start:\n{_tail(server.log_file)}"
            )
        try:
            if httpx.get(f"{server.url}{path}", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise ServerNotReadyError(
        f"the scoring server was not ready after {timeout_s:.0f}s:\n{_tail(server.log_file)}"
    )


def stop(process: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    """Stop a process started by `start` and its group: SIGTERM, up to `timeout_s` to exit,
    then SIGKILL. Interrupted while waiting (a second Ctrl-C), it kills at once, then re-raises.
    """
    if process.poll() is not None:
        return
    try:
        _signal_group(process, signal.SIGTERM)
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(process)
    except BaseException:
        _kill_group(process)
        raise


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    _signal_group(process, signal.SIGKILL)
    process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    # Only while the leader is unreaped: until then its pid, the group's id, cannot be reused.
    if process.returncode is None:
        with suppress(ProcessLookupError):  # the whole group has exited already
            os.killpg(process.pid, signum)


# What uvicorn logs when the application's startup (BentoML creating the service) raised.
STARTUP_FAILED = "Application startup failed"


def _startup_failed(log_file: Path) -> bool:
    try:
        return STARTUP_FAILED in log_file.read_text(errors="replace")
    except OSError:
        return False


def _tail(log_file: Path, lines: int = 15) -> str:
    try:
        text = log_file.read_text(errors="replace").splitlines()
    except OSError:
        return "(no server log)"
    return "\n".join(text[-lines:])
