# The pipeline image: the project's package (training, features, monitoring, retraining), the
# Feast and KFP CLIs, the compiled pipeline and the sources the package step builds a Bento
# from. The KFP components, the monitor and materialization CronJobs and the workspace-init Job
# all run it. Build from the repository root (scripts/images.sh passes the pinned base):
#   docker build -f k8s/images/pipeline.Dockerfile --build-arg PYTHON_IMAGE=... -t ... .
#
# checkov:skip=CKV_DOCKER_7: the base comes from PYTHON_IMAGE in k8s/versions.env, pinned with a version tag (tests/static/test_versions.py checks it)
# checkov:skip=CKV_DOCKER_2: the image runs Jobs and pipeline steps that exit, not a server; Kubernetes watches them by exit code
ARG PYTHON_IMAGE
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Writable under a read-only root filesystem (the pods mount an emptyDir at /tmp).
    HOME=/tmp

WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
# The project's names, at /app above the editable package (fraud_detection.identity reads them).
COPY project.env ./
COPY src ./src
COPY pipelines/compiled ./pipelines/compiled
COPY serving ./serving
COPY monitoring ./monitoring
COPY feature_repo ./feature_repo

# Installed with the same pins as every other environment (requirements.lock as constraints),
# editable so that the package step finds the project sources at /app, as in a checkout.
# UID/GID 1034 owns the shared workspace volume (scripts/kind-up.sh) and matches the serving
# image's bentoml user.
RUN pip install --constraint requirements.lock --editable . \
    && groupadd --gid 1034 app \
    && useradd --uid 1034 --gid 1034 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin app

USER 1034:1034
CMD ["fraud-detection", "--help"]
