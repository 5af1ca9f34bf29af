"""Serve the production model on this machine, in the foreground (`fraud-detection serve`)."""

from __future__ import annotations

from fraud_detection.config import Settings
from fraud_detection.jobs.events import Notice, Report, discard
from fraud_detection.registry import ModelRegistry
from fraud_detection.serving import local_server
from fraud_detection.serving.model_store import save_to_bentoml


def serve(settings: Settings, port: int, report: Report = discard) -> int:
    """Serve production on all interfaces at `port` until the server exits; its exit status.

    Ctrl-C (KeyboardInterrupt) and SIGTERM (the SystemExit the CLI raises for it) reach the
    caller alone: leaving, this stops the server's whole process group, then the exception
    propagates (and sets the CLI's exit status, 130 or 143).

    Raises:
        NoProductionModelError: before the first promotion.
    """
    paths = settings.paths
    production = ModelRegistry(paths.registry, settings.model_name).require_production()
    tag = save_to_bentoml(production, paths.bentoml_home)
    env = local_server.bentoml_environment(paths.bentoml_home, paths.feature_repo)
    report(Notice(f"serving {tag} on http://127.0.0.1:{port} (Ctrl-C stops)"))
    return local_server.run_in_foreground(local_server.serve_command(tag, port), env)
