# temporal-workers kit: the two commands a newcomer needs are `make up` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(VENV_STAMP): requirements.txt constraints.txt worker_image/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $@

venv: $(VENV_STAMP) ## create the repo-local virtualenv with the pinned dependencies

lint: $(VENV_STAMP) ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy worker_image infra policies tests bench

fmt: $(VENV_STAMP) ## format the code
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint ## lint, then every test tier
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: $(VENV_STAMP) ## fast tier only
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

worker: $(VENV_STAMP) ## run one worker locally: make worker QUEUE=orders (needs a Temporal server)
	cd worker_image && TEMPORAL_TASK_QUEUE=$${QUEUE:-orders} WORKER_APP=$${WORKER_APP:-orders_app.app:$${QUEUE:-orders}} \
	  TEMPORAL_ADDRESS=$${TEMPORAL_ADDRESS:-127.0.0.1:7233} ../$(PY) -m workerkit

dev-server: $(VENV_STAMP) ## start a Temporal dev server on 127.0.0.1:7233 (foreground)
	$(VENV)/bin/temporal server start-dev --headless --ip 127.0.0.1 --port 7233

bench: $(VENV_STAMP) ## run every benchmark and print the tables
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

-include mk/*.mk

.PHONY: help venv lint fmt test test-unit worker dev-server bench
