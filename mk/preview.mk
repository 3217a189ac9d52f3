# Preview stacks (python -m infra.preview) and the commands the CI workflows run (.github/workflows).
# Included by the top Makefile (-include mk/*.mk); uses its PY, VENV_STAMP, WITH_ENGINE and PULUMI.
# The engine, backend and cluster come from the environment (in CI: pulumi/actions and the
# workflow's secrets); without a `pulumi` on PATH, from the kit's own engine (scripts/with-engine).
# tests/support/ci_commands.py holds these command lines for the tests.
PR ?=
IMAGE_REF ?=
TTL ?=
POLICY_PROFILE ?= production

preview-up: $(VENV_STAMP) ## create/update preview stack pr-N: make preview-up PR=12 [IMAGE_REF=repo@sha256:..] [TTL=72h]
	$(WITH_ENGINE)$(PY) -m infra.preview up $(PR) $(if $(IMAGE_REF),--image-ref $(IMAGE_REF)) $(if $(TTL),--ttl $(TTL))

preview-destroy: $(VENV_STAMP) ## destroy preview stack pr-N and remove it: make preview-destroy PR=12
	$(WITH_ENGINE)$(PY) -m infra.preview destroy $(PR)

preview-list: $(VENV_STAMP) ## list preview stacks with age, TTL and expiry
	$(WITH_ENGINE)$(PY) -m infra.preview list

preview-gc: $(VENV_STAMP) ## destroy expired preview stacks: make preview-gc [TTL=72h]
	$(WITH_ENGINE)$(PY) -m infra.preview gc $(if $(TTL),--ttl $(TTL))

promote: $(VENV_STAMP) ## deploy a prebuilt digest: make promote STACK=staging|prod IMAGE_REF=repo@sha256:..
	@test -n "$(STACK)" && test -n "$(IMAGE_REF)" || { echo "promote: set STACK and IMAGE_REF" >&2; exit 2; }
	$(PULUMI) config set --stack $(STACK) --path image.ref $(IMAGE_REF)
	$(PULUMI) up --stack $(STACK) --yes --non-interactive --policy-pack policies \
	  --policy-pack-config policies/config/$(POLICY_PROFILE).json

deploy: $(VENV_STAMP) ## pulumi up of a stack as configured (advances version sunset): make deploy STACK=staging|prod
	@test -n "$(STACK)" || { echo "deploy: set STACK" >&2; exit 2; }
	$(PULUMI) up --stack $(STACK) --yes --non-interactive --policy-pack policies \
	  --policy-pack-config policies/config/$(POLICY_PROFILE).json

test-preview: $(VENV_STAMP) ## preview stacks and CI commands: unit tests, then e2e (real CLI, local control plane)
	$(PY) -m pytest tests/unit/test_preview_cli.py tests/unit/test_ci_workflows.py $(PYTEST_ARGS)
	$(PY) -m pytest tests/e2e/test_preview_stacks.py tests/e2e/test_ci_commands.py $(PYTEST_ARGS)

.PHONY: preview-up preview-destroy preview-list preview-gc promote deploy test-preview
