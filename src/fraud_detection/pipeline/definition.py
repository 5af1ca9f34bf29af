"""The training pipeline: ingest → training set → train → evaluate → gate → register → package.

Compile for the cluster with `make pipeline` (or `python -m fraud_detection.pipeline.definition
OUT`); run locally with `kfp.local` through `fraud_detection.pipeline.local_run`. Both use the
same components. Nothing is registered unless the gate passes; a failing step stops the run
before it.

The pipeline's name, the image of its steps and the defaults of the rollout target (namespace,
InferenceService, model URIs) come from project.env (`Identity`) when the pipeline is compiled.
"""

import sys
from pathlib import Path

from kfp import compiler, dsl, kubernetes
from kfp.dsl import Artifact

from fraud_detection.config import Settings
from fraud_detection.identity import Identity
from fraud_detection.pipeline.components import (
    build_training_set,
    evaluate_model,
    ingest_data,
    package_model,
    register_model,
    rollout_canary,
    train_model,
    validation_gate,
)

_IDENTITY = Identity.model_validate({})  # every name from project.env
PIPELINE_NAME = _IDENTITY.pipeline_name
# Where the cluster mounts the shared workspace volume (data, feature repo, registry).
CLUSTER_WORKSPACE = "/workspace"
# The claim behind it, in the namespace KFP runs pipeline pods in (k8s/platform/base/storage.yaml).
WORKSPACE_CLAIM = "fraud-workspace"
# The registry's versions as KServe reads them: the claim of the same name in the application
# namespace, at the registry's place in the workspace (config.Paths).
MODEL_STORAGE_PREFIX = f"pvc://{WORKSPACE_CLAIM}/artifacts/registry/{_IDENTITY.model_name}/versions"


def _on_workspace(task: dsl.PipelineTask) -> None:
    """Mount the shared workspace volume on the cluster (kfp.local ignores this and runs
    against local paths)."""
    kubernetes.mount_pvc(task, pvc_name=WORKSPACE_CLAIM, mount_path=CLUSTER_WORKSPACE)


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Train, evaluate and gate the card-fraud model; register it if it passes.",
)
def training_pipeline(
    workspace: str = CLUSTER_WORKSPACE,
    # One JSON object per settings section (fraud_detection.pipeline.parameters): empty takes
    # the section's defaults from config.py where the step runs; keys given override them.
    identity: dict = {},  # type: ignore[type-arg]  # noqa: B006  (KFP accepts bare `dict` only)
    ingest_settings: dict = {},  # type: ignore[type-arg]  # noqa: B006
    training_settings: dict = {},  # type: ignore[type-arg]  # noqa: B006
    gate_settings: dict = {},  # type: ignore[type-arg]  # noqa: B006
    rollout_settings: dict = {},  # type: ignore[type-arg]  # noqa: B006
    data_fingerprint: str = "",
    features_fingerprint: str = "",
    git_sha: str = "unknown",
    promote: bool = True,
    rollout: str = "none",
    isvc_name: str = _IDENTITY.release_name,
    namespace: str = _IDENTITY.app_namespace,
    model_storage_prefix: str = MODEL_STORAGE_PREFIX,
    pushgateway_url: str = "",
) -> Artifact:
    """`workspace` is `Settings.workspace` (every path derives from it); `identity`,
    `ingest_settings`, `training_settings`, `gate_settings` and `rollout_settings` are
    `Settings.identity`, `.ingest`, `.training`, `.gate` and `.rollout`, each validated by its
    model where the step runs, so every setting in those sections reaches the cluster.
    `rollout="kserve"` adds the last step: a canary of the new model on the InferenceService
    `isvc_name` in `namespace` (the chart names it after the release), with `promote=False`, so
    that only the canary decides; a promotion moves the registry's production pointer with the
    InferenceService. Its outcome is pushed to `pushgateway_url`, when given (the monitor
    passes its own, so FraudCanaryRolledBack fires on the cluster too)."""
    ingest = ingest_data(
        workspace=workspace,
        identity=identity,
        ingest_settings=ingest_settings,
        data_fingerprint=data_fingerprint,
    )
    # Its distribution checks compare with production's reference, which changes between runs.
    ingest.set_caching_options(False)
    dataset = build_training_set(
        validated=ingest.outputs["validated"],
        workspace=workspace,
        identity=identity,
        training_settings=training_settings,
        features_fingerprint=features_fingerprint,
    )
    sections = {"training_settings": training_settings, "gate_settings": gate_settings}
    train = train_model(
        training_set=dataset.outputs["training_set"],
        looked_up=dataset.outputs["Output"],
        **sections,
    )
    evaluate = evaluate_model(
        model=train.outputs["model"],
        training_set=dataset.outputs["training_set"],
        workspace=workspace,
        identity=identity,
        **sections,
    )
    # Its report draws production's curves, and production changes between runs.
    evaluate.set_caching_options(False)
    gate = validation_gate(
        model=train.outputs["model"],
        evaluation=evaluate.outputs["evaluation"],
        training_set=dataset.outputs["training_set"],
        holdout_scores=evaluate.outputs["holdout_scores"],
        workspace=workspace,
        identity=identity,
        **sections,
    )
    # The registry is mutable state: the steps that read it must always run, never come from
    # the cache.
    gate.set_caching_options(False)
    with dsl.If(gate.outputs["Output"] == True):  # noqa: E712  (KFP condition syntax)
        register = register_model(
            model=train.outputs["model"],
            evaluation=evaluate.outputs["evaluation"],
            report=evaluate.outputs["report"],
            training_set=dataset.outputs["training_set"],
            holdout_scores=evaluate.outputs["holdout_scores"],
            decision=gate.outputs["decision"],
            workspace=workspace,
            identity=identity,
            training_settings=training_settings,
            git_sha=git_sha,
            data_fingerprint=data_fingerprint,
            promote=promote,
        )
        register.set_caching_options(False)
        packaged = package_model(workspace=workspace, identity=identity, version=register.output)
        packaged.set_caching_options(False)
        with dsl.If(rollout == "kserve"):
            canary = rollout_canary(
                version=register.output,
                isvc_name=isvc_name,
                namespace=namespace,
                storage_uri_prefix=model_storage_prefix,
                workspace=workspace,
                identity=identity,
                rollout_settings=rollout_settings,
                pushgateway_url=pushgateway_url,
                **sections,
            ).after(packaged)
            canary.set_caching_options(False)
    for task in (ingest, dataset, train, evaluate, gate, register, packaged, canary):
        _on_workspace(task)
    return gate.outputs["decision"]


def compile_pipeline(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(training_pipeline, str(out))
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Settings().paths.compiled_pipeline
    print(f"compiled {compile_pipeline(target)}")
