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

.PHONY: all setup build run test test-cluster test-models bench fuzz soak sbom vet clean dist dist-check dist-test check catalog-sign

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

# The cluster example of docs/deploy.md, for real: PostgreSQL, three NATS
# nodes (izwi bus serve), two gateways and a worker on loopback; checks
# revocation across gateways with a NATS node down, and the audit chain
# (about 15 s; .ci/run calls it after make test).
test-cluster: setup build
	scripts/cluster-demo.sh check

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

# Release artifacts into dist/: tarball, .deb, SBOM, OCI image, licences,
# SHA256SUMS and minisign signatures (see scripts/dist.sh for the signing
# key: IZWI_SIGNING_KEY_FILE, else an ephemeral key with a loud note).
dist: setup
	scripts/dist.sh

# Reproducibility: two `make dist` runs from the same commit, in two fresh
# clones at different paths, give byte-identical artifacts (signatures
# aside when the key is ephemeral).
dist-check: setup
	scripts/dist-check.sh

# The package test: `make dist`, then install the .deb into a fresh Debian 12
# root (debootstrap, cached under $$IZWI_DIST_CACHE) and run `izwi serve`
# and `izwi transcribe` there; copy the tarball into another fresh root and
# run it; run the image's filesystem read-only as UID 65532; check the
# signatures and the systemd unit's exposure; then dist-check. Needs root and
# the Debian mirror; about 2 min plus 3 min for the first debootstrap and
# 4 min for dist-check, so it is not part of `make test`.
dist-test: dist
	scripts/dist-test.sh
	scripts/dist-check.sh

# Static checks: vet, and govulncheck when its database is reachable.
check:
	$(GO) vet ./...
	scripts/vulncheck.sh

# Re-sign internal/models/catalog.json after editing it (the maintainers'
# key: IZWI_CATALOG_KEY_FILE).
catalog-sign:
	@test -n "$$IZWI_CATALOG_KEY_FILE" || { echo "catalog-sign: set IZWI_CATALOG_KEY_FILE to the project signing key" >&2; exit 1; }
	SOURCE_DATE_EPOCH=$$(date +%s) $(GO) run ./cmd/izwi-dist sign -key "$$IZWI_CATALOG_KEY_FILE" internal/models/catalog.json

clean:
	rm -rf bin testdata/gen dist
