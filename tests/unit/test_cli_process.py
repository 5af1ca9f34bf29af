"""How the command line ends: signals unwind it (so servers stop), a server's whole process
group is stopped, and the warnings it hides are only the known, harmless ones."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from fraud_detection.serving import local_server


def python(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
        timeout=120, cwd=tmp_path,
    )  # fmt: skip


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_runs_finally_blocks_and_sets_the_exit_status(
    signum: signal.Signals, tmp_path: Path
) -> None:
    """As a command serving inside `local_server.serve(...)` would: its `finally` must run."""
    result = python(
        f"""
        import os, signal, sys, time
        from fraud_detection import cli

        signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it

        def production(settings, args):
            try:
                os.kill(os.getpid(), {int(signum)})
                time.sleep(60)
            finally:
                print("cleaned up", flush=True)
            return 0

        cli._production = production
        sys.exit(cli.main(["--workspace", ".", "production"]))
        """,
        tmp_path,
    )
    assert result.returncode == 128 + signum, result.stderr
    assert result.stdout.strip() == "cleaned up"


def test_stop_kills_a_group_that_ignores_sigterm(tmp_path: Path) -> None:
    """A leader and its worker that both ignore SIGTERM: after the timeout, both are killed."""
    worker = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    leader = (
        "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"w = subprocess.Popen([sys.executable, '-c', {worker!r}]); print(w.pid, flush=True); "
        "time.sleep(60)"
    )
    log = tmp_path / "leader.log"
    with log.open("wb") as out:
        process = local_server.start([sys.executable, "-c", leader], dict(os.environ), log=out)
    try:
        worker = psutil.Process(_first_line(log, process))
        local_server.stop(process, timeout_s=0.5)
        assert process.returncode == -signal.SIGKILL
        assert _gone(worker, within_s=10)
    finally:
        if process.poll() is None:
            process.kill()


def test_only_the_known_third_party_warnings_are_hidden(tmp_path: Path) -> None:
    """Importing Feast makes every deprecation warning show; bentoml and evidently then warn
    when imported (pathspec, numpy.core, litestar), unless the CLI's filters hide them."""
    result = python(
        """
        import warnings
        from fraud_detection import cli

        from fraud_detection import third_party_warnings

        third_party_warnings.quiet()  # as main() does
        cli._import_feast()  # as the commands that build features do
        import bentoml.models, evidently
        warnings.warn("any other", DeprecationWarning)  # still shows: the filters are narrow
        warnings.warn("any other", FutureWarning)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if "Warning" in line]
    assert [w.split(": ", 1)[-1] for w in warned] == [
        "DeprecationWarning: any other",
        "FutureWarning: any other",
    ], result.stderr


def _first_line(log: Path, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = log.read_text()
        if text.endswith("\n"):
            return int(text.split()[0])
        assert process.poll() is None, text
        time.sleep(0.05)
    raise AssertionError("the leader never reported its worker")


def _gone(process: psutil.Process, within_s: float) -> bool:
    """Exited (a zombie has: only its new parent has not collected it yet)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_a_job_leaves_with_its_status_after_pythons_own_clean_up(tmp_path: Path) -> None:
    """`exit_with` skips only the native teardown: a running thread finishes, an idle pool
    worker does not hold the exit, atexit handlers run, buffered output reaches the pipe, and
    the status is the job's."""
    result = python(
        """
        import atexit, sys, threading, time
        from concurrent.futures import ThreadPoolExecutor
        from fraud_detection.process_exit import exit_with

        atexit.register(lambda: print("atexit ran", end=""))
        threading.Thread(target=lambda: (time.sleep(0.3), print("thread done"))).start()
        ThreadPoolExecutor(2).submit(time.sleep, 0)  # an idle worker, as pandas and Feast leave
        sys.stdout.write("buffered; ")
        exit_with(3)
        """,
        tmp_path,
    )
    assert result.returncode == 3, result.stderr
    assert result.stdout == "buffered; thread done\natexit ran", result.stdout
