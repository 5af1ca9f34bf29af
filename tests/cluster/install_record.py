"""The install a recording describes: every object applied or installed, with the file it came
from, plus the port-forwards, images, waits and storage URIs of the scripts' commands.

The recording keeps commands, not results: local sources (files, kustomizations, the project's
chart) are rendered again here from `root`, so a mutation test can point the same recording at
an edited copy of the repository. Stdin and remote fixtures are taken as recorded.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from helm_args import option, template_args
from installed import pinned_tool
from kube_kinds import CLUSTER_SCOPED
from recorder import VERSIONS, Recording

APP_NAMESPACE = "fraud-ml"
KFP_NAMESPACE = "kubeflow"
# What kind itself creates: the namespaces and the DNS pods every policy may name.
BUILTIN_NAMESPACES = {
    "default",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "local-path-storage",
}
PVC_URI = re.compile(r"pvc://([a-z0-9]([-a-z0-9]*[a-z0-9])?)(/|\b)")


@dataclass(frozen=True)
class Obj:
    kind: str
    name: str
    namespace: str  # "" for cluster-scoped kinds
    body: dict[str, Any]
    origin: str  # the file (relative to the repository) or remote source it came from
    via: str  # the script line that applied it
    remote: bool  # from an upstream install (a test fixture), not from this repository
    seq: int  # position in the install, for order checks


@dataclass(frozen=True)
class Frame:
    function: str  # e.g. retry (lib.sh)
    site: str  # where it was called, e.g. scripts/kind-up.sh:143
    args: list[str]  # the arguments it was called with, expanded


@dataclass(frozen=True)
class Call:
    """One recorded command."""

    tool: str
    argv: list[str]
    script: str  # e.g. scripts/deploy.sh
    site: str  # the line of the script that ran it (outside lib.sh), e.g. scripts/deploy.sh:42
    frames: list[Frame]  # the bash functions it ran in, innermost first
    event: dict[str, Any]
    seq: int

    @property
    def run(self) -> str:
        """The script the recorder started that this call belongs to (kind-up.sh, ...)."""
        return str(self.event.get("run", ""))

    @property
    def words(self) -> str:
        return " ".join([self.tool, *self.argv])


@dataclass
class Install:
    root: Path
    calls: list[Call]
    objects: list[Obj] = field(default_factory=list)

    def find(self, kind: str, namespace: str, name: str) -> Obj | None:
        ns = "" if kind in CLUSTER_SCOPED else namespace
        for obj in self.objects:
            if obj.kind == kind and obj.name == name and obj.namespace == ns:
                return obj
        return None

    def of_kind(self, *kinds: str) -> Iterator[Obj]:
        return (obj for obj in self.objects if obj.kind in kinds)

    def namespaces(self) -> set[str]:
        return BUILTIN_NAMESPACES | {o.name for o in self.of_kind("Namespace")}

    def rel(self, path: str) -> str:
        return path.replace(str(self.root) + "/", "")


def docs_of(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


def _kustomize(directory: Path) -> str:
    return subprocess.run(
        [pinned_tool("kubectl"), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@functools.cache
def _file_index(root: Path) -> dict[tuple[str, str], str]:
    """(kind, name) -> the repository file that defines it, for objects kustomize rendered."""
    index: dict[tuple[str, str], str] = {}
    for path in sorted((root / "k8s").rglob("*.yaml")):
        try:
            for doc in docs_of(path.read_text()):
                name = (doc.get("metadata") or {}).get("name")
                if doc.get("kind") and name:
                    index.setdefault((doc["kind"], name), str(path.relative_to(root)))
        except yaml.YAMLError:
            continue
    return index


def _helm_sources(text: str, chart: Path, root: Path) -> Iterator[tuple[dict[str, Any], str]]:
    """Documents of helm's output, each with its template file from the `# Source:` line."""
    for chunk in re.split(r"^---\s*$", text, flags=re.MULTILINE):
        match = re.search(r"^# Source: [^/]+/(.+)$", chunk, flags=re.MULTILINE)
        origin = (
            str((chart / match.group(1)).relative_to(root))
            if match
            else str(chart.relative_to(root))
        )
        for doc in docs_of(chunk):
            yield doc, origin


class _Reader:
    """Turns the recorded calls into objects, rendering local sources from root."""

    def __init__(self, recording: Recording, root: Path) -> None:
        self.recording, self.root = recording, root
        self.outputs: dict[str, dict[str, Any]] = {}  # digest of a command's output -> its event
        self.install = Install(root, [])

    def here(self, path: str) -> str:
        return path.replace(str(self.recording.root), str(self.root))

    def call(self, seq: int, event: dict[str, Any]) -> Call:
        sites = [self.install.rel(self.here(s)) for s in event.get("sites", "").split() if s]
        stack = event.get("stack", "").split()
        # stack: innermost function first ("retry main"); sites: the current line, then the
        # call site of each frame.
        args = [a.split() for a in event.get("frame_args", "").split("\x1f")]
        frames = [
            Frame(fn, sites[i + 1], args[i] if i < len(args) else [])
            for i, fn in enumerate(stack[:-1])
            if i + 1 < len(sites)
        ]
        script_sites = [s for s in sites if not s.startswith("scripts/lib.sh")]
        site = script_sites[0] if script_sites else (sites[0] if sites else "")
        script = self.install.rel(self.here(event.get("script", ""))) or site.split(":")[0]
        argv = [self.here(a) for a in event["argv"]]
        return Call(event["tool"], argv, script, site, frames, event, seq)

    def add(
        self, doc: dict[str, Any], origin: str, call: Call, namespace: str, remote: bool
    ) -> None:
        if doc.get("kind") == "List":
            for item in doc.get("items") or []:
                self.add(item, origin, call, namespace, remote)
            return
        meta = doc.get("metadata") or {}
        if not doc.get("kind") or not meta.get("name"):
            return
        kind = doc["kind"]
        ns = "" if kind in CLUSTER_SCOPED else (meta.get("namespace") or namespace)
        obj = Obj(kind, meta["name"], ns, doc, origin, call.site, remote, call.seq)
        self.install.objects.append(obj)

    def kustomized(self, directory: Path, call: Call, namespace: str) -> None:
        index = _file_index(self.root)
        for doc in docs_of(_kustomize(directory)):
            kind, name = doc.get("kind", ""), (doc.get("metadata") or {}).get("name", "")
            origin = index.get((kind, name), str(directory.relative_to(self.root)))
            self.add(doc, origin, call, namespace, remote=False)

    def stdin(self, source: dict[str, Any], call: Call, namespace: str) -> None:
        producer = self.outputs.get(source["digest"])
        if producer and producer.get("op") == "kustomize":
            # Rendered from a scratch kustomization beside the overlays (platform-manifests.sh):
            # build it again, at the same place in root.
            scratch_parent = Path(self.here(producer["dir"])).parent
            scratch = Path(tempfile.mkdtemp(prefix=".check.", dir=scratch_parent))
            try:
                (scratch / "kustomization.yaml").write_text(producer["kustomization"])
                self.kustomized(scratch, call, namespace)
            finally:
                shutil.rmtree(scratch)
            return
        if producer and producer.get("op") == "template" and producer.get("local"):
            self.helm_local(producer, call, namespace)
            return
        remote = bool(producer)  # e.g. `helm show crds oci://...` piped straight in
        origin = f"{producer['chart']} (helm show crds)" if producer else f"stdin of {call.site}"
        for doc in docs_of(source["text"]):
            self.add(doc, origin, call, namespace, remote)

    def helm_local(self, event: dict[str, Any], call: Call, namespace: str) -> None:
        chart = Path(self.here(event["chart"]))
        args = [self.here(a) for a in event["effective_args"]]
        with tempfile.TemporaryDirectory() as scratch:
            # Values files the script wrote outside the repository (helm get values) are gone.
            for i, (path, text) in enumerate(event.get("values_files", {}).items()):
                copy = Path(scratch, f"values-{i}.yaml")
                copy.write_text(text)
                args = [str(copy) if a == path else a for a in args]
            self._render(event, chart, args, call, namespace)

    def _render(
        self, event: dict[str, Any], chart: Path, args: list[str], call: Call, namespace: str
    ) -> None:
        text = subprocess.run(
            [
                pinned_tool("helm"),
                "template",
                event["release"],
                str(chart),
                "--kube-version",
                VERSIONS["KUBERNETES_VERSION"],
                *template_args(args),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for doc, origin in _helm_sources(text, chart, self.root):
            self.add(doc, origin, call, namespace, remote=False)

    def read(self) -> Install:
        for seq, event in enumerate(self.recording.events):
            call = self.call(seq, event)
            self.install.calls.append(call)
            namespace = option(call.argv, "-n", "--namespace") or "default"
            op = event.get("op")
            if event.get("out_digest"):
                self.outputs[event["out_digest"]] = event
            if call.tool == "kubectl" and op == "apply":
                for source in event["sources"]:
                    if source["type"] == "file":
                        path = Path(self.here(source["ref"]))
                        for doc in docs_of(path.read_text()):
                            self.add(doc, str(path.relative_to(self.root)), call, namespace, False)
                    elif source["type"] == "kustomize":
                        self.kustomized(Path(self.here(source["ref"])), call, namespace)
                    elif source["type"] == "remote":
                        for doc in docs_of(source["text"]):
                            self.add(doc, source["ref"], call, namespace, remote=True)
                    else:
                        self.stdin(source, call, namespace)
            elif call.tool == "kubectl" and op == "create":
                self.add(event["object"], f"kubectl create at {call.site}", call, namespace, False)
            elif call.tool == "helm" and op in ("install", "upgrade"):
                if "--create-namespace" in event["effective_args"]:
                    ns_doc = {"kind": "Namespace", "metadata": {"name": event["namespace"]}}
                    self.add(
                        ns_doc, f"helm --create-namespace at {call.site}", call, namespace, False
                    )
                if event["local"]:
                    self.helm_local(event, call, event["namespace"])
                else:
                    for doc in docs_of(event["out"]):
                        self.add(doc, event["chart"], call, event["namespace"], remote=True)
            elif call.tool == "fraud-detection" and op == "submit":
                self.pipeline(call)
        return self.install

    def pipeline(self, call: Call) -> None:
        """The compiled pipeline KFP runs: its pods, as one pseudo object in KFP's namespace."""
        path = self.root / "pipelines" / "compiled" / "training_pipeline.yaml"
        docs = docs_of(path.read_text())
        executors = (docs[0].get("deploymentSpec") or {}).get("executors") or {}
        images = sorted({e["container"]["image"] for e in executors.values() if "container" in e})
        claims: set[str] = set()
        for doc in docs[1:]:
            k8s = ((doc.get("platforms") or {}).get("kubernetes") or {}).get("deploymentSpec") or {}
            for executor in (k8s.get("executors") or {}).values():
                claims |= {m.get("constant", "") for m in executor.get("pvcMount") or []}
        body = {"images": images, "claims": sorted(claims)}
        origin = str(path.relative_to(self.root))
        obj = Obj(
            "KFPPipelineRun",
            "training-pipeline",
            KFP_NAMESPACE,
            body,
            origin,
            call.site,
            False,
            call.seq,
        )
        self.install.objects.append(obj)


def read_install(recording: Recording, root: Path | None = None) -> Install:
    """The install the recording describes, its local sources read from root (default: the
    copy the scripts ran in)."""
    return _Reader(recording, root or recording.root).read()
