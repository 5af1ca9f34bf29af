"""No two things bind one host port: the scripts' `kubectl port-forward`s against each other
(while both run) and against kind's extraPortMappings (held while the cluster exists), and the
port-forwards the docs tell a reader to run against those mappings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from doc_commands import DocCommand
from helm_args import option
from install_record import Install


@dataclass(frozen=True)
class Binding:
    port: int
    address: str
    what: str
    start: float = 0.0
    end: float = float("inf")

    def overlaps(self, other: Binding) -> bool:
        wildcard = {"0.0.0.0", "::", ""}
        same_address = self.address == other.address or {self.address, other.address} & wildcard
        return bool(same_address) and self.start < other.end and other.start < self.end


def _local_ports(words: list[str]) -> list[int]:
    """LOCAL of each LOCAL:REMOTE (and of a bare PORT); `:REMOTE` picks a free port."""
    ports = []
    for word in words:
        match = re.fullmatch(r"(\d+)(?::\d+)?", word)
        if match:
            ports.append(int(match.group(1)))
    return ports


def kind_mappings(install: Install) -> list[Binding]:
    bindings = []
    for call in install.calls:
        if call.tool == "kind" and call.argv[:2] == ["create", "cluster"]:
            config = Path(option(call.argv, "--config"))
            for node in (yaml.safe_load(config.read_text()) or {}).get("nodes") or []:
                for mapping in node.get("extraPortMappings") or []:
                    where = (
                        f"kind extraPortMapping hostPort {mapping['hostPort']} "
                        f"({install.rel(str(config))}, cluster created at {call.site})"
                    )
                    bindings.append(
                        Binding(
                            int(mapping["hostPort"]), mapping.get("listenAddress", "0.0.0.0"), where
                        )
                    )
    return bindings


def script_forwards(install: Install) -> list[Binding]:
    ends = {
        c.event["pid"]: c.event["time"]
        for c in install.calls
        if c.event.get("op") == "port-forward-end"
    }
    bindings = []
    for call in install.calls:
        if call.event.get("op") != "port-forward-start":
            continue
        address = option(call.argv, "--address") or "127.0.0.1"
        for port in _local_ports(call.argv[1:]):
            what = f"`kubectl {' '.join(call.argv)}` ({call.site})"
            bindings.append(
                Binding(
                    port,
                    address,
                    what,
                    call.event["time"],
                    ends.get(call.event["pid"], float("inf")),
                )
            )
    return bindings


def doc_forwards(docs: list[DocCommand]) -> list[Binding]:
    bindings = []
    for command in docs:
        if command.words[:2] == ["kubectl", "port-forward"]:
            address = command.option("--address") or "127.0.0.1"
            for port in _local_ports(command.words[2:]):
                bindings.append(
                    Binding(
                        port,
                        address,
                        f"the documented `{' '.join(command.words)}` ({command.where})",
                    )
                )
    return bindings


def check_host_ports(install: Install, docs: list[DocCommand]) -> list[str]:
    mappings, forwards = kind_mappings(install), script_forwards(install)
    errors = []
    for forward in [*forwards, *doc_forwards(docs)]:
        for mapping in mappings:
            if forward.port == mapping.port and forward.overlaps(mapping):
                errors.append(
                    f"host port {forward.port} is bound twice: {forward.what} and {mapping.what}"
                )
    for i, first in enumerate(forwards):
        for second in forwards[i + 1 :]:
            if first.port == second.port and first.overlaps(second):
                errors.append(
                    f"host port {first.port} is bound twice at once: {first.what} and {second.what}"
                )
    return errors
