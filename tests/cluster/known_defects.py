"""Findings of the whole-install check in the current repository, each a defect to fix.

Each is an expected failure of its own test (strict: when the defect is fixed the test passes,
the suite fails, and the entry here must go). A finding not listed fails `make verify-cluster`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Known:
    id: str
    check: str
    phrases: tuple[str, ...]  # all of them appear in the finding
    reason: str

    def matches(self, check: str, finding: str) -> bool:
        return check == self.check and all(p in finding for p in self.phrases)


KNOWN = [
    Known(
        "docs-kfp-ui-port",
        "host-ports",
        ("docs/kind.md", "svc/ml-pipeline-ui 8080:80", "hostPort 8080"),
        "docs/kind.md's KFP UI port-forward uses localhost:8080, which kind's extraPortMapping "
        "holds "
        "for the Gateway while the cluster exists (kind-up.sh's last log line suggests it too)",
    ),
    Known(
        "deploy-delete-wait",
        "waits-bounded",
        ("scripts/deploy.sh", "kubectl delete job", "--wait"),
        "deploy.sh's `kubectl delete job ... --wait` has no --timeout: kubectl then waits up to "
        "a week",
    ),
    Known(
        "deploy-healthz-curl",
        "waits-bounded",
        ("scripts/deploy.sh", "curl", "healthz"),
        "deploy.sh's KFP health probe (under retry 15 2) has no --max-time: one hung connection "
        "waits forever",
    ),
    Known(
        "e2e-step-kind-up",
        "e2e-budget",
        (".github/workflows/e2e-kind.yml", "waits of kind-up.sh"),
        "defect 6: the `make kind-up` step's timeout-minutes is below kind-up.sh's own waits "
        "(each of KFP's Deployments has 15 min, one after another)",
    ),
    Known(
        "e2e-step-deploy",
        "e2e-budget",
        (".github/workflows/e2e-kind.yml", "waits of deploy.sh"),
        "defect 6: the `make deploy` step's timeout-minutes is below deploy.sh's waits "
        "(two of which have no bound at all)",
    ),
    Known(
        "e2e-step-e2e",
        "e2e-budget",
        (".github/workflows/e2e-kind.yml", "waits of e2e.sh"),
        "defect 6: the `make e2e` step's timeout-minutes is below e2e.sh's waits "
        "(its rollout Jobs, the monitor Job, 550 requests of up to 10 s)",
    ),
    Known(
        "e2e-job",
        "e2e-budget",
        (".github/workflows/e2e-kind.yml", "job e2e: timeout-minutes"),
        "defect 6: the e2e job's timeout-minutes is below the sum of its steps' waits and limits",
    ),
]
