# Policy pack: tests, benchmark, and the PR gate. Included by the top Makefile (-include mk/*.mk).

STACK ?= dev
POLICY_PROFILE ?= production

policy-test: $(VENV_STAMP) ## policy pack: rule tests + the pack driven over its Analyzer protocol
	$(PY) -m pytest tests/policy $(PYTEST_ARGS)

policy-bench: $(VENV_STAMP) ## policy pack: AnalyzeStack benchmark for 10/100/200 queues
	$(PY) bench/bench_policy.py

# STACK=local gates the stack as `make up` deploys it (its generated project: machine ports and
# paths, and the engine never writes the repo's Pulumi.local.yaml).
policy-gate: $(VENV_STAMP) ## gate a stack: make policy-gate STACK=prod POLICY_PROFILE=production|preview
ifeq ($(STACK),local)
	$(PY) -m tools.local_stack preview --allow-changes \
	  --policy-config policies/config/$(POLICY_PROFILE).json
else
	$(PULUMI) preview --stack $(STACK) --policy-pack policies \
	  --policy-pack-config policies/config/$(POLICY_PROFILE).json
endif

.PHONY: policy-test policy-bench policy-gate
