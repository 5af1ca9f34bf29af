"""KFP v2 components of the training pipeline: thin adapters over `fraud_detection.training.steps`.

Every component runs in the project's pipeline image, which has this package installed
(`install_kfp_package=False`: kfp is in the image already). Locally, `kfp.local`'s
SubprocessRunner runs the same functions in the current virtual environment.
Imports sit inside each function because KFP ships only the function's source to the pod.
Settings arrive as whole sections (`identity`, `ingest_settings`, `training_settings`,
`gate_settings`, `rollout_settings`: see `fraud_detection.pipeline.parameters`), paths as the
`workspace` they derive from (`config.Paths`); each step takes only the sections it reads.
"""

from kfp import dsl
from kfp.dsl import HTML, Artifact, ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from fraud_detection import __version__
from fraud_detection.identity import Identity


def pipeline_image() -> str:
    """project.env's PIPELINE_IMAGE (under IMAGE_REGISTRY) at the project's version: what
    `make images` builds and loads into kind."""
    identity = Identity.model_validate({})  # every name from project.env
    return identity.image(identity.pipeline_image, __version__)


# Read when the components are defined: the compiled pipeline names the image of the
# project.env it was compiled with.
PIPELINE_IMAGE = pipeline_image()


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def ingest_data(
    workspace: str,
    identity: dict,  # type: ignore[type-arg]
    ingest_settings: dict,  # type: ignore[type-arg]
    data_fingerprint: str,
    validated: Output[Dataset],
    stats: Output[Metrics],
) -> None:
    """Validate raw transactions against the data contract, and their distribution against
    production's reference snapshot (fails the run on any violation or departure, naming each;
    the distribution checks are skipped, with the reason logged, while there is no production).

    `data_fingerprint` is the content hash of the input file: it makes cached results follow
    the data, not just its path.
    """
    from pathlib import Path

    from fraud_detection.config import Paths
    from fraud_detection.pipeline import parameters
    from fraud_detection.registry import ModelRegistry
    from fraud_detection.training import data_steps

    paths = Paths(Path(workspace))
    summary = data_steps.ingest(
        paths.transactions,
        ModelRegistry(paths.registry, parameters.identity(identity).model_name),
        parameters.ingest(ingest_settings),
        Path(validated.path),
    )
    checked = summary["distribution"]
    print(f"distribution checks: {checked['status']}: "
          f"{checked.get('reason') or checked['reference']}")  # fmt: skip
    stats.log_metric("rows", summary["rows"])
    stats.log_metric("fraud_rate", summary["fraud_rate"])
    validated.metadata.update({**summary, "fingerprint": data_fingerprint})


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def build_training_set(
    validated: Input[Dataset],
    workspace: str,
    identity: dict,  # type: ignore[type-arg]  # KFP accepts bare `dict` only
    training_settings: dict,  # type: ignore[type-arg]
    features_fingerprint: str,
    training_set: Output[Dataset],
) -> list:  # type: ignore[type-arg]  # KFP accepts bare `list` only
    """Point-in-time join of each transaction after the feature warm-up with its Feast
    features; returns the feature names."""
    from pathlib import Path

    from fraud_detection.config import Paths
    from fraud_detection.pipeline import parameters
    from fraud_detection.training import data_steps

    summary = data_steps.build_training_set(
        Path(validated.path),
        Paths(Path(workspace)).feature_repo,
        parameters.identity(identity).feature_service,
        Path(training_set.path),
        parameters.training(training_settings).feature_warmup_days,
    )
    training_set.metadata.update({**summary, "features_fingerprint": features_fingerprint})
    return list(summary["features"])


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def train_model(
    training_set: Input[Dataset],
    looked_up: list,  # type: ignore[type-arg]
    training_settings: dict,  # type: ignore[type-arg]
    gate_settings: dict,  # type: ignore[type-arg]
    model: Output[Model],
) -> None:
    """Fit the classifier on the train split; calibrate it and pick its threshold on the
    validation split (the cheapest within the gate's FPR budget)."""
    from pathlib import Path

    from fraud_detection.pipeline import parameters
    from fraud_detection.training import steps

    gate = parameters.gate(gate_settings)
    summary = steps.train(
        Path(training_set.path),
        tuple(looked_up),
        parameters.training(training_settings),
        gate.target_fpr,
        Path(model.path),
        gate.false_alarm_cost,
    )
    model.metadata.update({**summary, "framework": "scikit-learn"})


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def evaluate_model(
    model: Input[Model],
    training_set: Input[Dataset],
    workspace: str,
    identity: dict,  # type: ignore[type-arg]
    training_settings: dict,  # type: ignore[type-arg]
    gate_settings: dict,  # type: ignore[type-arg]
    metrics: Output[Metrics],
    curves: Output[ClassificationMetrics],
    report: Output[HTML],
    evaluation: Output[Artifact],
    holdout_scores: Output[Dataset],
) -> None:
    """Holdout metrics, as KFP Metrics/ClassificationMetrics and as JSON for the gate, and the
    HTML evaluation report (production's curves beside the candidate's) the KFP UI shows; the
    candidate's and production's holdout scores, scored once here, for the gate and register.

    The report is written first and whole: if it cannot be built the step fails before the
    gate's inputs exist, so the gate never runs without it.
    """
    import json
    import shutil
    import tempfile
    from pathlib import Path

    from fraud_detection.config import Paths
    from fraud_detection.pipeline import parameters
    from fraud_detection.registry import ModelRegistry
    from fraud_detection.training import steps

    training, gate = parameters.training(training_settings), parameters.gate(gate_settings)
    registry = ModelRegistry(
        Paths(Path(workspace)).registry, parameters.identity(identity).model_name
    )
    with tempfile.TemporaryDirectory() as tmp:  # the scores reach their output last
        scores = Path(tmp) / "scores"
        result = steps.evaluate_step(
            Path(model.path), Path(training_set.path), training, gate, registry,
            Path(report.path), scores,
        )  # fmt: skip
        for name, value in result.metrics().items():
            metrics.log_metric(name, value)
        curves.log_roc_curve(result.roc["fpr"], result.roc["tpr"], result.roc["threshold"])
        curves.log_confusion_matrix(["legitimate", "fraud"], result.confusion)
        Path(evaluation.path).write_text(json.dumps(result.to_dict(), indent=2))
        Path(holdout_scores.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(scores, holdout_scores.path)


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def validation_gate(
    model: Input[Model],
    evaluation: Input[Artifact],
    training_set: Input[Dataset],
    holdout_scores: Input[Dataset],
    workspace: str,
    identity: dict,  # type: ignore[type-arg]
    training_settings: dict,  # type: ignore[type-arg]
    gate_settings: dict,  # type: ignore[type-arg]
    decision: Output[Artifact],
) -> bool:
    """Absolute floors, the operating point at the model's threshold, and champion/challenger
    against the production model (a paired, customer-clustered bootstrap on the same holdout).

    Returns whether the candidate passed (a single bool output: `kfp.local` resolves `dsl.If`
    conditions on a task's main output); the full decision is the `decision` artifact.
    """
    import json
    from pathlib import Path

    from fraud_detection.config import Paths
    from fraud_detection.pipeline import parameters
    from fraud_detection.registry import ModelRegistry
    from fraud_detection.training import steps

    registry = Paths(Path(workspace)).registry
    result = steps.gate(
        Path(model.path),
        json.loads(Path(evaluation.path).read_text()),
        Path(training_set.path),
        parameters.training(training_settings),
        ModelRegistry(registry, parameters.identity(identity).model_name),
        parameters.gate(gate_settings),
        Path(holdout_scores.path),
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
    report: Input[HTML],
    training_set: Input[Dataset],
    holdout_scores: Input[Dataset],
    decision: Input[Artifact],
    workspace: str,
    identity: dict,  # type: ignore[type-arg]
    training_settings: dict,  # type: ignore[type-arg]
    git_sha: str,
    data_fingerprint: str,
    promote: bool,
) -> str:
    """Register the gated model with its model card and evaluation report; returns the
    registry version."""
    import json
    from pathlib import Path

    from fraud_detection.config import Paths
    from fraud_detection.pipeline import parameters
    from fraud_detection.registry import ModelRegistry
    from fraud_detection.training import steps

    model_name = parameters.identity(identity).model_name
    evaluation_data = json.loads(Path(evaluation.path).read_text())
    result = steps.register(
        Path(model.path),
        evaluation_data,
        json.loads(Path(decision.path).read_text()),
        Path(training_set.path),
        parameters.training(training_settings),
        ModelRegistry(Paths(Path(workspace)).registry, model_name),
        lineage={
            "git_sha": git_sha,
            "data_fingerprint": data_fingerprint,
            "feature_service": parameters.identity(identity).feature_service,
            "model_metadata": dict(model.metadata),
        },
        promote=promote,
        report_path=Path(report.path),
        scores_path=Path(holdout_scores.path),
    )
    print(f"registered {model_name} version {result['version']} (promoted: {result['promoted']})")
    return str(result["version"])


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def package_model(
    workspace: str,
    identity: dict,  # type: ignore[type-arg]
    version: str,
) -> str:
    """Save the registered version to the BentoML model store and build its Bento.

    The Bento bundles the project sources this package is installed from (the checkout
    locally; /app in the pipeline image), with their `serving/bentofile.yaml`. Returns the
    Bento tag.
    """
    from pathlib import Path

    from fraud_detection.config import Paths
    from fraud_detection.pipeline import parameters
    from fraud_detection.registry import ModelRegistry
    from fraud_detection.serving.package import package

    paths = Paths(Path(workspace))
    registry = ModelRegistry(paths.registry, parameters.identity(identity).model_name)
    tags = package(registry.get(version), paths.bentoml_home, parameters.source_root())
    print(f"packaged {tags['model_tag']} as Bento {tags['bento_tag']}")
    return tags["bento_tag"]


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def rollout_canary(
    version: str,
    isvc_name: str,
    namespace: str,
    storage_uri_prefix: str,
    workspace: str,
    identity: dict,  # type: ignore[type-arg]
    training_settings: dict,  # type: ignore[type-arg]
    gate_settings: dict,  # type: ignore[type-arg]
    rollout_settings: dict,  # type: ignore[type-arg]
    pushgateway_url: str = "",
) -> bool:
    """Canary the packaged version on the KServe InferenceService; promote or roll back.

    The same code as the in-cluster rollout Job (`fraud_detection.rollout.cluster_job`): a
    promotion moves the InferenceService and the registry's production pointer together.
    `rollout_settings` is the whole `RolloutSettings` (omitted keys keep their defaults); the
    probe scores at the gate's FPR budget with the training seed. Needs a ServiceAccount allowed
    to get and patch InferenceServices in `namespace`. The outcome is pushed to
    `pushgateway_url` when one is given (the monitor passes its own). Returns True when the
    candidate was promoted.
    """
    import os
    from pathlib import Path

    from fraud_detection.config import Paths
    from fraud_detection.pipeline import parameters
    from fraud_detection.registry import ModelRegistry
    from fraud_detection.rollout import cluster_job

    paths = Paths(Path(workspace))
    target = cluster_job.Target(
        isvc=isvc_name, namespace=namespace, storage_prefix=storage_uri_prefix,
        registry=ModelRegistry(paths.registry, parameters.identity(identity).model_name),
        rollout=parameters.rollout(rollout_settings), transactions=paths.transactions,
        target_fpr=parameters.gate(gate_settings).target_fpr,
        seed=parameters.training(training_settings).seed,
    )  # fmt: skip
    production = target.registry.production()
    if production is not None and production.version == version:
        # A re-run that trained the same model again (same data, same parameters): the
        # content-addressed registry gave it production's version; there is nothing to roll out.
        print(f"{version} is production already: no canary")
        return True
    if pushgateway_url:
        from fraud_detection.monitoring.push import URL_VARIABLE

        os.environ[URL_VARIABLE] = pushgateway_url
    verdict = cluster_job.promote(target, version)
    cluster_job.report_verdict(verdict)
    cluster_job.publish_outcome(verdict)
    return verdict.promote
