# Izwi — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/izwi

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/izwi-speech/izwi/internal/buildinfo.Version=$(VERSION) \
           -X github.com/izwi-speech/izwi/internal/buildinfo.Commit=$(COMMIT)

# Real shared data and models live beside the checkout; tests read them here.
export IZWI_TESTDATA ?= $(abspath ../shared/testdata)
export IZWI_MODELS   ?= $(abspath ../shared/models)
# Small sherpa-onnx models this project generates for its tests.
export IZWI_GEN_MODELS ?= $(abspath testdata/gen)

.PHONY: all setup build run test test-models bench fuzz soak sbom vet clean

all: build

setup:
	@scripts/setup.sh

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/izwi

# Starts the server on embedded defaults: SQLite, embedded NATS, local engines
# (PocketSphinx, Flite, and Silero VAD installed from the npm registry).
run: setup build
	@IZWI=$(BIN) scripts/install-default-models.sh
	$(BIN) serve

# Generated ONNX models for the sherpa-onnx paths (Debian's python3-onnx).
test-models:
	@/usr/bin/python3 scripts/gen-test-models.py --out $(IZWI_GEN_MODELS)

test: export IZWI_TEST_STRICT := 1
test: setup test-models
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...

bench: setup test-models build
	scripts/bench.sh

# Each fuzz target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz: setup
	scripts/fuzz.sh $(FUZZTIME)

# kill -9 during live sessions, 50 times (a 3-kill version runs in make test).
soak: setup build
	$(GO) test -count=1 -run 'Soak' -skip 'Short$$' -tags soak -timeout 60m ./...

# A CycloneDX SBOM of the built binary: Go modules, native engines and the
# model catalogue with its pinned SHA-256s.
sbom: build
	$(BIN) version --sbom > bin/izwi.cdx.json
	@echo "sbom: bin/izwi.cdx.json"

clean:
	rm -rf bin testdata/gen
