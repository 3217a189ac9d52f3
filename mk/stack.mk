# The local stack: `make up` / `make down`. Orchestration in tools/local_stack.py; see the
# README section "Local stack". Included by the top Makefile (-include mk/*.mk).

up: $(VENV_STAMP) ## local stack: tools, Temporal dev server, Docker, registry, control plane, pulumi up
	$(PY) -m tools.local_stack up

stack-preview: $(VENV_STAMP) ## pulumi preview (with the policy pack) of the local stack: fails on any change
	$(PY) -m tools.local_stack preview

down: $(VENV_STAMP) ## destroy the local stack and stop everything make up started
	$(PY) -m tools.local_stack down

stack-status: $(VENV_STAMP) ## what of the local stack runs, and its workloads
	$(PY) -m tools.local_stack status

test-stack: $(VENV_STAMP) ## e2e tests of make up/down, environments, the policy gate, real pods under load
	$(PY) -m pytest -m e2e tests/e2e/test_local_stack.py tests/e2e/test_environments.py \
	  tests/e2e/test_policy_gate.py tests/e2e/test_real_node.py $(PYTEST_ARGS)

bench-up: $(VENV_STAMP) ## pulumi up of 1 and 10 queues next to kubectl apply, pods on the real node (table)
	$(PY) bench/bench_up.py

bench-node: $(VENV_STAMP) ## the real node: start, pods to Ready, memory (table)
	$(PY) bench/bench_node.py

.PHONY: up stack-preview down stack-status test-stack bench-up bench-node
