"""KFP v2 components of the training pipeline: thin adapters over `fraud_detection.training.steps`.

Every component runs in the project's pipeline image, which has this package installed
(`install_kfp_package=False`: kfp is in the image already). Locally, `kfp.local`'s
SubprocessRunner runs the same functions in the current virtual environment.
Imports sit inside each function because KFP ships only the function's source to the pod.
"""

from kfp import dsl
from kfp.dsl import Artifact, ClassificationMetrics, Dataset, Input, Metrics, Model, Output

# Built by `make images` and loaded into kind; see k8s/versions.env for the tag.
PIPELINE_IMAGE = "fraud-detection-pipeline:0.1.0"


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def ingest_data(
    transactions_path: str,
    data_fingerprint: str,
    validated: Output[Dataset],
    stats: Output[Metrics],
) -> None:
    """Validate raw transactions against the data contract (fails the run on any violation).

    `data_fingerprint` is the content hash of the input file: it makes cached results follow
    the data, not just its path.
    """
    from pathlib import Path

    from fraud_detection.training import steps

    summary = steps.ingest(Path(transactions_path), Path(validated.path))
    stats.log_metric("rows", summary["rows"])
    stats.log_metric("fraud_rate", summary["fraud_rate"])
    validated.metadata.update({**summary, "fingerprint": data_fingerprint})


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def build_training_set(
    validated: Input[Dataset],
    feature_repo: str,
    feature_service: str,
    features_fingerprint: str,
    training_set: Output[Dataset],
) -> list:  # type: ignore[type-arg]  # KFP accepts bare `list` only
    """Point-in-time join of each transaction with its Feast features; returns the feature names."""
    from pathlib import Path

    from fraud_detection.training import steps

    summary = steps.build_training_set(
        Path(validated.path), Path(feature_repo), feature_service, Path(training_set.path)
    )
    training_set.metadata.update({**summary, "features_fingerprint": features_fingerprint})
    return list(summary["features"])


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def train_model(
    training_set: Input[Dataset],
    looked_up: list,  # type: ignore[type-arg]
    holdout_days: int,
    validation_days: int,
    learning_rate: float,
    max_iter: int,
    max_leaf_nodes: int,
    seed: int,
    target_fpr: float,
    model: Output[Model],
) -> None:
    """Fit the classifier on the train split and pick its threshold on the validation split."""
    from pathlib import Path

    from fraud_detection.config import TrainingSettings
    from fraud_detection.training import steps

    params = TrainingSettings(
        holdout_days=holdout_days, validation_days=validation_days, learning_rate=learning_rate,
        max_iter=max_iter, max_leaf_nodes=max_leaf_nodes, seed=seed,
    )  # fmt: skip
    summary = steps.train(
        Path(training_set.path), tuple(looked_up), params, target_fpr, Path(model.path)
    )
    model.metadata.update({**summary, "framework": "scikit-learn"})


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def evaluate_model(
    model: Input[Model],
    training_set: Input[Dataset],
    holdout_days: int,
    validation_days: int,
    target_fpr: float,
    metrics: Output[Metrics],
    curves: Output[ClassificationMetrics],
    evaluation: Output[Artifact],
) -> None:
    """Holdout metrics, as KFP Metrics/ClassificationMetrics and as JSON for the gate."""
    import json
    from pathlib import Path

    from fraud_detection.config import TrainingSettings
    from fraud_detection.training import steps

    params = TrainingSettings(holdout_days=holdout_days, validation_days=validation_days)
    result = steps.evaluate_model(Path(model.path), Path(training_set.path), params, target_fpr)
    for name, value in result.metrics().items():
        metrics.log_metric(name, value)
    curves.log_roc_curve(result.roc["fpr"], result.roc["tpr"], result.roc["threshold"])
    curves.log_confusion_matrix(["legitimate", "fraud"], result.confusion)
    Path(evaluation.path).write_text(json.dumps(result.to_dict(), indent=2))


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def validation_gate(
    evaluation: Input[Artifact],
    training_set: Input[Dataset],
    registry_root: str,
    model_name: str,
    holdout_days: int,
    validation_days: int,
    target_fpr: float,
    min_roc_auc: float,
    min_pr_auc: float,
    min_recall_at_fpr: float,
    max_regression: float,
    decision: Output[Artifact],
) -> bool:
    """Absolute floors plus champion/challenger against the production model.

    Returns whether the candidate passed (a single bool output: `kfp.local` resolves `dsl.If`
    conditions on a task's main output); the full decision is the `decision` artifact.
    """
    import json
    from pathlib import Path

    from fraud_detection.config import GateSettings, TrainingSettings
    from fraud_detection.registry import ModelRegistry
    from fraud_detection.training import steps

    thresholds = GateSettings(
        target_fpr=target_fpr, min_roc_auc=min_roc_auc, min_pr_auc=min_pr_auc,
        min_recall_at_fpr=min_recall_at_fpr, max_regression=max_regression,
    )  # fmt: skip
    result = steps.gate(
        json.loads(Path(evaluation.path).read_text()),
        Path(training_set.path),
        TrainingSettings(holdout_days=holdout_days, validation_days=validation_days),
        ModelRegistry(Path(registry_root), model_name),
        thresholds,
    )
    for reason in result.reasons:
        print(f"gate: {reason}")
    Path(decision.path).write_text(json.dumps(result.to_dict(), indent=2))
    decision.metadata["passed"] = result.passed
    return result.passed


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def register_model(
    model: Input[Model],
    evaluation: Input[Artifact],
    training_set: Input[Dataset],
    decision: Input[Artifact],
    registry_root: str,
    model_name: str,
    holdout_days: int,
    validation_days: int,
    git_sha: str,
    data_fingerprint: str,
    promote: bool,
) -> str:
    """Register the gated model with its model card; returns the registry version."""
    import json
    from pathlib import Path

    from fraud_detection.config import TrainingSettings
    from fraud_detection.registry import ModelRegistry
    from fraud_detection.training import steps

    evaluation_data = json.loads(Path(evaluation.path).read_text())
    result = steps.register(
        Path(model.path),
        evaluation_data,
        json.loads(Path(decision.path).read_text()),
        Path(training_set.path),
        TrainingSettings(holdout_days=holdout_days, validation_days=validation_days),
        ModelRegistry(Path(registry_root), model_name),
        lineage={
            "git_sha": git_sha,
            "data_fingerprint": data_fingerprint,
            "model_metadata": dict(model.metadata),
        },
        promote=promote,
    )
    print(f"registered {model_name} version {result['version']} (promoted: {result['promoted']})")
    return str(result["version"])


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def package_model(
    registry_root: str,
    model_name: str,
    version: str,
    bentoml_home: str,
    project_root: str,
) -> str:
    """Save the registered version to the BentoML model store and build its Bento.

    `project_root` holds `serving/bentofile.yaml` and the sources the Bento bundles (the
    repository locally; /app in the pipeline image). Returns the Bento tag.
    """
    from pathlib import Path

    from fraud_detection.registry import ModelRegistry
    from fraud_detection.serving.package import package

    registered = ModelRegistry(Path(registry_root), model_name).get(version)
    tags = package(registered, Path(bentoml_home), Path(project_root))
    print(f"packaged {tags['model_tag']} as Bento {tags['bento_tag']}")
    return tags["bento_tag"]


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def rollout_canary(
    version: str,
    isvc_name: str,
    namespace: str,
    storage_uri_prefix: str,
    transactions_path: str,
    registry_root: str,
    model_name: str,
    rollout_settings: dict,  # type: ignore[type-arg]  # KFP accepts bare `dict` only
    target_fpr: float,
    seed: int,
) -> bool:
    """Canary the packaged version on the KServe InferenceService; promote or roll back.

    The same code as the in-cluster rollout Job (`fraud_detection.rollout.cluster_job`): a
    promotion moves the InferenceService and the registry's production pointer together.
    `rollout_settings` is the whole `RolloutSettings`, one JSON object (omitted keys keep
    their defaults). Needs a ServiceAccount allowed to get and patch InferenceServices in
    `namespace`. Returns True when the candidate was promoted.
    """
    import json
    from pathlib import Path

    from fraud_detection.registry import ModelRegistry
    from fraud_detection.rollout import cluster_job

    target = cluster_job.Target(
        isvc=isvc_name, namespace=namespace, storage_prefix=storage_uri_prefix,
        registry=ModelRegistry(Path(registry_root), model_name),
        rollout=cluster_job.parse_settings(json.dumps(rollout_settings)),
        transactions=Path(transactions_path), target_fpr=target_fpr, seed=seed,
    )  # fmt: skip
    production = target.registry.production()
    if production is not None and production.version == version:
        # A re-run that trained the same model again (same data, same parameters): the
        # content-addressed registry gave it production's version; there is nothing to roll out.
        print(f"{version} is production already: no canary")
        return True
    verdict = cluster_job.promote(target, version)
    cluster_job.report_verdict(verdict)
    return verdict.promote
