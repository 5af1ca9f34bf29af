"""The local alerting stack of `make observe`: Prometheus, Alertmanager and the Pushgateway from
Debian's packages, on loopback, with the project's config files (observe/), plus the webhook
receiver (`alert_receiver`) Alertmanager delivers to.

The configs are copied under the working directory with the ports asked for (the defaults are
the files' own) and, with `fast`, one-second scrape, evaluation and grouping intervals, so that
a test or the demo sees an alert fire and resolve within seconds.

    python -m fraud_detection.monitoring.observe [--workdir artifacts/observe]
"""

from __future__ import annotations

import argparse
import copy
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from fraud_detection.errors import AlertingStackError
from fraud_detection.identity import Identity
from fraud_detection.monitoring.alert_receiver import AlertReceiver, receiving

# Each component: the commands that run it (Debian's name first) and its Debian package.
COMPONENTS = {
    "prometheus": (("prometheus",), "prometheus"),
    "alertmanager": (("prometheus-alertmanager", "alertmanager"), "prometheus-alertmanager"),
    "pushgateway": (("prometheus-pushgateway", "pushgateway"), "prometheus-pushgateway"),
}
INSTALL_COMMAND = "sudo apt-get install -y --no-install-recommends " + " ".join(
    package for _, package in COMPONENTS.values()
)
EXIT_MISSING = 3  # the binaries are not installed
READY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Ports:
    """Loopback ports; the defaults are those of observe/prometheus.yml and alertmanager.yml."""

    prometheus: int = 9090
    alertmanager: int = 9093
    pushgateway: int = 9091
    receiver: int = 9095
    service: int = 3000  # `make serve`, scraped

    @classmethod
    def free(cls, service: int = 3000) -> Ports:
        """Ports nothing listens on now (for tests and the demo)."""
        prometheus, alertmanager, pushgateway, receiver = (_free_port() for _ in range(4))
        return cls(prometheus, alertmanager, pushgateway, receiver, service)


@dataclass(frozen=True)
class Files:
    """The project's files the stack runs on (under the workspace root)."""

    prometheus: Path
    alertmanager: Path

    @classmethod
    def of(cls, root: Path) -> Files:
        return cls(root / "observe" / "prometheus.yml", root / "observe" / "alertmanager.yml")


def rules_file(root: Path) -> Path:
    """The alert rules, shared with the chart's PrometheusRule."""
    return root / "charts" / Identity().chart_name / "files" / "alert-rules.yaml"


def find_binaries() -> dict[str, str]:
    """The path of each component's command.

    Raises:
        AlertingStackError: some are missing; the message names their packages and the
            install command.
    """
    found: dict[str, str] = {}
    missing: list[str] = []
    for name, (commands, package) in COMPONENTS.items():
        path = next((p for p in map(shutil.which, commands) if p), None)
        if path:
            found[name] = path
        else:
            missing.append(package)
    if missing:
        raise AlertingStackError(
            f"not installed: {' '.join(missing)}. Install with `{INSTALL_COMMAND}` "
            "(or scripts/tools.sh observe)"
        )
    return found


def prometheus_config(
    base: dict[str, Any], base_dir: Path, ports: Ports, fast: bool = False,
    rule_files: Sequence[Path] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """`base` (observe/prometheus.yml) with the targets at `ports`, rule files as absolute
    paths (relative ones are relative to `base_dir`), and one-second intervals if `fast`."""
    config = copy.deepcopy(base)
    targets = {"prometheus": ports.prometheus, "serving": ports.service,
               "pushgateway": ports.pushgateway}  # fmt: skip
    jobs = {job["job_name"]: job for job in config.get("scrape_configs", [])}
    if set(jobs) != set(targets):
        raise AlertingStackError(
            f"{base_dir}: expected scrape jobs {sorted(targets)}, found {sorted(jobs)}"
        )
    for name, port in targets.items():
        jobs[name]["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
    config["alerting"] = {
        "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{ports.alertmanager}"]}]}]
    }
    files = rule_files or [base_dir / p for p in config.get("rule_files", [])]
    config["rule_files"] = [str(Path(p).resolve()) for p in files]
    if fast:
        config["global"] = {**config.get("global", {}), "scrape_interval": "1s",
                            "evaluation_interval": "1s"}  # fmt: skip
    return config


def alertmanager_config(base: dict[str, Any], ports: Ports, fast: bool = False) -> dict[str, Any]:
    """`base` (observe/alertmanager.yml) delivering to the receiver at `ports.receiver`."""
    config = copy.deepcopy(base)
    for receiver in config.get("receivers", []):
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = f"http://127.0.0.1:{ports.receiver}/"
    if fast:
        config["route"] = {**config["route"], "group_wait": "1s", "group_interval": "1s"}
    return config


@dataclass
class Stack:
    """A running stack: its URLs, the receiver's file, and the processes (to stop one)."""

    ports: Ports
    work_dir: Path
    receiver: AlertReceiver
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.prometheus}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.alertmanager}"

    @property
    def pushgateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.pushgateway}"

    @property
    def notifications(self) -> Path:
        return self.receiver.out

    def stop(self, name: str) -> None:
        """Stop one component (prometheus, alertmanager or pushgateway) and wait for it."""
        _terminate(self.processes.pop(name))


@contextmanager
def running(
    root: Path, work_dir: Path, ports: Ports | None = None, fast: bool = False,
    rule_files: Sequence[Path] | None = None,
) -> Iterator[Stack]:  # fmt: skip
    """Start the receiver, the Pushgateway, Alertmanager and Prometheus; wait until each is
    ready; stop them all when the block ends.

    Raises:
        AlertingStackError: a binary is missing, or a component did not become ready (its
            log named).
    """
    binaries = find_binaries()
    ports = ports or Ports()
    files = Files.of(root)
    work_dir.mkdir(parents=True, exist_ok=True)
    prometheus_yml, alertmanager_yml = work_dir / "prometheus.yml", work_dir / "alertmanager.yml"
    prometheus_yml.write_text(yaml.safe_dump(prometheus_config(
        _load(files.prometheus), files.prometheus.parent, ports, fast, rule_files)))  # fmt: skip
    alertmanager_yml.write_text(
        yaml.safe_dump(alertmanager_config(_load(files.alertmanager), ports, fast))
    )
    commands = {
        "pushgateway": [
            binaries["pushgateway"], f"--web.listen-address=127.0.0.1:{ports.pushgateway}",
            # Debian's build defaults to /var/lib/prometheus/pushgateway.data, one file for every
            # stack on the machine: a new stack would start with the last one's pushed verdicts
            # (and fire their alerts). Empty keeps them in memory, upstream's default.
            "--persistence.file=",
        ],
        "alertmanager": [
            binaries["alertmanager"], f"--config.file={alertmanager_yml}",
            f"--storage.path={work_dir / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{ports.alertmanager}",
            "--cluster.listen-address=",  # no gossip port: one instance, nothing on 0.0.0.0
        ],
        "prometheus": [
            binaries["prometheus"], f"--config.file={prometheus_yml}",
            f"--storage.tsdb.path={work_dir / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{ports.prometheus}",
        ],
    }  # fmt: skip
    urls = {"pushgateway": ports.pushgateway, "alertmanager": ports.alertmanager,
            "prometheus": ports.prometheus}  # fmt: skip
    with ExitStack() as stack:
        receiver = stack.enter_context(receiving(work_dir / "alerts.jsonl", ports.receiver))
        running_stack = Stack(ports, work_dir, receiver)
        stack.callback(_terminate_all, running_stack.processes)
        for name, command in commands.items():
            log = work_dir / f"{name}.log"
            with log.open("wb") as out:
                running_stack.processes[name] = subprocess.Popen(
                    command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            _wait_ready(name, f"http://127.0.0.1:{urls[name]}/-/ready",
                        running_stack.processes[name], log)  # fmt: skip
        yield running_stack


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise AlertingStackError(f"{path} is missing: the stack's configuration lives there")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise AlertingStackError(f"{path}: expected a YAML mapping")
    return data


def _wait_ready(name: str, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AlertingStackError(f"{name} exited with {process.returncode}: {_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise AlertingStackError(
        f"{name} not ready at {url} within {READY_TIMEOUT_S:.0f} s: {_tail(log)}"
    )


def _tail(log: Path, lines: int = 5) -> str:
    text = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
    return f"last lines of {log}:\n" + "\n".join(text[-lines:])


def _terminate_all(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in reversed(processes.values()):  # Prometheus first, the Pushgateway last
        _terminate(process)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run Prometheus, Alertmanager, the Pushgateway and the alert receiver on "
        "loopback until interrupted."
    )
    parser.add_argument("--workdir", type=Path, default=Path("artifacts/observe"))
    parser.add_argument("--root", type=Path, default=Path(), help="the project checkout")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with running(args.root, args.workdir.resolve()) as stack:
            sys.stdout.write(
                f"Prometheus    {stack.prometheus_url}  (scrapes 127.0.0.1:{stack.ports.service})\n"
                f"Alertmanager  {stack.alertmanager_url}\n"
                f"Pushgateway   {stack.pushgateway_url}\n"
                f"Alerts        written to {stack.notifications}\n"
                f"Push the monitor's metrics: export FRAUD_MONITOR_PUSHGATEWAY_URL="
                f"{stack.pushgateway_url}, then make monitor. Ctrl-C stops.\n"
            )
            sys.stdout.flush()
            signal.pause()
    except AlertingStackError as exc:
        sys.stderr.write(f"observe: {exc}\n")
        return EXIT_MISSING if exc.args[0].startswith("not installed") else 1
    except KeyboardInterrupt:
        pass
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(main())
