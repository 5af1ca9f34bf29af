"""`make kind-up` from start to end against recording stand-ins for docker, kind, kubectl and
helm, in a copy of the project (so nothing is written into the tree): what reaches
`kubectl apply`, and what the Envoy Gateway chart is installed with.

`helm show crds` of Envoy Gateway's chart answers the way the real chart does at the pinned
version: its own CRDs (group gateway.envoyproxy.io) and the Gateway API CRDs it bundles, which
are the experimental channel. The standard-channel install applied before them brings the
safe-upgrades ValidatingAdmissionPolicy, which refuses experimental Gateway API CRDs over
standard ones, so only Envoy's own may reach the cluster.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from toolbox import REPO_ROOT, VERSIONS

SYSTEM_TOOLS = ["bash", "env", "sed", "sort", "head", "date", "basename", "dirname", "cat",
                "grep", "tr", "od", "wc", "mkdir", "mktemp", "rm", "sleep"]  # fmt: skip
ENVOY_GROUP = "gateway.envoyproxy.io"
GATEWAY_API_GROUP = "gateway.networking.k8s.io"

# The shape of `helm show crds oci://docker.io/envoyproxy/gateway-helm`: one `# Source:` block
# per file of the chart's crds/ directories, its subchart's included. A nested `group:` key that
# names Envoy's group sits inside the Gateway API CRD, to catch a filter that only greps.
ENVOY_CHART_CRDS = f"""\
---
# Source: gateway-helm/charts/crds/crds/gatewayapi-crds.yaml
#
# Gateway API Experimental channel install
#
---
#
# config/crd/experimental/gateway.networking.k8s.io_httproutes.yaml
#
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  annotations:
    gateway.networking.k8s.io/bundle-version: {VERSIONS["GATEWAY_API_VERSION"]}
    gateway.networking.k8s.io/channel: experimental
  name: httproutes.{GATEWAY_API_GROUP}
spec:
  group: {GATEWAY_API_GROUP}
  names:
    kind: HTTPRoute
    plural: httproutes
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              group:
                description: "Group of the referent, e.g. {ENVOY_GROUP}"
                type: string
---
#
# config/crd/experimental/gateway.networking.x-k8s.io_xmeshes.yaml
#
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  annotations:
    gateway.networking.k8s.io/channel: experimental
  name: xmeshes.gateway.networking.x-k8s.io
spec:
  group: gateway.networking.x-k8s.io
  names:
    kind: XMesh
    plural: xmeshes
  scope: Cluster
  versions: []
---
# Source: gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_backends.yaml
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  annotations:
    controller-gen.kubebuilder.io/version: v0.20.1
  name: backends.{ENVOY_GROUP}
spec:
  group: {ENVOY_GROUP}
  names:
    kind: Backend
    plural: backends
  scope: Namespaced
  versions: []
---
# Source: gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_envoyproxies.yaml
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: envoyproxies.{ENVOY_GROUP}
spec:
  group: {ENVOY_GROUP}
  names:
    kind: EnvoyProxy
    plural: envoyproxies
  scope: Namespaced
  versions: []
"""
NOT_A_CRD = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: surprise\n"


@dataclass
class Recording:
    result: subprocess.CompletedProcess[str]
    commands: list[str]
    record_dir: Path

    def applied(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """Every `kubectl apply -f -`: its command line and the objects it was given."""
        found = []
        for line in self.commands:
            if line.startswith("kubectl apply") and " stdin=" in line:
                command, _, name = line.partition(" stdin=")
                text = (self.record_dir / name).read_text()
                found.append((command, [d for d in yaml.safe_load_all(text) if d]))
        return found


def _crds(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o.get("kind") == "CustomResourceDefinition"]


def _stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f'#!/usr/bin/env bash\necho "{name} $*" >>"$RECORD"\n{body}\n')
    path.chmod(0o755)


def _project_copy(root: Path) -> Path:
    """The parts of the project kind-up reads: its scripts and k8s/ (kustomize renders there)."""
    for part in ("scripts", "k8s"):
        shutil.copytree(REPO_ROOT / part, root / part)
    shutil.copy(REPO_ROOT / "project.env", root / "project.env")
    # The project's virtual environment, whose Python (with PyYAML) filters the CRDs.
    (root / ".venv").symlink_to(Path(sys.prefix))
    return root


def _stand_ins(bin_dir: Path, helm_crds: str) -> None:
    bin_dir.mkdir()
    for name in SYSTEM_TOOLS:
        found = shutil.which(name)
        assert found, name
        (bin_dir / name).symlink_to(found)
    (bin_dir / "envoy-chart-crds.yaml").write_text(helm_crds)
    _stub(bin_dir, "docker", """case "$1" in
  version) echo 29.1.3 ;;
  info) [ "$#" -gt 1 ] && echo "8 17179869184" ;;
esac
exit 0""")  # fmt: skip
    _stub(bin_dir, "kind", f"""case "$1" in
  version) echo "kind {VERSIONS["KIND_VERSION"]} go1.24.6 linux/amd64" ;;
  get) echo "${{CLUSTER_NAME:-fraud-detection}}" ;;
esac
exit 0""")  # fmt: skip
    # `apply -f -` keeps what it was given, one file per call, named on its record line, and
    # refuses experimental Gateway API CRDs as the standard install's safe-upgrades policy does.
    _stub(bin_dir, "kubectl", f"""case "$1" in
  version) echo '{{"clientVersion": {{"gitVersion": "v{VERSIONS["KUBECTL_VERSION"]}"}}}}' ;;
  config) [ "$2" = get-contexts ] && echo kind-fraud-detection ;;
  create) printf 'apiVersion: v1\\nkind: Namespace\\nmetadata:\\n  name: %s\\n' "$3" ;;
  kustomize) printf 'apiVersion: v1\\nkind: Namespace\\nmetadata:\\n  name: fraud-ml\\n' ;;
  apply)
    for arg in "$@"; do
      if [ "$arg" = - ]; then
        name="stdin-$(wc -l <"$RECORD" | tr -d ' ').yaml"
        cat >"$(dirname "$RECORD")/$name"
        echo "kubectl $* stdin=$name" >>"$RECORD"
        if grep -q '{GATEWAY_API_GROUP}/channel: experimental' "$(dirname "$RECORD")/$name"; then
          echo "ValidatingAdmissionPolicy 'safe-upgrades.{GATEWAY_API_GROUP}' denied request:" \
            "Installing experimental CRDs on top of standard channel CRDs is prohibited" >&2
          exit 1
        fi
      fi
    done ;;
esac
exit 0""")  # fmt: skip
    _stub(bin_dir, "helm", f"""case "$1" in
  version) echo "v{VERSIONS["HELM_VERSION"]}" ;;
  show) cat "$(dirname "$0")/envoy-chart-crds.yaml" ;;
esac
exit 0""")  # fmt: skip


def _kind_up(tmp_path: Path, helm_crds: str = ENVOY_CHART_CRDS) -> Recording:
    root = _project_copy(tmp_path / "project")
    bin_dir = tmp_path / "bin"
    _stand_ins(bin_dir, helm_crds)
    inotify = tmp_path / "inotify"
    inotify.mkdir()
    (inotify / "max_user_watches").write_text("524288\n")
    (inotify / "max_user_instances").write_text("512\n")
    record_dir = tmp_path / "record"
    record_dir.mkdir()
    record = record_dir / "commands.log"
    record.touch()
    env = {"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/tmp"), "RECORD": str(record),
           "KIND_INOTIFY_DIR": str(inotify), "TMPDIR": str(tmp_path)}  # fmt: skip
    result = subprocess.run(
        [str(bin_dir / "bash"), str(root / "scripts" / "kind-up.sh")],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    return Recording(result, record.read_text().splitlines(), record_dir)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    return _kind_up(tmp_path_factory.mktemp("kind-up"))


def test_kind_up_runs_to_the_end_against_the_stand_ins(recording: Recording) -> None:
    assert recording.result.returncode == 0, recording.result.stderr[-3000:]
    assert "platform ready" in recording.result.stderr


def test_only_envoys_own_crds_reach_the_cluster(recording: Recording) -> None:
    envoy = [objects for _, objects in recording.applied() if _crds(objects)]
    assert len(envoy) == 1, recording.commands
    (crds,) = envoy
    assert sorted(c["metadata"]["name"] for c in crds) == [
        f"backends.{ENVOY_GROUP}",
        f"envoyproxies.{ENVOY_GROUP}",
    ]
    assert {c["spec"]["group"] for c in crds} == {ENVOY_GROUP}
    assert "2 CRDs of gateway.envoyproxy.io kept" in recording.result.stderr


def test_gateway_api_crds_come_only_from_the_standard_install(recording: Recording) -> None:
    for command, objects in recording.applied():
        groups = {o["spec"]["group"] for o in _crds(objects)}
        assert not groups & {GATEWAY_API_GROUP, "gateway.networking.x-k8s.io"}, command
    standard = [c for c in recording.commands if c.startswith("kubectl apply") and
                "gateway-api/releases/download" in c]  # fmt: skip
    (line,) = standard
    assert f"/{VERSIONS['GATEWAY_API_VERSION']}/standard-install.yaml" in line
    envoy_crds = next(i for i, c in enumerate(recording.commands) if c.startswith("helm show crds"))
    assert recording.commands.index(line) < envoy_crds


def test_the_envoy_chart_installs_no_crd_and_no_second_safe_upgrades_policy(
    recording: Recording,
) -> None:
    (install,) = [c for c in recording.commands if c.startswith("helm upgrade --install eg ")]
    assert "oci://docker.io/envoyproxy/gateway-helm" in install
    assert f"--version {VERSIONS['ENVOY_GATEWAY_VERSION']}" in install
    assert " --skip-crds " in install
    assert "--set crds.gatewayAPI.safeUpgradePolicy.enabled=false" in install


@pytest.mark.parametrize(
    ("crds", "message"),
    [
        (ENVOY_CHART_CRDS + NOT_A_CRD, "not a CustomResourceDefinition with a spec.group"),
        (ENVOY_CHART_CRDS.split("# Source: gateway-helm/charts/crds/crds/generated")[0],
         f"no CustomResourceDefinition of group {ENVOY_GROUP}"),
    ],
    ids=["unexpected-document", "no-envoy-crds"],
)  # fmt: skip
def test_kind_up_stops_when_the_chart_crds_are_not_what_it_expects(
    tmp_path: Path, crds: str, message: str
) -> None:
    recording = _kind_up(tmp_path, crds)
    stderr = recording.result.stderr
    assert recording.result.returncode != 0, stderr
    assert message in stderr and f"cannot select the {ENVOY_GROUP} CRDs" in stderr, stderr
    assert f"failed during step: Envoy Gateway {VERSIONS['ENVOY_GATEWAY_VERSION']}" in stderr
    assert not any(c.startswith("helm upgrade --install eg ") for c in recording.commands)
