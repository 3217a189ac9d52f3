# Pulumi engine, providers and a local Kubernetes control plane, built from pinned Go modules
# (tools/*/go.mod) into a cache outside the work tree; see README, "Engine and local cluster".
CLUSTER_DIR ?= .cache/cluster

tools: ## build the Pulumi CLI, providers, etcd, Kubernetes, kwok, registry, buildkitd, kubectl (idempotent)
	bash tools/build.sh

tools-versions: ## print the versions of the built tools
	bash tools/build.sh --versions

tools-resolve: ## into an empty module cache: resolve every module and derived file (downloads only)
	bash tools/build.sh --resolve

bench-first-run: $(VENV_STAMP) ## cold make tools (FIRST_RUN_ARGS=--ci: cold .ci/run) with empty caches, as a table
	$(PY) bench/first_run.py $(FIRST_RUN_ARGS)

pulumi-env: $(VENV_STAMP) tools ## install the built providers into the repo-local PULUMI_HOME and show the env
	$(PY) -m tools.pulumi_env setup
	@echo "use it in a shell with: source scripts/pulumi-env.sh"

cluster-up: $(VENV_STAMP) tools ## start the local control plane (etcd, apiserver, controllers, kwok nodes)
	$(PY) -m tools.local_cluster start --dir $(CLUSTER_DIR)

cluster-down: $(VENV_STAMP) ## stop the local control plane (keeps its data; cluster-delete removes it)
	$(PY) -m tools.local_cluster stop --dir $(CLUSTER_DIR)

cluster-delete: $(VENV_STAMP) ## stop the local control plane and remove its data
	$(PY) -m tools.local_cluster delete --dir $(CLUSTER_DIR)

cluster-status: $(VENV_STAMP) ## show the local control plane's processes, API health and nodes
	$(PY) -m tools.local_cluster status --dir $(CLUSTER_DIR)

test-e2e: $(VENV_STAMP) ## e2e tier only: real Pulumi CLI against the local control plane
	$(PY) -m pytest -m e2e tests/e2e $(PYTEST_ARGS)

.PHONY: tools tools-versions tools-resolve bench-first-run pulumi-env cluster-up cluster-down cluster-delete cluster-status test-e2e
