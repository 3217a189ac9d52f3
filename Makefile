# temporal-workers kit: the two commands a newcomer needs are `make up` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
# The Pulumi engine: the `pulumi` on PATH (users' machines, CI runners) or, without one, the kit's own
# build in its offline environment (scripts/with-engine builds it first if missing).
WITH_ENGINE := $(if $(shell command -v pulumi 2>/dev/null),,scripts/with-engine )
PULUMI ?= $(WITH_ENGINE)pulumi

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(VENV_STAMP): requirements.txt constraints.txt worker_image/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $@

venv: $(VENV_STAMP) ## create the repo-local virtualenv with the pinned dependencies

lint: $(VENV_STAMP) ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy worker_image infra policies tests bench tools

fmt: $(VENV_STAMP) ## format the code
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Tools are built before pytest starts: a cold build takes far longer than one test may.
test: lint tools ## lint, build the tools (cached), then every test tier
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: $(VENV_STAMP) ## fast tier only
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

QUEUE ?= orders
ORDER ?= order-1
# Distinct local ports per sample queue, so all three workers run side by side.
PORT_OFFSET_orders := 1
PORT_OFFSET_billing := 2
PORT_OFFSET_shipments := 3
PORT_OFFSET = $(or $(PORT_OFFSET_$(QUEUE)),0)

worker: $(VENV_STAMP) ## run one sample-app worker: make worker QUEUE=orders|billing|shipments
	cd worker_image && TEMPORAL_TASK_QUEUE=$(QUEUE) WORKER_APP=$${WORKER_APP:-orders_app.queues:$(QUEUE)} \
	  TEMPORAL_ADDRESS=$${TEMPORAL_ADDRESS:-127.0.0.1:7233} WORKER_BIND_ADDRESS=127.0.0.1 \
	  WORKER_HEALTH_PORT=$$((8080 + $(PORT_OFFSET))) WORKER_METRICS_PORT=$$((9090 + $(PORT_OFFSET))) \
	  exec ../$(PY) -m workerkit

order: $(VENV_STAMP) ## place a sample order: make order ORDER=order-1 (workers: make up, or make worker)
	cd worker_image && ../$(PY) -m orders_app.client place $(ORDER)

dev-server: $(VENV_STAMP) ## start a Temporal dev server on 127.0.0.1:7233 (foreground)
	$(VENV)/bin/temporal server start-dev --headless --ip 127.0.0.1 --port 7233

bench: $(VENV_STAMP) ## run every benchmark and print the tables
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

-include mk/*.mk

.PHONY: help venv lint fmt test test-unit worker order dev-server bench
