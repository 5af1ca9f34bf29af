"""The recording stand-in for docker, kind, kubectl, helm, curl, bentoml and fraud-detection.

One script, installed under each tool's name in a temporary bin directory (recorder.py): the
name it is called by picks the tool. It answers what the cluster scripts wait for and query,
keeps a small cluster state (the objects applied), and appends one JSON line per call to
$REC_DIR/events.jsonl: the arguments, stdin when it reads it, the calling script and the bash
call stack (exported by the DEBUG trap in recorder.py). Nothing here talks to a network.

The project's own chart and kustomizations are rendered for real ($REC_REAL_HELM,
$REC_REAL_KUBECTL); remote installs answer with the test fixtures in $REC_FIXTURES.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

from helm_args import option, template_args
from kube_kinds import CLUSTER_SCOPED
from mini_jsonpath import evaluate

# Started with python -S (site's startup is most of a call's time, and e2e.sh makes hundreds):
# the project's site-packages only for PyYAML, imported where needed (every directory the test
# process imports packages from: a generated project's may point at another's by a .pth file).
sys.path.extend(os.environ["REC_SITE_PACKAGES"].split(os.pathsep))
REC_DIR = Path(os.environ["REC_DIR"])
FIXTURES = Path(os.environ["REC_FIXTURES"])
STATE = REC_DIR / "state.json"
# The wrapper in the bin directory (`python -S -c 'import standin ...' TOOL ARGS...`) passes the
# name it was called by first. Imported, not run as a script, so that its bytecode is cached.
TOOL, ARGS = sys.argv[1], sys.argv[2:]
# `random_secret` in kind-up.sh: 24 random bytes in hex. Never written to the recording.
SECRET_VALUE = re.compile(r"[0-9a-f]{48}")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def caller() -> str:
    """The script that ran this command: the parent shell's script argument."""
    try:
        args = Path(f"/proc/{os.getppid()}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return ""
    scripts = [a.decode() for a in args if a.endswith(b".sh")]
    return scripts[0] if scripts else ""


def record(event: dict[str, Any]) -> None:
    event = {
        "tool": TOOL,
        "argv": ARGS,
        "script": caller(),
        "run": os.environ.get("REC_RUN", ""),
        "stack": os.environ.get("REC_STACK", ""),
        "sites": os.environ.get("REC_SITES", ""),
        "shell": os.environ.get("REC_PID", ""),
        "frame_args": os.environ.get("REC_ARGS", ""),
        "time": time.time(),
        **event,
    }
    with (REC_DIR / "events.jsonl").open("a") as out:
        fcntl.flock(out, fcntl.LOCK_EX)
        out.write(json.dumps(event) + "\n")


# The two model versions of the simulated registry: workspace-init's, and the pipeline's.
FIRST_MODEL, SECOND_MODEL = "0123456789ab", "ba9876543210"  # pragma: allowlist secret (versions)


# --- cluster state -------------------------------------------------------------------------
ALIASES = {
    "isvc": "InferenceService",
    "inferenceservice": "InferenceService",
    "inferenceservices": "InferenceService",
    "secret": "Secret",  # pragma: allowlist secret (a kind name)
    "secrets": "Secret",  # pragma: allowlist secret (a kind name)
    "job": "Job",
    "jobs": "Job",
    "cronjob": "CronJob",
    "cronjobs": "CronJob",
    "deployment": "Deployment",
    "deployments": "Deployment",
    "statefulset": "StatefulSet",
    "statefulsets": "StatefulSet",
    "gateway": "Gateway",
    "gateways": "Gateway",
    "crd": "CustomResourceDefinition",
    "namespace": "Namespace",
    "ns": "Namespace",
    "httproute": "HTTPRoute",
    "httproutes": "HTTPRoute",
    "pods": "Pod",
    "pod": "Pod",
    "svc": "Service",
    "service": "Service",
    "configmap": "ConfigMap",
    "cm": "ConfigMap",
}


def load_state() -> dict[str, Any]:
    if STATE.exists():
        state: dict[str, Any] = json.loads(STATE.read_text())
        return state
    return {
        "objects": {},
        "clusters": [],
        "releases": {},
        "requests": 0,
        "logs": {},
        "exit": {},
        "registry": {
            "production": FIRST_MODEL,
            "history": [FIRST_MODEL],
            "versions": [FIRST_MODEL, SECOND_MODEL],
        },
    }


def save_state(state: dict[str, Any]) -> None:
    tmp = STATE.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(STATE)
    # For the curl stand-in: which version answers, and the canary's share.
    stable = canary = "none"
    percent = 0
    for doc in state["objects"].values():
        if doc.get("kind") == "InferenceService":
            spec = doc.get("spec") or {}
            stable = canary = _storage_uri(spec.get("predictor") or {}).rsplit("/", 1)[-1] or "none"
            for entry in spec.get("canary") or []:
                canary = _storage_uri(entry.get("predictor") or {}).rsplit("/", 1)[-1] or "none"
                percent = int(entry.get("trafficPercent") or 0)
    (REC_DIR / "traffic").write_text(f"{stable} {canary} {percent}\n")


def key(kind: str, namespace: str, name: str) -> str:
    return f"{kind}/{'' if kind in CLUSTER_SCOPED else namespace}/{name}"


def store(state: dict[str, Any], docs: list[dict[str, Any]], namespace: str) -> None:
    for doc in docs:
        meta = doc.get("metadata") or {}
        if doc.get("kind") == "List":
            store(state, doc.get("items") or [], namespace)
            continue
        if not doc.get("kind") or not meta.get("name"):
            continue
        ns = meta.get("namespace") or namespace
        state["objects"][key(doc["kind"], ns, meta["name"])] = doc


def parse_docs(text: str) -> list[dict[str, Any]]:
    import yaml

    try:
        return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    except yaml.YAMLError:
        return []


# --- argument helpers ----------------------------------------------------------------------
def options(args: list[str], *names: str) -> list[str]:
    values = []
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                values.append(args[i + 1])
            elif arg.startswith(name + "="):
                values.append(arg.split("=", 1)[1])
    return values


def positionals(args: list[str], with_value: set[str]) -> list[str]:
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = arg in with_value
        else:
            out.append(arg)
    return out


# --- kubectl -------------------------------------------------------------------------------
KUBECTL_VALUE_FLAGS = {
    "-n",
    "--namespace",
    "-f",
    "--filename",
    "-k",
    "--kustomize",
    "-o",
    "--output",
    "-l",
    "--selector",
    "--for",
    "--timeout",
    "--type",
    "-p",
    "--patch",
    "--from",
    "--context",
    "--field-selector",
    "--sort-by",
    "--tail",
    "--from-literal",
    "--from-file",
    "--image",
    "--address",
    "--field-manager",
    "--dry-run",
    "-c",
    "--container",
}


def kustomize_real(directory: str) -> str:
    import subprocess

    result = subprocess.run(
        [os.environ["REC_REAL_KUBECTL"], "kustomize", directory],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        sys.stderr.write(result.stderr)
        sys.exit(result.returncode)
    return result.stdout


def fixture_for_url(url: str) -> str:
    """Remote manifests by the shape upstream returns (tests/cluster/fixtures)."""
    for pattern, name in [
        (r"gateway-api/releases/download/.*/standard-install\.yaml", "gateway-api-standard.yaml"),
        (
            r"gateway-api/releases/download/.*/experimental-install\.yaml",
            "gateway-api-experimental.yaml",
        ),
        (
            r"kubeflow/pipelines/manifests/kustomize/cluster-scoped-resources",
            "kfp-cluster-scoped.yaml",
        ),
        (r"kubeflow/pipelines/manifests/kustomize/env/", "kfp-platform-agnostic.yaml"),
    ]:
        if re.search(pattern, url):
            return (FIXTURES / name).read_text()
    sys.exit(f"standin: no fixture for remote manifest {url}")


def kubectl_apply(args: list[str], state: dict[str, Any]) -> None:
    """Records each source: stdin and remote text as given, local files and directories by
    path (install_record.py renders those again from whichever copy it checks)."""
    namespace = option(args, "-n", "--namespace", default="default")
    sources: list[dict[str, str]] = []
    texts: list[str] = []
    for source in options(args, "-f", "--filename"):
        if source == "-":
            text = sys.stdin.read()
            sources.append(
                {
                    "type": "stdin",
                    "text": SECRET_VALUE.sub("REDACTED", text),
                    "digest": digest(text),
                }
            )
        elif re.match(r"https?://", source):
            text = fixture_for_url(source)
            sources.append({"type": "remote", "ref": source, "text": text})
        else:
            path = Path(source)
            files = sorted(path.glob("*.y*ml")) if path.is_dir() else [path]
            text = "\n---\n".join(f.read_text() for f in files)
            sources.append({"type": "file", "ref": source})
        texts.append(text)
    for source in options(args, "-k", "--kustomize"):
        if Path(source).is_dir():
            texts.append(kustomize_real(source))
            sources.append({"type": "kustomize", "ref": source})
        else:
            texts.append(fixture_for_url(source))
            sources.append({"type": "remote", "ref": source, "text": texts[-1]})
    docs = [d for t in texts for d in parse_docs(t)]
    record({"op": "apply", "sources": sources})
    store(state, docs, namespace)
    for doc in docs:
        print(f"{doc.get('kind', '').lower()}/{(doc.get('metadata') or {}).get('name')} applied")


def _storage_uri(predictor: dict[str, Any]) -> str:
    for container in predictor.get("containers") or []:
        for env in container.get("env") or []:
            if env.get("name") == "STORAGE_URI":
                return str(env.get("value", ""))
    return str(predictor.get("storageUri", ""))


def _with_model(predictor: dict[str, Any], name: str, uri: str) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(predictor))
    copy["name"] = name
    for container in copy.get("containers") or []:
        for env in container.get("env") or []:
            if env.get("name") == "STORAGE_URI":
                env["value"] = uri
    return copy


def simulate_rollout_job(job: dict[str, Any], state: dict[str, Any]) -> None:
    """What the chart's rollout Job (fraud_detection.rollout.cluster_job) does to the cluster,
    as KServe would show it: the InferenceService's canary and stable predictor, the registry's
    production pointer, and its key=value log."""
    containers = (((job.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers"
    ) or []
    command = (
        [*(containers[0].get("command") or []), *(containers[0].get("args") or [])]
        if containers
        else []
    )
    if "fraud_detection.rollout.cluster_job" not in command:
        return
    isvc_name, namespace = option(command, "--isvc"), option(command, "--namespace")
    prefix, settings = (
        option(command, "--storage-prefix"),
        json.loads(option(command, "--settings") or "{}"),
    )
    words = positionals(
        command[command.index("fraud_detection.rollout.cluster_job") + 1 :],
        {"--isvc", "--namespace", "--storage-prefix", "--settings"},
    )
    action, version = words[0], (words[1] if len(words) > 1 else "")
    registry, isvc = (
        state["registry"],
        state["objects"].get(key("InferenceService", namespace, isvc_name)),
    )
    spec = (isvc or {}).setdefault("spec", {})
    predictor = spec.get("predictor") or {}
    if action == "canary" or action == "promote":
        name = f"v-{version}"
        if action == "canary":
            spec["canary"] = [
                {
                    "predictor": _with_model(predictor, name, f"{prefix}/{version}"),
                    "trafficPercent": int(settings.get("canary_percent", 10)),
                }
            ]
        else:
            spec["predictor"] = _with_model(predictor, name, f"{prefix}/{version}")
            spec.pop("canary", None)
            registry["history"].append(version)
            registry["production"] = version
    elif action == "rollback":
        if spec.get("canary"):
            spec.pop("canary")
        elif len(registry["history"]) > 1:
            registry["history"].pop()
            registry["production"] = registry["history"][-1]
            back = registry["production"]
            spec["predictor"] = _with_model(predictor, f"v-{back}", f"{prefix}/{back}")
    serving = _storage_uri(spec.get("predictor") or {}).rsplit("/", 1)[-1]
    production = registry["production"]
    candidate = next((v for v in registry["versions"] if v != production), "none")
    previous = registry["history"][-2] if len(registry["history"]) > 1 else "none"
    state["logs"][job["metadata"]["name"]] = "\n".join(
        [
            f"action={action}",
            f"production={production}",
            f"previous={previous}",
            f"candidate={candidate}",
            f"serving={serving}",
            f"agree={'yes' if production == serving else 'no'}",
        ]
    )


def kubectl_create(args: list[str], state: dict[str, Any]) -> None:
    namespace = option(args, "-n", "--namespace", default="default")
    words = positionals(args, KUBECTL_VALUE_FLAGS)
    if options(args, "-f", "--filename"):
        texts = [
            sys.stdin.read() if f == "-" else Path(f).read_text()
            for f in options(args, "-f", "--filename")
        ]
        docs = [d for t in texts for d in parse_docs(t)]
        record(
            {
                "op": "apply",
                "verb": "create",
                "sources": [{"type": "stdin", "text": t, "digest": digest(t)} for t in texts],
            }
        )
        store(state, docs, namespace)
        for created in docs:
            if created.get("kind") == "Job":
                simulate_rollout_job(created, state)
            kind = created["kind"].lower()
            api = created.get("apiVersion", "v1")
            group = api.split("/")[0] if "/" in api else ""
            print(
                f"{kind}{'.' + group if group else ''}/{created['metadata']['name']}"
                if option(args, "-o") == "name"
                else f"{kind}/{created['metadata']['name']} created"
            )
        return
    kind, rest = words[1], words[2:]
    if kind == "namespace":
        doc: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": rest[0]},
        }
        if option(args, "--dry-run"):
            record({"op": "create-dry-run"})
            print(json.dumps(doc))  # JSON is YAML
            return
    elif kind == "secret":
        literals = options(args, "--from-literal")
        data = {
            k: SECRET_VALUE.sub("REDACTED", v) for k, _, v in (x.partition("=") for x in literals)
        }
        doc = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": rest[1], "namespace": namespace},
            "stringData": data,
        }
    elif kind == "job":
        source = option(args, "--from")
        src_kind, _, src_name = source.partition("/")
        template = state["objects"].get(key(ALIASES.get(src_kind, src_kind), namespace, src_name))
        spec = ((template or {}).get("spec") or {}).get("jobTemplate", {}).get("spec", {})
        doc = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": rest[0], "namespace": namespace},
            "spec": spec,
        }
    else:
        doc = {"kind": kind, "metadata": {"name": rest[0] if rest else "", "namespace": namespace}}
    record({"op": "create", "object": doc})
    store(state, [doc], namespace)
    print(f"{kind}/{doc['metadata']['name']} created")


def jsonpath(obj: Any, template: str) -> str:
    return evaluate(obj, template.strip("'"))


def isvc_view(doc: dict[str, Any]) -> dict[str, Any]:
    """An InferenceService with the status KServe's controller would report."""
    name = doc["metadata"]["name"]
    ns = doc["metadata"].get("namespace", "default")
    view: dict[str, Any] = json.loads(json.dumps(doc))
    view["status"] = {
        "url": f"http://{name}-{ns}.example.com",
        "conditions": [{"type": "Ready", "status": "True"}],
        "canaryStatuses": [
            {
                "name": c.get("predictor", {}).get("name", ""),
                "trafficPercent": c.get("trafficPercent"),
            }
            for c in (doc.get("spec") or {}).get("canary") or []
        ],
    }
    return view


def httproutes(state: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The HTTPRoutes KServe generates for each InferenceService: weights from the canary."""
    items = []
    for doc in state["objects"].values():
        if doc.get("kind") != "InferenceService" or doc["metadata"].get("namespace") != namespace:
            continue
        spec, name = doc.get("spec") or {}, doc["metadata"]["name"]
        stable = (spec.get("predictor") or {}).get("name", "predictor")
        refs: list[dict[str, Any]] = [
            {"name": f"{name}-{stable}-predictor", "port": 80, "weight": 100}
        ]
        for canary in spec.get("canary") or []:
            percent = int(canary.get("trafficPercent") or 0)
            refs[0]["weight"] -= percent
            refs.append(
                {
                    "name": f"{name}-{canary['predictor']['name']}-predictor",
                    "port": 80,
                    "weight": percent,
                }
            )
        items.append(
            {
                "kind": "HTTPRoute",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"rules": [{"backendRefs": refs}]},
            }
        )
    return {"items": items}


def kubectl_get(args: list[str], state: dict[str, Any]) -> int:
    namespace = option(args, "-n", "--namespace", default="default")
    output = option(args, "-o", "--output")
    words = positionals(args, KUBECTL_VALUE_FLAGS)[1:]
    record({"op": "get"})
    if "-A" in args or "--all-namespaces" in args:
        return 0
    if not words:
        return 0
    kinds = [ALIASES.get(k, k) for k in words[0].split("/")[0].split(",")]
    name = words[0].split("/", 1)[1] if "/" in words[0] else (words[1] if len(words) > 1 else "")
    if kinds == ["HTTPRoute"] and not name:
        print(
            jsonpath(httproutes(state, namespace), output.split("=", 1)[1])
            if "=" in output
            else "",
            end="",
        )
        return 0
    if kinds == ["Pod"]:
        # The pod of a finished Job: the exit code the (simulated) Job ended with.
        job = option(args, "-l", "--selector").partition("job-name=")[2]
        if output.startswith("jsonpath"):
            print(state.get("exit", {}).get(job, 0), end="")
        return 0
    if name:
        doc = state["objects"].get(key(kinds[0], namespace, name))
        if doc is None:
            print(f'Error from server (NotFound): {words[0]} "{name}" not found', file=sys.stderr)
            return 1
        if output.startswith("jsonpath="):
            view = isvc_view(doc) if kinds[0] == "InferenceService" else doc
            print(jsonpath(view, output.split("=", 1)[1]), end="")
        elif output in ("yaml", "json"):
            print(json.dumps(doc))
        return 0
    found = [
        d
        for k, d in state["objects"].items()
        if d.get("kind") in kinds
        and (d.get("kind") in CLUSTER_SCOPED or k.split("/")[1] == namespace)
    ]
    if output == "name":
        for doc in found:
            print(
                f"{doc['kind'].lower()}.{doc.get('apiVersion', 'v1').split('/')[0]}/"
                f"{doc['metadata']['name']}"
            )
    return 0


def merge(base: Any, patch: Any) -> Any:
    if not isinstance(patch, dict) or not isinstance(base, dict):
        return patch
    out = dict(base)
    for name, value in patch.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = merge(base.get(name), value)
    return out


def kubectl_patch(args: list[str], state: dict[str, Any]) -> int:
    namespace = option(args, "-n", "--namespace", default="default")
    words = positionals(args, KUBECTL_VALUE_FLAGS)[1:]
    kind, _, name = words[0].partition("/")
    if not name and len(words) > 1:
        name = words[1]
    k = key(ALIASES.get(kind, kind), namespace, name)
    patch = json.loads(option(args, "-p", "--patch") or "{}")
    record({"op": "patch", "patch": patch})
    if k not in state["objects"]:
        print(f"Error from server (NotFound): {kind} {name} not found", file=sys.stderr)
        return 1
    if option(args, "--type") == "json":
        doc = state["objects"][k]
        for op in patch:
            parts = [p for p in op["path"].split("/") if p]
            target = doc
            for part in parts[:-1]:
                target = (
                    target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
                )
            last = parts[-1]
            if op["op"] == "remove":
                if isinstance(target, list):
                    target.pop(int(last))
                else:
                    target.pop(last, None)
            elif isinstance(target, list):
                target[int(last)] = op["value"]
            else:
                target[last] = op["value"]
    else:
        state["objects"][k] = merge(state["objects"][k], patch)
    return 0


def port_forward(args: list[str]) -> int:
    """Listens (for the curl stand-in: a file per local port) until it is stopped."""
    record({"op": "port-forward-start", "pid": os.getpid()})
    ports = [
        w.split(":")[0]
        for w in positionals(args, KUBECTL_VALUE_FLAGS)[2:]
        if ":" in w or w.isdigit()
    ]
    listening = [REC_DIR / "listening" / port for port in ports if port]
    for path in listening:
        path.parent.mkdir(exist_ok=True)
        path.write_text(str(os.getpid()))

    def stop(*_: Any) -> None:
        for path in listening:
            path.unlink(missing_ok=True)
        record({"op": "port-forward-end", "pid": os.getpid()})
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Never outlives the test, whoever forgets to stop it.
    time.sleep(float(os.environ.get("REC_FORWARD_SECONDS", "120")))
    stop()
    return 0


def kubectl_logs(args: list[str]) -> int:
    record({"op": "logs"})
    job = next((w.split("/", 1)[1] for w in args if w.startswith("job/")), "")
    state = load_state()
    print(state.get("logs", {}).get(job, f"production={state['registry']['production']}"))
    return 0


def kubectl(args: list[str]) -> int:
    verb = positionals(args, KUBECTL_VALUE_FLAGS)[:1]
    if args[:1] == ["version"]:
        version = os.environ["REC_KUBECTL_VERSION"]
        print(json.dumps({"clientVersion": {"gitVersion": f"v{version}"}}, indent=2))
        return 0
    if verb == ["kustomize"]:
        directory = positionals(args, KUBECTL_VALUE_FLAGS)[1]
        out = kustomize_real(directory)
        kustomization = Path(directory, "kustomization.yaml")
        record(
            {
                "op": "kustomize",
                "out_digest": digest(out),
                "dir": directory,
                "kustomization": kustomization.read_text() if kustomization.exists() else "",
            }
        )
        print(out, end="")
        return 0
    if verb == ["port-forward"]:
        return port_forward(args)
    if verb == ["logs"]:
        return kubectl_logs(args)
    state = load_state()
    rc = 0
    if args[:2] == ["config", "get-contexts"]:
        record({"op": "config"})
        for cluster in state["clusters"]:
            print(f"kind-{cluster}")
    elif verb == ["apply"]:
        kubectl_apply(args, state)
    elif verb == ["create"]:
        kubectl_create(args, state)
    elif verb == ["get"]:
        rc = kubectl_get(args, state)
    elif verb == ["patch"]:
        rc = kubectl_patch(args, state)
    elif verb == ["wait"]:
        record({"op": "wait"})
        rc = 1 if "Failed" in option(args, "--for") else 0
    elif verb == ["delete"]:
        record({"op": "delete"})
        words = positionals(args, KUBECTL_VALUE_FLAGS)[1:]
        namespace = option(args, "-n", "--namespace", default="default")
        kind, _, name = words[0].partition("/")
        name = name or (words[1] if len(words) > 1 else "")
        state["objects"].pop(key(ALIASES.get(kind, kind), namespace, name), None)
    else:
        record({"op": verb[0] if verb else ""})
    save_state(state)
    return rc


# --- helm ----------------------------------------------------------------------------------
HELM_VALUE_FLAGS = {
    "--namespace",
    "-n",
    "--values",
    "-f",
    "--set",
    "--set-string",
    "--set-json",
    "--version",
    "--timeout",
    "--repo",
    "--kube-version",
    "--show-only",
    "-s",
    "--template",
    "--output",
    "-o",
    "--post-renderer",
}


def set_values(args: list[str]) -> dict[str, str]:
    values = {}
    for item in options(args, "--set", "--set-string"):
        for pair in item.split(","):
            name, _, value = pair.partition("=")
            values[name] = value
    return values


def remote_chart(chart: str, args: list[str], crds_only: bool) -> str:
    """A remote chart by the shape upstream renders (tests/cluster/fixtures)."""
    name = chart.rstrip("/").rsplit("/", 1)[-1]
    sets = set_values(args)
    crds_path = FIXTURES / f"chart-{name}-crds.yaml"
    resources_path = FIXTURES / f"chart-{name}.yaml"
    if name == "gateway-crds-helm":
        # Envoy's CRDs-only chart: each group behind its own switch, both off by default.
        text = ""
        if sets.get("crds.envoyGateway.enabled") == "true":
            text += (FIXTURES / "chart-gateway-helm-crds-envoy.yaml").read_text()
        if sets.get("crds.gatewayAPI.enabled") == "true":
            text += "\n---\n" + (FIXTURES / "chart-gateway-helm-crds-gateway-api.yaml").read_text()
        return text
    if name == "gateway-helm":
        crds = (
            (FIXTURES / "chart-gateway-helm-crds-envoy.yaml").read_text()
            + "\n---\n"
            + (FIXTURES / "chart-gateway-helm-crds-gateway-api.yaml").read_text()
        )
        if crds_only:
            return crds
        text = resources_path.read_text()
        return text if "--skip-crds" in args else crds + "\n---\n" + text
    if name == "cert-manager":
        text = resources_path.read_text()
        return (
            (crds_path.read_text() + "\n---\n" + text)
            if sets.get("crds.enabled") == "true"
            else text
        )
    if crds_only:
        return crds_path.read_text() if crds_path.exists() else ""
    if not resources_path.exists():
        sys.exit(f"standin: no fixture for remote chart {chart}")
    return resources_path.read_text()


def render_local(release: str, chart: str, args: list[str]) -> str:
    render = [
        os.environ["REC_REAL_HELM"],
        "template",
        release,
        chart,
        "--kube-version",
        os.environ["REC_KUBE_VERSION"],
        *template_args(args),
    ]
    import subprocess

    result = subprocess.run(render, capture_output=True, text=True, check=False)
    if result.returncode:
        sys.stderr.write(result.stderr)
        sys.exit(result.returncode)
    return result.stdout


def _put(values: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for name in parents:
        values = values.setdefault(name, {})
    values[last] = value


def _typed(text: str) -> Any:
    """--set's type inference: booleans, integers and null; anything else a string."""
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def user_values(args: list[str]) -> dict[str, Any]:
    """What `helm get values` prints: the -f files and --set flags merged, in order."""
    import yaml

    values: dict[str, Any] = {}
    for i, arg in enumerate(args):
        name, _, inline = arg.partition("=")
        value = inline or (args[i + 1] if i + 1 < len(args) else "")
        if name in ("--values", "-f"):
            values = merge(values, yaml.safe_load(Path(value).read_text()) or {})
        elif name == "--set":
            for pair in value.split(","):
                dotted, _, text = pair.partition("=")
                _put(values, dotted, _typed(text))
        elif name == "--set-string":
            dotted, _, text = value.partition("=")
            _put(values, dotted, text)
        elif name == "--set-json":
            dotted, _, text = value.partition("=")
            _put(values, dotted, json.loads(text))
    return values


def with_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def helm(args: list[str]) -> int:
    if args[:1] == ["version"]:
        print(f"v{os.environ['REC_HELM_VERSION']}", end="")
        return 0
    words = positionals(args, HELM_VALUE_FLAGS)
    verb = words[0] if words else ""
    state = load_state()
    namespace = option(args, "-n", "--namespace", default="default")
    if verb == "get" and words[1:2] == ["values"]:
        release = state["releases"].get(f"{namespace}/{words[2]}")
        record({"op": "get-values"})
        if release is None:
            print("Error: release: not found", file=sys.stderr)
            return 1
        print(json.dumps(user_values(release)))  # JSON is YAML
        return 0
    if verb == "show" and words[1:2] == ["crds"]:
        out = with_newline(remote_chart(words[2], args, crds_only=True))
        record({"op": "show-crds", "out_digest": digest(out), "chart": words[2], "out": out})
        sys.stdout.write(out)
        return 0
    if verb in ("install", "upgrade", "template"):
        release, chart = words[1], words[2]
        if verb == "upgrade" and "--reuse-values" in args:
            args = state["releases"].get(f"{namespace}/{release}", []) + args
        local = Path(chart).is_dir()
        # What a pipe or file downstream receives, byte for byte: the digest finds it again.
        out = with_newline(
            render_local(release, chart, args)
            if local
            else remote_chart(chart, args, crds_only=False)
        )
        if local and verb != "template":
            crd_dir = Path(chart, "crds")
            if crd_dir.is_dir() and "--skip-crds" not in args:
                out = (
                    "\n---\n".join(p.read_text() for p in sorted(crd_dir.glob("*.y*ml")))
                    + "\n---\n"
                    + out
                )
        outside = {
            f: Path(f).read_text()
            for f in options(args, "--values", "-f")
            if not f.startswith(os.environ["REC_ROOT"]) and Path(f).exists()
        }
        record(
            {
                "op": verb,
                "release": release,
                "chart": chart,
                "local": local,
                "namespace": namespace,
                "values_files": outside,
                "out_digest": digest(out),
                "effective_args": args,
                "out": "" if local else out,
            }
        )
        if verb == "template":
            sys.stdout.write(out)
            return 0
        state["releases"][f"{namespace}/{release}"] = [a for a in args if a != "--reuse-values"]
        if "--create-namespace" in args:
            store(
                state,
                [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}],
                namespace,
            )
        store(state, parse_docs(out), namespace)
        save_state(state)
        print(f'Release "{release}" has been upgraded. Happy Helming!')
        return 0
    record({"op": verb})
    return 0


# --- docker, kind, curl, bentoml, fraud-detection -------------------------------------------
DOCKER_FIELDS = {
    ".Client.Version": "28.5.1",
    ".Server.Version": "28.5.1",
    ".Server.APIVersion": "1.51",
    ".Server.Os": "linux",
    ".Server.Arch": "amd64",
    ".NCPU": "8",
    ".MemTotal": str(16 * 1024**3),
}


def go_template(template: str) -> str:
    """docker's --format: each {{.Field}} by the value a healthy Docker 28 reports."""
    return re.sub(
        r"\{\{\s*(\.[A-Za-z.]+)\s*\}\}", lambda m: DOCKER_FIELDS.get(m.group(1), ""), template
    )


def docker(args: list[str]) -> int:
    if args[:1] in (["version"], ["info"]):
        template = option(args, "--format", "-f")
        print(go_template(template) if template else "standin docker")
        return 0
    record({"op": args[0] if args else ""})
    if args[:1] == ["save"]:
        images = positionals(args[1:], {"-o", "--output", "--platform"})
        archive = json.dumps({"standin-image-archive": images})
        target = option(args, "-o", "--output")
        if target:
            Path(target).write_text(archive)
        else:
            print(archive)
    return 0


def kind(args: list[str]) -> int:
    if args[:1] == ["version"]:
        print(f"kind {os.environ['REC_KIND_VERSION']} go1.24.6 linux/amd64")
        return 0
    state = load_state()
    if args[:2] == ["get", "clusters"]:
        for cluster in state["clusters"]:
            print(cluster)
        return 0
    event: dict[str, Any] = {"op": " ".join(args[:2])}
    if args[:2] == ["create", "cluster"]:
        import yaml

        state["clusters"].append(option(args, "--name", default="kind"))
        # The host ports kind's port mappings hold, for the curl stand-in.
        config = yaml.safe_load(Path(option(args, "--config")).read_text()) or {}
        for node in config.get("nodes") or []:
            for mapping in node.get("extraPortMappings") or []:
                (REC_DIR / "listening").mkdir(exist_ok=True)
                (REC_DIR / "listening" / str(mapping["hostPort"])).write_text("kind")
    if args[:2] == ["load", "image-archive"]:
        archive = positionals(args[2:], {"--name", "-n", "--nodes"})[0]
        text = sys.stdin.read() if archive in ("-", "/dev/stdin") else Path(archive).read_text()
        event["images"] = json.loads(text).get("standin-image-archive", [])
    record(event)
    save_state(state)
    return 0


def bentoml(args: list[str]) -> int:
    record({"op": args[0] if args else ""})
    if args[:1] == ["list"]:
        print(json.dumps([{"tag": "fraud-detector:standin0001"}]))
    return 0


def fraud_detection(args: list[str]) -> int:
    record({"op": args[0] if args else ""})
    if args[:1] == ["production"]:
        print("0123456789ab")
    return 0


TOOLS = {
    "kubectl": kubectl,
    "helm": helm,
    "docker": docker,
    "kind": kind,
    "bentoml": bentoml,
    "fraud-detection": fraud_detection,
}


def main() -> int:
    return TOOLS[TOOL](ARGS)
