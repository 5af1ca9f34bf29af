"""The whole-install checks catch what they are for: each test injects one defect into a copy
of the repository's files, reads the session's recording against that copy (local sources are
rendered again from it; nothing is re-recorded) and expects the check to fail with a message
naming the object and the file."""

from __future__ import annotations

import contextlib
import os
import re
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from checks import CHECKS
from doc_commands import doc_commands
from install_record import read_install
from recorder import copy_repo, recorded, rerun

Edit = Callable[[Path], None]


def replace(relative: str, old: str, new: str, count: int = 1) -> Edit:
    def edit(root: Path) -> None:
        path = root / relative
        text = path.read_text()
        assert old in text, f"{relative} no longer holds {old!r}: update this mutation"
        path.write_text(text.replace(old, new, count))

    return edit


def findings_after(edit: Edit, check: str, tmp_path: Path) -> list[str]:
    root = copy_repo(tmp_path / "copy")
    edit(root)
    install = read_install(recorded(), root)
    return CHECKS[check](install, doc_commands(root))


def assert_caught(found: list[str], *phrases: str) -> None:
    assert any(all(p in f for p in phrases) for f in found), (
        f"no finding names all of {phrases}; found:\n" + "\n".join(found)
    )


def add_crd(root: Path) -> None:
    """A second copy of Gateway API's HTTPRoute CRD, experimental channel, in the gateway
    kustomization that kind-up.sh applies."""
    (root / "k8s/platform/gateway/httproute-crd.yaml").write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata:\n  name: httproutes.gateway.networking.k8s.io\n"
        "  annotations: {gateway.networking.k8s.io/channel: experimental}\n"
        "spec:\n  group: gateway.networking.k8s.io\n  scope: Namespaced\n"
        "  names: {kind: HTTPRoute, plural: httproutes}\n"
        "  versions: [{name: v1, served: true, storage: true,\n"
        "              schema: {openAPIV3Schema: {type: object}}}]\n"
    )
    replace(
        "k8s/platform/gateway/kustomization.yaml",
        "  - gateway.yaml",
        "  - gateway.yaml\n  - httproute-crd.yaml",
    )(root)


def map_port(port: int) -> Edit:
    return replace(
        "k8s/kind/cluster.yaml",
        "    extraPortMappings:\n",
        f"    extraPortMappings:\n      - containerPort: 30088\n        hostPort: {port}\n"
        '        listenAddress: "127.0.0.1"\n        protocol: TCP\n',
    )


def unbound_wait_job(root: Path) -> None:
    """wait_job without its deadline: the loop polls until the Job ends, however long."""
    path = root / "scripts/lib.sh"
    text = path.read_text()
    deadline = re.search(
        r'^\s*\[ "\$SECONDS" -lt "\$deadline" \] \|\| die .*\n', text, flags=re.MULTILINE
    )
    assert deadline, (
        "scripts/lib.sh's wait_job no longer checks its deadline this way: update this mutation"
    )
    path.write_text(text.replace(deadline.group(0), ""))


CASES = [
    # (id, check, edit, phrases a finding must hold)
    (
        "claim-in-a-job",
        "claims",
        replace(
            "k8s/jobs/workspace-init.yaml",
            "claimName: fraud-workspace",
            "claimName: fraud-workspce",
        ),
        ("Job fraud-ml/workspace-init", "k8s/jobs/workspace-init.yaml", "fraud-workspce"),
    ),
    (
        "claim-in-the-chart",
        "claims",
        replace(
            "charts/fraud-detection/values.yaml",
            "workspaceClaim: fraud-workspace",
            "workspaceClaim: fraud-data",
        ),
        (
            "CronJob fraud-ml/fraud-detection-monitor",
            "charts/fraud-detection/templates/cronjobs.yaml",
            "fraud-data",
        ),
    ),
    (
        "claim-the-platform-drops",
        "claims",
        replace(
            "k8s/platform/base/storage.yaml", "name: fraud-workspace", "name: fraud-workspace-app"
        ),
        (
            "InferenceService fraud-ml/fraud-detection",
            "charts/fraud-detection/templates/inferenceservice.yaml",
            "pvc://fraud-workspace/",
        ),
    ),
    (
        "claim-in-the-docs",
        "claims",
        replace(
            "docs/kind.md",
            "## Commands\n",
            "## Commands\n\n`helm upgrade fraud-detection charts/fraud-detection --set model.storageUri=pvc://models/x`\n",
        ),
        ("docs/kind.md", "pvc://models/"),
    ),
    (
        "secret-name",
        "secrets-configmaps",
        replace(
            "charts/fraud-detection/values.yaml",
            "secretName: feast-connection",
            "secretName: feast-connexion",
        ),
        (
            "InferenceService fraud-ml/fraud-detection",
            "charts/fraud-detection/templates/inferenceservice.yaml",
            "Secret fraud-ml/feast-connexion",
        ),
    ),
    (
        "secret-key",
        "secrets-configmaps",
        replace("k8s/jobs/workspace-init.yaml", "key: redis-connection", "key: redis-url"),
        ("Job fraud-ml/workspace-init", "k8s/jobs/workspace-init.yaml", "key redis-url"),
    ),
    (
        "service-account",
        "service-accounts",
        replace(
            "charts/fraud-detection/values.yaml", "name: pipeline-runner", "name: pipeline-runnr"
        ),
        (
            "RoleBinding fraud-ml/fraud-detection-rollout",
            "charts/fraud-detection/templates/rollout-rbac.yaml",
            "kubeflow/pipeline-runnr",
        ),
    ),
    (
        "gateway-class",
        "routes",
        replace(
            "k8s/platform/gateway/gateway.yaml",
            "gatewayClassName: envoy",
            "gatewayClassName: envoy-gateway",
        ),
        (
            "Gateway kserve/kserve-ingress-gateway",
            "k8s/platform/gateway/gateway.yaml",
            "GatewayClass envoy-gateway",
        ),
    ),
    (
        "service-url-port",
        "service-urls",
        replace(
            "charts/fraud-detection/values.yaml",
            "ml-pipeline.kubeflow.svc.cluster.local:8888",
            "ml-pipeline.kubeflow.svc.cluster.local:8899",
        ),
        (
            "CronJob fraud-ml/fraud-detection-monitor",
            "charts/fraud-detection/templates/cronjobs.yaml",
            "port 8899 of Service kubeflow/ml-pipeline",
        ),
    ),
    (
        "network-policy-peer",
        "network-policies",
        replace(
            "charts/fraud-detection/values.yaml",
            "      app: ml-pipeline\n",
            "      app: ml-pipelines\n",
        ),
        (
            "NetworkPolicy fraud-ml/fraud-detection-monitor",
            "charts/fraud-detection/templates/networkpolicies.yaml",
            "ml-pipelines",
        ),
    ),
    (
        "namespace",
        "namespaces",
        replace("k8s/jobs/workspace-init.yaml", "namespace: fraud-ml", "namespace: fraud-detect"),
        (
            "Job fraud-detect/workspace-init",
            "k8s/jobs/workspace-init.yaml",
            "namespace fraud-detect is never created",
        ),
    ),
    (
        "duplicate-crd",
        "crds",
        add_crd,
        (
            "httproutes.gateway.networking.k8s.io",
            "k8s/platform/gateway/httproute-crd.yaml",
            "standard-install.yaml",
        ),
    ),
    (
        "port-forward-vs-kind",
        "host-ports",
        map_port(8888),
        (
            "host port 8888",
            "svc/ml-pipeline 8888:8888",
            "scripts/deploy.sh",
            "k8s/kind/cluster.yaml",
        ),
    ),
    (
        "documented-port-forward",
        "host-ports",
        replace("docs/kind.md", "svc/ml-pipeline 8888:8888", "svc/ml-pipeline 8080:8888"),
        ("host port 8080", "docs/kind.md", "svc/ml-pipeline 8080:8888", "k8s/kind/cluster.yaml"),
    ),
    (
        "documented-service",
        "doc-references",
        replace("docs/kind.md", "svc/ml-pipeline 8888:8888", "svc/ml-pipeline-api 8888:8888"),
        ("docs/kind.md", "Service kubeflow/ml-pipeline-api"),
    ),
    (
        "unbuilt-image",
        "images",
        # The template, not values.yaml's default: deploy.sh passes the image by project.env's
        # name (--set jobs.image.repository), which wins over the default.
        replace(
            "charts/fraud-detection/templates/cronjobs.yaml",
            'printf "%s:%s" $v.jobs.image.repository',
            'printf "%s:%s" "fraud-detection-jobs"',
        ),
        (
            "CronJob fraud-ml/fraud-detection-monitor",
            "charts/fraud-detection/templates/cronjobs.yaml",
            "fraud-detection-jobs:0.1.0",
        ),
    ),
    (
        "unpinned-image",
        "images",
        replace(
            "k8s/versions.env",
            "REDIS_IMAGE=docker.io/library/redis:7.4.2-alpine",
            "REDIS_IMAGE=docker.io/library/redis:7.4.3-alpine",
        ),
        ("Deployment fraud-ml/redis", "k8s/platform/base/redis.yaml", "redis:7.4.2-alpine"),
    ),
    (
        "unbounded-loop",
        "loops-bounded",
        unbound_wait_job,
        ("scripts/lib.sh", "wait_job", "no limit"),
    ),
    (
        "e2e-budget",
        "e2e-budget",
        replace(".github/workflows/e2e-kind.yml", "timeout-minutes:", "timeout-minutes: 1 #"),
        (".github/workflows/e2e-kind.yml", "timeout-minutes 1 "),
    ),
]


@pytest.mark.parametrize(
    ("check", "edit", "phrases"), [pytest.param(*c[1:], id=c[0]) for c in CASES]
)
def test_check_catches_the_defect(
    check: str, edit: Edit, phrases: tuple[str, ...], tmp_path: Path
) -> None:
    assert_caught(findings_after(edit, check, tmp_path), *phrases)


def test_an_unbounded_command_is_caught(tmp_path: Path) -> None:
    """A command-level bound: kind-up.sh runs again with lib.sh's StatefulSet rollout waits
    unbounded."""
    root = copy_repo(tmp_path / "copy")
    replace("scripts/lib.sh", ' "$kind_name" --timeout="$timeout"', ' "$kind_name"')(root)
    again = rerun(recorded(), tmp_path / "work", root, "kind-up.sh")
    assert [r.returncode for r in again.runs] == [0], again.runs[0].stderr[-2000:]
    found = CHECKS["waits-bounded"](read_install(again), [])
    assert_caught(
        found,
        "scripts/kind-up.sh",
        "kubectl rollout status",
        "statefulset.apps/postgres",
        "no bound",
    )


def test_envoys_bundled_gateway_api_crds_are_caught(tmp_path: Path) -> None:
    """Defect 1 as it was: kind-up.sh applying `helm show crds` of gateway-helm unfiltered, over
    the standard-channel Gateway API install."""
    root = copy_repo(tmp_path / "copy")
    replace("scripts/kind-up.sh", "  crds_of_group gateway.envoyproxy.io |\n", "")(root)
    again = rerun(recorded(), tmp_path / "work", root, "kind-up.sh")
    assert [r.returncode for r in again.runs] == [0], again.runs[0].stderr[-2000:]
    found = CHECKS["crds"](read_install(again), [])
    assert_caught(
        found,
        "CustomResourceDefinition httproutes.gateway.networking.k8s.io",
        "release channels (experimental, standard)",
        "standard-install.yaml",
        "oci://docker.io/envoyproxy/gateway-helm (helm show crds)",
    )


def test_a_rendered_job_is_checked_against_its_template(tmp_path: Path) -> None:
    """The rollout Job rollout-job.sh renders (helm template of the installed release's values)
    is rendered again from the copy: a wrong ServiceAccount there names the template."""
    edit = replace(
        "charts/fraud-detection/templates/rollout-job.yaml",
        'serviceAccountName: {{ printf "%s-rollout" $fullname',
        'serviceAccountName: {{ printf "%s-rollouts" $fullname',
    )
    assert_caught(
        findings_after(edit, "service-accounts", tmp_path),
        "Job fraud-ml/fraud-detection-rollout-",
        "charts/fraud-detection/templates/rollout-job.yaml",
        "ServiceAccount fraud-ml/fraud-detection-rollouts",
    )


def test_two_port_forwards_on_one_port_are_caught(tmp_path: Path) -> None:
    """deploy.sh again, with a second port-forward to the same local port while the first runs."""
    root = copy_repo(tmp_path / "copy")
    # After `forward=$!`, so that deploy.sh still stops its own; no stdio kept open.
    second = "kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8888:80 >/dev/null 2>&1 &\n"
    replace("scripts/deploy.sh", "forward=$!\n", "forward=$!\n" + second)(root)
    again = rerun(recorded(), tmp_path / "work", root, "deploy.sh")
    try:
        found = CHECKS["host-ports"](read_install(again), [])
    finally:
        # The injected forward is never stopped by deploy.sh: stop it (its pid is recorded).
        for event in again.events:
            if event.get("op") == "port-forward-start" and "svc/ml-pipeline-ui" in event["argv"]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(event["pid"]), signal.SIGTERM)
    assert_caught(
        found,
        "host port 8888 is bound twice at once",
        "svc/ml-pipeline-ui 8888:80",
        "scripts/deploy.sh",
    )
