"""scripts/tools.sh installs the system packages the tests use, once, and says what to run
where it cannot. apt-get, sudo and id are stand-ins here: the tests must not install anything
on the machine that runs them, nor depend on what it already has."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from toolbox import REPO_ROOT

PACKAGES = ["redis-server", "postgresql", "chromium", "shellcheck", "npm", "prometheus",
            "prometheus-alertmanager", "prometheus-pushgateway"]  # fmt: skip
# The packages whose Debian services the installer stops, with their ports.
SERVICES = {"prometheus": 9090, "prometheus-alertmanager": 9093, "prometheus-pushgateway": 9091}
# What the script itself runs, besides the package tools.
BASICS = ["bash", "env", "mkdir", "ln", "dirname", "cat", "sed", "sha256sum", "cut", "grep",
          "chmod"]  # fmt: skip


def _stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!{shutil.which('bash')}\n{body}\n")
    path.chmod(0o755)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The script and its version matrix alone: nothing from this machine's .tools/."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    (root / "k8s").mkdir()
    shutil.copy2(REPO_ROOT / "scripts" / "tools.sh", root / "scripts" / "tools.sh")
    shutil.copy2(REPO_ROOT / "k8s" / "versions.env", root / "k8s" / "versions.env")
    return root


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH with the basics and none of the packages; `id -u` says an ordinary user."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for name in BASICS:
        found = shutil.which(name)
        assert found, name
        (directory / name).symlink_to(found)
    _stub(directory, "id", '[ "$1" = -u ] && echo 1000')
    return directory


def _run(checkout: Path, bin_dir: Path) -> subprocess.CompletedProcess[str]:
    # Debian's PostgreSQL lives outside PATH; point its lookup at nothing on this machine.
    script = (checkout / "scripts" / "tools.sh").read_text()
    script = script.replace("/usr/lib/postgresql/", f"{checkout}/no-postgresql/")
    (checkout / "scripts" / "tools.sh").write_text(script)
    return subprocess.run(
        [str(bin_dir / "bash"), str(checkout / "scripts" / "tools.sh"), "system"],
        capture_output=True, text=True, timeout=60, env={"PATH": str(bin_dir), "HOME": "/tmp"},
    )  # fmt: skip


def _package_manager(bin_dir: Path, calls: Path) -> None:
    """sudo -n that works, and an apt-get that records its calls and 'installs' each package
    as a command of the name the script looks for."""
    _stub(bin_dir, "sudo", '[ "$1" = -n ] && shift; "$@"')
    commands = {"postgresql": "initdb", "prometheus": "promtool"}
    installs = "\n".join(
        f'    {p}) printf "#!/bin/sh\\n" > "{bin_dir}/{commands.get(p, p)}"; '
        f'chmod +x "{bin_dir}/{commands.get(p, p)}" ;;'
        for p in PACKAGES
    )
    _stub(
        bin_dir,
        "apt-get",
        f"""echo "apt-get $*" >> "{calls}"
[ "$1" = install ] || exit 0
for arg in "$@"; do
  case "$arg" in
{installs}
  esac
done""",
    )


def test_without_root_or_sudo_it_stops_naming_the_install_commands(
    checkout: Path, bin_dir: Path
) -> None:
    result = _run(checkout, bin_dir)
    assert result.returncode != 0
    assert f"missing system packages: {' '.join(PACKAGES)}" in result.stderr, result.stderr
    wanted = f"sudo apt-get install -y --no-install-recommends {' '.join(PACKAGES)}"
    assert wanted in result.stderr, result.stderr
    assert "brew install redis && brew install postgresql@16" in result.stderr, result.stderr


def test_with_sudo_it_installs_what_is_missing_once(
    checkout: Path, bin_dir: Path, tmp_path: Path
) -> None:
    calls = tmp_path / "apt-calls"
    _package_manager(bin_dir, calls)

    first = _run(checkout, bin_dir)
    assert first.returncode == 0, first.stderr
    assert f"installing {' '.join(PACKAGES)} with apt-get" in first.stderr
    assert calls.read_text().splitlines() == [
        "apt-get update -qq",
        f"apt-get install -y -qq --no-install-recommends {' '.join(PACKAGES)}",
    ]

    second = _run(checkout, bin_dir)
    assert second.returncode == 0, second.stderr
    assert len(calls.read_text().splitlines()) == 2, "the second run installed something"
    for package in PACKAGES:
        assert f"tools: {package} present" in second.stderr


def test_a_chrome_on_the_machine_serves_as_chromium(
    checkout: Path, bin_dir: Path, tmp_path: Path
) -> None:
    _package_manager(bin_dir, tmp_path / "apt-calls")
    _stub(bin_dir, "google-chrome", 'echo "Google Chrome 140.0"')
    result = _run(checkout, bin_dir)
    assert result.returncode == 0, result.stderr
    linked = checkout / ".tools" / "bin" / "chromium"
    assert linked.resolve() == (bin_dir / "google-chrome").resolve()
    assert "chromium" not in (tmp_path / "apt-calls").read_text()


def test_the_debian_services_of_the_prometheus_packages_are_stopped_and_disabled(
    checkout: Path, bin_dir: Path, tmp_path: Path
) -> None:
    calls = tmp_path / "service-calls"
    _package_manager(bin_dir, tmp_path / "apt-calls")
    for tool in ("service", "update-rc.d"):
        _stub(bin_dir, tool, f'echo "{tool} $*" >> "{calls}"')
    _stub(bin_dir, "ss", "true")  # nothing listens
    result = _run(checkout, bin_dir)
    assert result.returncode == 0, result.stderr
    recorded = calls.read_text().splitlines()
    for name in SERVICES:
        assert f"service {name} stop" in recorded
        assert f"update-rc.d {name} disable" in recorded
    assert not any("redis" in line or "postgresql" in line for line in recorded)


def test_a_port_still_taken_after_stopping_the_services_is_an_error(
    checkout: Path, bin_dir: Path, tmp_path: Path
) -> None:
    _package_manager(bin_dir, tmp_path / "apt-calls")
    _stub(bin_dir, "ss", '[ "$2" = "sport = :9093" ] && echo "LISTEN 0 4096 *:9093 *:*"; true')
    result = _run(checkout, bin_dir)
    assert result.returncode != 0
    assert "still listens on port 9093 after stopping prometheus-alertmanager" in result.stderr
