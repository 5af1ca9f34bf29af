"""`make verify-cluster`: the cluster scripts run end to end against recording stand-ins
(recorder.py), and the install they describe is checked as a whole (checks.py): references
resolve, no CRD comes twice, no host port is bound twice, every image is built or pinned, every
wait is bounded and the e2e path fits its workflow's limit.

The recording is made once per session and shared with test_checks_bite.py.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import yaml
from checks import CHECKS
from doc_commands import DocCommand, doc_commands
from images_check import built, loaded
from install_record import Install, read_install
from known_defects import KNOWN, Known
from ports_check import kind_mappings, script_forwards
from recorder import recorded

from fraud_detection.identity import Identity

REPO_ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def install() -> Install:
    return read_install(recorded())


@functools.cache
def documented() -> list[DocCommand]:
    return doc_commands(install().root)


def findings(check: str) -> list[str]:
    return CHECKS[check](install(), documented())


def test_every_script_runs_to_the_end_against_the_standins() -> None:
    runs = recorded().runs
    assert [r.script for r in runs][:4] == ["kind-up.sh", "images.sh", "deploy.sh", "e2e.sh"]
    for run in runs:
        assert run.returncode == 0, (
            f"scripts/{run.script} exited {run.returncode}:\n{run.stderr[-3000:]}"
        )


def test_the_recording_holds_the_whole_install() -> None:
    """Not a vacuous pass: the objects, port-forwards and images each check reads are there."""
    found = install()
    for kind, namespace, name in [
        ("InferenceService", "fraud-ml", "fraud-detection"),
        ("Job", "fraud-ml", "workspace-init"),
        ("CronJob", "fraud-ml", "fraud-detection-monitor"),
        ("PersistentVolumeClaim", "kubeflow", "fraud-workspace"),
        ("Secret", "fraud-ml", "feast-connection"),
        ("Gateway", "kserve", "kserve-ingress-gateway"),
        ("CustomResourceDefinition", "", "httproutes.gateway.networking.k8s.io"),
        ("CustomResourceDefinition", "", "envoyproxies.gateway.envoyproxy.io"),
        ("Service", "kubeflow", "ml-pipeline"),
    ]:
        assert found.find(kind, namespace, name), (
            f"{kind} {namespace}/{name} missing from the recording"
        )
    assert any(o.kind == "KFPPipelineRun" for o in found.objects), "no pipeline submitted"
    assert any(o.kind == "Job" and o.origin.endswith("rollout-job.yaml") for o in found.objects), (
        "no rollout Job rendered from the chart"
    )
    assert kind_mappings(found) and script_forwards(found)
    identity = Identity()
    chart = REPO_ROOT / "charts" / identity.chart_name / "Chart.yaml"
    version = yaml.safe_load(chart.read_text())["appVersion"]
    own = {
        identity.image(identity.pipeline_image, version),
        identity.image(identity.serving_image, version),
    }
    assert own <= built(found) & loaded(found)
    assert any(c.words[:2] == ["kubectl", "port-forward"] for c in documented())


@pytest.mark.parametrize("check", CHECKS)
def test_whole_install(check: str) -> None:
    new = [f for f in findings(check) if not any(k.matches(check, f) for k in KNOWN)]
    assert not new, "\n".join(new)


@pytest.mark.parametrize(
    "known",
    [
        pytest.param(k, id=k.id, marks=pytest.mark.xfail(strict=True, reason=k.reason))
        for k in KNOWN
    ],
)
def test_known_defect_is_fixed(known: Known) -> None:
    """Expected to fail while the defect is there: when it is fixed, remove its entry."""
    assert not [f for f in findings(known.check) if known.matches(known.check, f)]
