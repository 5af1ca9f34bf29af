# Every target bootstraps what it needs: `make demo` and `make test` work on a fresh clone.
# `make help` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# The project's names (project.env's KEY=value lines). Not `include project.env`: each is only a
# default, so that one set in the environment wins (APP_NAMESPACE=x make deploy), as in lib.sh.
$(foreach pair,$(shell grep -E '^[A-Z_]+=' project.env),\
  $(eval $(word 1,$(subst =, ,$(pair))) ?= $(word 2,$(subst =, ,$(pair)))))

VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
CLI := $(BIN)/$(PROJECT_SLUG)
PYTEST_ARGS ?=
# `make test`'s pytest workers: one a core, at most four (`auto`; each more builds the session's
# trained workspace again, for little gain: the longest test file takes two minutes). Each worker
# gets whole files, so a file's shared fixtures are built once. TEST_WORKERS=0: one process.
TEST_WORKERS ?= auto

.PHONY: help demo data features feast-apply feast-materialize train pipeline serve canary bentos \
        tools test test-slow lint format bench bench-serving bench-model bench-features bench-world bench-monitoring bench-load monitor lock clean \
        backtest bench-backtest bench-monitor-detection bench-gate bench-canary \
        observe cluster-logs promote rollback
# >>> kind
.PHONY: kind-up kind-down images deploy e2e verify-cluster
# <<< kind

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(INSTALLED): pyproject.toml requirements.lock scripts/bootstrap.sh
	scripts/bootstrap.sh

demo: $(INSTALLED) ## The whole loop embedded: data, features, KFP pipeline, BentoML serving, canary
	$(CLI) demo

data: $(INSTALLED) ## Generate synthetic transactions (DRIFT=amount_scale=2 to shift them)
	$(CLI) generate $(if $(DRIFT),--drift $(DRIFT),)

features: $(INSTALLED) ## Build feature tables, feast apply, materialize into the online store
	$(CLI) features

feast-apply: $(INSTALLED) ## Register the feature repo with the Feast CLI (after `make features`)
	cd feature_repo && ../$(BIN)/feast apply

feast-materialize: $(INSTALLED) ## Load new feature values online with the Feast CLI
	cd feature_repo && ../$(BIN)/feast materialize-incremental "$$(date -u +%Y-%m-%dT%H:%M:%S)"

train: $(INSTALLED) ## Run the training pipeline locally with kfp.local
	$(CLI) train

backtest: $(INSTALLED) ## Replay split, fit and holdout at 3 past cutoffs: PR-AUC and recall at the FPR budget, mean ± SD
	$(CLI) backtest

pipeline: $(INSTALLED) ## Compile the training pipeline to pipelines/compiled/training_pipeline.yaml
	$(CLI) compile

serve: $(INSTALLED) ## Serve the production model with BentoML on http://127.0.0.1:3000
	$(CLI) serve

observe: $(INSTALLED) ## Prometheus, Alertmanager, Pushgateway on loopback, alerts to artifacts/observe/alerts.jsonl
	scripts/observe.sh

canary: $(INSTALLED) ## Canary the newest registered candidate against production (local servers)
	$(CLI) canary

bentos: $(INSTALLED) ## List the Bentos the pipeline's package step built (for `bentoml containerize`)
	BENTOML_HOME=artifacts/bentoml $(BIN)/bentoml list

tools: ## Install what the tests use: Redis, PostgreSQL, chromium, shellcheck, Prometheus, helm, kubectl, actionlint, checkov
	scripts/tools.sh >/dev/null

# `tools` comes first: every system package a test uses is installed before pytest starts.
test: tools $(INSTALLED) lint ## Install the test tools, lint, type-check, run the tests (slow ones excluded)
	$(BIN)/pytest -m "not slow" -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile $(PYTEST_ARGS)

# >>> kind
# Also part of `make test` (pytest collects tests/cluster); this runs it alone.
verify-cluster: $(INSTALLED) ## The cluster scripts end to end against recording stand-ins; the install checked whole
	$(BIN)/pytest tests/cluster $(PYTEST_ARGS)
# <<< kind

test-slow: tools $(INSTALLED) ## Run only the slow, opt-in tests (FRAUD_SOAK_SECONDS sets the soak)
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

lint: $(INSTALLED) ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(CLI) compile --check

format: $(INSTALLED) ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(INSTALLED) ## Time the embedded loop at two dataset sizes
	$(BIN)/python bench/embedded_loop.py

bench-serving: $(INSTALLED) ## Compiled vs scikit-learn model, Scorer.score, six servers under load (own workspace)
	$(BIN)/python bench/serving_stacks.py

bench-model: $(INSTALLED) ## Model runtimes side by side: scikit-learn, treelite, onnxruntime (if installed); reason codes' cost
	$(BIN)/python bench/model_runtimes.py
	$(BIN)/python bench/reason_codes.py

bench-features: $(INSTALLED) ## PR-AUC of a replayed week: real-time velocity against stale batch aggregates
	$(BIN)/python bench/feature_freshness.py

bench-world: $(INSTALLED) ## How hard the synthetic world is: prevalence, single-feature AUCs, model PR-AUC (95 % CI), costs
	$(BIN)/python bench/world.py

bench-backtest: $(INSTALLED) ## Delayed labels on the default data: holdout fraud labelled with and without the gap; the backtest
	$(BIN)/python bench/backtest.py

bench-gate: $(INSTALLED) ## The gate's clustered bootstrap on the default holdout: noise, time, old rule vs new
	$(BIN)/python bench/gate_bootstrap.py

bench-canary: $(INSTALLED) ## The canary's probe noise on the default data: five reseeded retrains, a worse model
	$(BIN)/python bench/canary_noise.py

bench-monitoring: $(INSTALLED) ## Time the drift job at 100k and 1M logged rows
	$(BIN)/python bench/monitoring_job.py

bench-monitor-detection: $(INSTALLED) ## Monitor false alarms and detections: 200 windows per shift at two sizes, Wilson intervals
	$(BIN)/python bench/monitor_detection.py

bench-load: $(INSTALLED) ## Bounded load on the local service: throughput, p50/p99, errors
	$(BIN)/python bench/load.py

monitor: $(INSTALLED) ## Check the prediction log for drift and quality loss (RETRAIN=1 to act)
	$(CLI) monitor $(if $(RETRAIN),--retrain,)

# >>> kind
kind-up: $(INSTALLED) ## Create the kind cluster and install KServe, KFP, Redis, PostgreSQL (docs/kind.md)
	scripts/kind-up.sh

kind-down: ## Delete the kind cluster
	scripts/kind-down.sh

images: $(INSTALLED) ## Build the pipeline and serving images and load them into kind
	scripts/images.sh

deploy: $(INSTALLED) ## Seed the workspace, install the chart, run the pipeline on KFP (canary)
	scripts/deploy.sh

e2e: ## Traffic through the gateway, traffic split, one monitor run (logs on failure)
	scripts/e2e.sh
# <<< kind

cluster-logs: ## Collect pods, events and logs into artifacts/cluster-logs/
	scripts/cluster-logs.sh

promote: $(INSTALLED) ## Canary MODEL_VERSION on the cluster; promote or roll back on evidence
	MODEL_VERSION="$(MODEL_VERSION)" scripts/promote.sh

rollback: ## Undo the last rollout step in the cluster: drop a running canary, else previous version
	scripts/rollback.sh

lock: ## Re-resolve dependencies into requirements.lock
	scripts/lock.sh

clean: ## Remove generated data, Feast state, pipeline runs and registered models
	rm -rf data artifacts local_outputs .pytest_cache .mypy_cache .ruff_cache .hypothesis
