"""The command line: bad input gets a clear message, exit status 2 and nothing half-written;
output to a pipe is plain text with every path whole; stopped, `serve` leaves nothing running;
the demo runs every stage to the end."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pandas as pd
import psutil
import pytest
from conftest import DATA_END, workspace_environment

from fraud_detection.cli import main
from fraud_detection.config import Settings
from fraud_detection.jobs.prepare import prepare_data
from fraud_detection.serving.local_server import free_port

pytestmark = pytest.mark.integration


def command(settings: Settings, *args: str) -> list[str]:
    return [sys.executable, "-m", "fraud_detection", "--workspace", str(settings.workspace), *args]


def environment(columns: int = 200) -> dict[str, str]:
    # The same pinned history as the workspaces the fixtures build.
    return {"PATH": "/usr/bin:/bin", "FRAUD_DATA__N_CUSTOMERS": "200", "COLUMNS": str(columns),
            "FRAUD_DATA__END": DATA_END.isoformat()}  # fmt: skip


def cli(settings: Settings, *args: str, columns: int = 200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(settings, *args), capture_output=True, text=True, timeout=300,
        env=environment(columns),
    )  # fmt: skip


def cli_in_process(
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
) -> tuple[int, str]:
    """`main` in this process, with the subprocess's environment: the same handler and messages
    without a new interpreter importing Feast again (the exit status through a real process is
    checked by `cli`'s tests)."""
    for key, value in environment().items():
        if key != "PATH":
            monkeypatch.setenv(key, value)
    capsys.readouterr()
    code = main(["--workspace", str(settings.workspace), *args])
    return code, capsys.readouterr().out


@pytest.fixture
def with_data(new_workspace: Callable[..., Settings]) -> Settings:
    settings = new_workspace(n_customers=200)
    prepare_data(settings)
    return settings


def test_features_without_data_names_the_missing_file(
    new_workspace: Callable[..., Settings],
) -> None:
    result = cli(new_workspace(), "features")
    assert result.returncode == 2
    assert "data file not found" in result.stdout and "make data" in result.stdout


def test_corrupt_data_file(
    with_data: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with_data.paths.transactions.write_bytes(b"PAR1 this is not parquet")
    code, out = cli_in_process(with_data, capsys, monkeypatch, "features")
    assert code == 2
    assert "cannot read" in out and "transactions.parquet" in out


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda f: f.drop(columns=["amount"]), "missing columns: amount"),
        (lambda f: f.assign(amount=f["amount"].astype(str)), "amount: expected float"),
        (lambda f: f.assign(amount=-f["amount"]), "amount: "),
        (lambda f: f.assign(merchant_category="casino"), "unknown values 'casino'"),
        (lambda f: f.assign(customer_id=None), "customer_id: "),
        (lambda f: f.iloc[0:0], "the dataset has no rows"),
    ],
    ids=["missing-column", "wrong-type", "out-of-range", "unknown-category", "nulls", "empty"],
)
def test_contract_violations_stop_the_feature_job(
    with_data: Settings,
    corrupt: Callable[[pd.DataFrame], pd.DataFrame],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path: Path = with_data.paths.transactions
    corrupt(pd.read_parquet(path)).to_parquet(path)
    code, out = cli_in_process(with_data, capsys, monkeypatch, "features")
    assert code == 2, out
    assert "violates the transaction data contract" in out
    assert message in out
    assert not (with_data.paths.feature_tables / "customer_transaction_stats.parquet").exists()


def test_a_contract_violation_exits_the_process_with_status_2(with_data: Settings) -> None:
    """Through a real process: the status the job returns is the one its caller sees (an
    empty table once ended a finished job with -6 in Arrow's teardown, `process_exit`)."""
    path: Path = with_data.paths.transactions
    pd.read_parquet(path).iloc[0:0].to_parquet(path)
    result = cli(with_data, "features")
    assert (result.returncode, result.stderr) == (2, ""), result.stdout + result.stderr
    assert "the dataset has no rows" in result.stdout


def test_bad_drift_setting_is_refused(new_workspace: Callable[..., Settings]) -> None:
    result = cli(new_workspace(), "generate", "--drift", "amount_scale=big")
    assert result.returncode == 2
    assert "'big' is not a number" in result.stdout


def test_piped_output_is_plain_with_paths_whole(new_workspace: Callable[..., Settings]) -> None:
    """Narrower than any path it prints, piped: no escape codes (Feast's materialize prints
    colour codes unconditionally), no library warnings, and no path broken across lines."""
    settings = new_workspace()
    output = ""
    for args in (["generate"], ["features"]):
        result = cli(settings, *args, columns=40)
        assert result.returncode == 0, result.stdout + result.stderr
        output += result.stdout + result.stderr
    assert "\x1b[" not in output, output
    assert [line for line in output.splitlines() if "Warning" in line] == [], output
    lines = output.splitlines()
    for path in (settings.paths.transactions, settings.paths.feature_tables):
        assert any(line.endswith(f" {path}") for line in lines), output
    # A path cut short by a line break names nothing: whatever is printed must exist.
    root = str(settings.paths.root)
    printed = [p for p in re.findall(r"(?<!\S)/\S+", output) if p.startswith(root)]
    assert printed and [p for p in printed if not Path(p).exists()] == [], output


def test_sigterm_stops_serve_and_its_server(trained_workspace: Settings, tmp_path: Path) -> None:
    """SIGTERM to the CLI's pid alone (a process manager, `kill PID`): the server it started,
    in a session of its own, stops too and frees the port."""
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen(
            command(trained_workspace, "serve", "--port", str(port)),
            env=environment(), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server: list[psutil.Process] = []
    try:
        _wait_for_livez(serve, port, log)
        server = psutil.Process(serve.pid).children(recursive=True)
        assert server, "the CLI started no server process"
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=60) == 128 + signal.SIGTERM, log.read_text()
        assert _port_closes(port, within_s=20), f"port {port} still accepts connections"
        assert _running(server) == [], log.read_text()
        assert _bentoml_on(port) == []
    finally:  # whatever failed, leave nothing of ours running
        if serve.poll() is None:
            serve.kill()
        for process in _running(server):
            process.kill()
        serve.wait(timeout=10)


@pytest.mark.slow
def test_the_demo_runs_every_stage(new_workspace: Callable[..., Settings]) -> None:
    """`make demo`'s command on a fresh workspace (the tests' small pinned history), piped: every
    stage runs or says why it is skipped, the output is plain, and it exits 0."""
    settings = new_workspace()
    env = {**environment(columns=120), **workspace_environment()}
    result = subprocess.run(
        command(settings, "demo"), capture_output=True, text=True, timeout=1800, env=env
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for stage in ("1/5 data", "2/5 features", "3/5 training pipeline", "4/5 serving",
                  "5/5 monitoring"):  # fmt: skip
        assert stage in result.stdout, output
    for shown in ("Holdout metrics", "Validation gate", "Scoring latency over HTTP",
                  "monitor: ok", "monitor: drift", "regenerating the history",
                  "alert FraudModelDrift fired", "delivered by Alertmanager"):  # fmt: skip
        assert shown in result.stdout, output
    assert "\x1b[" not in output and "Traceback" not in output, output
    assert [line for line in output.splitlines() if "Warning" in line] == [], output


def _wait_for_livez(serve: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert serve.poll() is None, f"serve exited with {serve.returncode}:\n{log.read_text()}"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/livez", timeout=2, trust_env=False).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the server never answered /livez:\n{log.read_text()}")


def _port_closes(port: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def _running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running (a zombie has exited; only its parent has not collected it yet)."""
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


def _bentoml_on(port: int) -> list[str]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if any("bentoml" in part for part in cmdline) and str(port) in cmdline:
            found.append(" ".join(cmdline))
    return found
