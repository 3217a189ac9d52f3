# Worker image: the project's Docker engine, the local base image, the wheelhouse, the image.
# Included by the top Makefile (-include mk/*.mk); uses its PY, VENV and VENV_STAMP.

TWK_DOCKER_SOCK ?= /run/twk-docker/docker.sock
export TWK_DOCKER_SOCK
# Debian's client drives the engine's built-in BuildKit (no buildx plugin needed).
TWK_DOCKER_CLI ?= /usr/bin/docker
TWK_DOCKER = DOCKER_HOST=unix://$(TWK_DOCKER_SOCK) DOCKER_BUILDKIT=1 $(TWK_DOCKER_CLI)

# Build args (see worker_image/Dockerfile). Users building against a registry base image pass e.g.
#   make image IMAGE_BASE=python:3.11-slim-bookworm@sha256:<digest> IMAGE_WHEELHOUSE=
IMAGE_TAG ?= temporal-worker:dev
IMAGE_BASE ?= $(shell scripts/base-image.sh runtime --print-tag)
IMAGE_WHEELHOUSE ?= .wheelhouse
IMAGE_REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
IMAGE_BUILD_ID ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo dev)
IMAGE_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
IMAGE_SOURCE ?= $(shell git config --get remote.origin.url 2>/dev/null || echo unknown)

docker-up: ## start the project's Docker engine (installs Debian's docker.io if missing)
	scripts/docker-engine.sh up
	@scripts/docker-engine.sh status

docker-down: ## stop the project's Docker engine (data root and caches are kept)
	scripts/docker-engine.sh down

docker-status: ## is the project's Docker engine answering?
	@scripts/docker-engine.sh status

base-image: docker-up ## debootstrap base image with Python 3.11 (cached; IMAGE_BASE)
	scripts/base-image.sh runtime

wheelhouse: $(VENV_STAMP) ## wheels of worker_image/requirements.txt for hermetic builds (cached)
	PYTHON=$(PY) scripts/wheelhouse.sh

image: docker-up base-image wheelhouse ## build the worker image (IMAGE_TAG, IMAGE_BASE, IMAGE_BUILD_ID, ...)
	$(TWK_DOCKER) build --network=host --tag $(IMAGE_TAG) \
	  --build-arg BASE_IMAGE=$(IMAGE_BASE) \
	  --build-arg WHEELHOUSE=$(IMAGE_WHEELHOUSE) \
	  --build-arg BUILD_ID=$(IMAGE_BUILD_ID) \
	  --build-arg VERSION=$(IMAGE_VERSION) \
	  --build-arg REVISION=$(IMAGE_REVISION) \
	  --build-arg SOURCE=$(IMAGE_SOURCE) \
	  worker_image
	@$(TWK_DOCKER) image ls $(IMAGE_TAG)

test-image: $(VENV_STAMP) ## image tier only (real engine; starts it and makes what is missing)
	$(PY) -m pytest -m image tests/image $(PYTEST_ARGS)

bench-image: $(VENV_STAMP) ## image size and rebuild benchmark (table)
	$(PY) bench/bench_image.py

.PHONY: docker-up docker-down docker-status base-image wheelhouse image test-image bench-image
