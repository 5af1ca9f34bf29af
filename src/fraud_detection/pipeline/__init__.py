"""The training pipeline on Kubeflow Pipelines: its components, its definition, and a local run."""
