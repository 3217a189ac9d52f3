# Pulumi program: unit tests, benchmark, and the objects a stack file produces.
STACK ?= dev

infra-test: $(VENV_STAMP) ## unit tests of the Pulumi program (pure specs, config errors, mocks)
	$(PY) -m pytest tests/infra -q $(PYTEST_ARGS)

infra-bench: $(VENV_STAMP) ## program under mocks for 1, 10 and 100 queues
	$(PY) bench/bench_infra.py

infra-render: $(VENV_STAMP) ## print the objects of a stack file as YAML: make infra-render STACK=prod QUEUE=billing
	@$(PY) -m tests.infra.render $(STACK) $(QUEUE)

.PHONY: infra-test infra-bench infra-render
