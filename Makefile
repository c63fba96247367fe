# ClusterPulse. `make help` lists the targets.
SHELL := /usr/bin/env bash
SCRIPTS := testenv/scripts
# The environment kept up by testenv-up (make test uses a private one of its own).
export RUN_DIR ?= $(or $(TMPDIR),/tmp)/clusterpulse-testenv

.PHONY: help test testenv-up testenv-down testenv-env generate build vet bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

test: ## install and start Redis, VictoriaMetrics, etcd + kube-apiserver, kwok and a registry; run go test -race ./...; stop them
	@RUN_DIR= $(SCRIPTS)/test.sh

testenv-up: ## start the test services and keep them running (see the printed instructions)
	@$(SCRIPTS)/build-all.sh
	@$(SCRIPTS)/up.sh
	@echo
	@echo "Point tests at it with:  source $(RUN_DIR)/env && go test -race ./..."
	@echo "Stop it with:            make testenv-down"

testenv-down: ## stop the services started by testenv-up
	@$(SCRIPTS)/down.sh

testenv-env: ## print the path of the env file written by testenv-up
	@echo $(RUN_DIR)/env

generate: ## regenerate deploy/crds and deepcopy from engine/kube, and connect/gen from connect/proto
	@$(SCRIPTS)/build-all.sh >/dev/null
	@$(SCRIPTS)/generate-crds.sh
	@$(SCRIPTS)/generate-proto.sh

bench: ## run every benchmark and print ours next to the baseline of the same run (see BENCHMARKS.md; takes ~15 min)
	@$(SCRIPTS)/bench.sh
	@$(SCRIPTS)/bench-api.sh
	@$(SCRIPTS)/bench-pull.sh
	@$(SCRIPTS)/bench-push.sh

build: ## build the clusterpulse binary into bin/
	go build -trimpath -o bin/clusterpulse .

vet: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
