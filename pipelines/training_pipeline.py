"""The training pipeline: ingest → training set → train → evaluate → gate → register → package.

Compile for the cluster with `make pipeline` (or `python -m pipelines.training_pipeline OUT`);
run locally with `kfp.local` through `pipelines.run_local`. Both use the same components.
Nothing is registered unless the gate passes; a failing step stops the run before it.
"""

import sys
from pathlib import Path

from kfp import compiler, dsl, kubernetes
from kfp.dsl import Artifact

from fraud_detection.config import GateSettings, Settings, TrainingSettings
from pipelines.components import (
    build_training_set,
    evaluate_model,
    ingest_data,
    package_model,
    register_model,
    rollout_canary,
    train_model,
    validation_gate,
)

PIPELINE_NAME = "fraud-detection-training"
_T, _G, _S = TrainingSettings(), GateSettings(), Settings.model_fields
# Where the cluster mounts the shared workspace volume (data, feature repo, registry).
CLUSTER_WORKSPACE = "/workspace"
# The claim behind it, in the namespace KFP runs pipeline pods in (k8s/platform/base/storage.yaml).
WORKSPACE_CLAIM = "fraud-workspace"
# Where the pipeline image keeps the project sources the package step builds a Bento from.
PIPELINE_IMAGE_SOURCE = "/app"


def _on_workspace(task: dsl.PipelineTask) -> None:
    """Mount the shared workspace volume on the cluster (kfp.local ignores this and runs
    against local paths)."""
    kubernetes.mount_pvc(task, pvc_name=WORKSPACE_CLAIM, mount_path=CLUSTER_WORKSPACE)


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Train, evaluate and gate the card-fraud model; register it if it passes.",
)
def training_pipeline(
    transactions_path: str = f"{CLUSTER_WORKSPACE}/data/raw/transactions.parquet",
    feature_repo: str = f"{CLUSTER_WORKSPACE}/feature_repo",
    registry_root: str = f"{CLUSTER_WORKSPACE}/artifacts/registry",
    bentoml_home: str = f"{CLUSTER_WORKSPACE}/artifacts/bentoml",
    project_root: str = PIPELINE_IMAGE_SOURCE,
    model_name: str = str(_S["model_name"].default),
    feature_service: str = str(_S["feature_service"].default),
    data_fingerprint: str = "",
    features_fingerprint: str = "",
    holdout_days: int = _T.holdout_days,
    validation_days: int = _T.validation_days,
    learning_rate: float = _T.learning_rate,
    max_iter: int = _T.max_iter,
    max_leaf_nodes: int = _T.max_leaf_nodes,
    seed: int = _T.seed,
    target_fpr: float = _G.target_fpr,
    min_roc_auc: float = _G.min_roc_auc,
    min_pr_auc: float = _G.min_pr_auc,
    min_recall_at_fpr: float = _G.min_recall_at_fpr,
    max_regression: float = _G.max_regression,
    git_sha: str = "unknown",
    promote: bool = True,
    rollout: str = "none",
    isvc_name: str = "fraud-detection",
    namespace: str = "fraud-ml",
    model_storage_prefix: str = "pvc://fraud-workspace/artifacts/registry/fraud-detector/versions",
    # Empty: RolloutSettings' own defaults, read where the step runs (config.py is their one
    # source); a submitter sends the whole object, e.g. `Settings().rollout.model_dump()`.
    rollout_settings: dict = {},  # type: ignore[type-arg]  # noqa: B006
) -> Artifact:
    """`rollout="kserve"` adds the last step: a canary of the new model on the cluster's
    InferenceService (with `promote=False`, so that only the canary decides; a promotion moves
    the registry's production pointer with the InferenceService). `rollout_settings` is the
    whole `RolloutSettings` as one JSON object: every `rollout.*` setting reaches the cluster."""
    ingest = ingest_data(transactions_path=transactions_path, data_fingerprint=data_fingerprint)
    dataset = build_training_set(
        validated=ingest.outputs["validated"],
        feature_repo=feature_repo,
        feature_service=feature_service,
        features_fingerprint=features_fingerprint,
    )
    split = {"holdout_days": holdout_days, "validation_days": validation_days}
    train = train_model(
        training_set=dataset.outputs["training_set"],
        looked_up=dataset.outputs["Output"],
        learning_rate=learning_rate,
        max_iter=max_iter,
        max_leaf_nodes=max_leaf_nodes,
        seed=seed,
        target_fpr=target_fpr,
        **split,
    )
    evaluate = evaluate_model(
        model=train.outputs["model"],
        training_set=dataset.outputs["training_set"],
        target_fpr=target_fpr,
        **split,
    )
    gate = validation_gate(
        evaluation=evaluate.outputs["evaluation"],
        training_set=dataset.outputs["training_set"],
        registry_root=registry_root,
        model_name=model_name,
        target_fpr=target_fpr,
        min_roc_auc=min_roc_auc,
        min_pr_auc=min_pr_auc,
        min_recall_at_fpr=min_recall_at_fpr,
        max_regression=max_regression,
        **split,
    )
    # The registry is mutable state: these two must always run, never come from the cache.
    gate.set_caching_options(False)
    with dsl.If(gate.outputs["Output"] == True):  # noqa: E712  (KFP condition syntax)
        register = register_model(
            model=train.outputs["model"],
            evaluation=evaluate.outputs["evaluation"],
            training_set=dataset.outputs["training_set"],
            decision=gate.outputs["decision"],
            registry_root=registry_root,
            model_name=model_name,
            git_sha=git_sha,
            data_fingerprint=data_fingerprint,
            promote=promote,
            **split,
        )
        register.set_caching_options(False)
        packaged = package_model(
            registry_root=registry_root,
            model_name=model_name,
            version=register.output,
            bentoml_home=bentoml_home,
            project_root=project_root,
        )
        packaged.set_caching_options(False)
        with dsl.If(rollout == "kserve"):
            canary = rollout_canary(
                version=register.output,
                isvc_name=isvc_name,
                namespace=namespace,
                storage_uri_prefix=model_storage_prefix,
                transactions_path=transactions_path,
                registry_root=registry_root,
                model_name=model_name,
                rollout_settings=rollout_settings,
                target_fpr=target_fpr,
                seed=seed,
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
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "pipelines/compiled/training_pipeline.yaml")
    print(f"compiled {compile_pipeline(target)}")
