# mcpgate — make targets. `make run` and `make test` are the two a new user needs.
GO       ?= go
WASM     := build/mcpgate.wasm
PKGS     := ./...
FUZZTIME ?= 20s
export MCPGATE_WASM := $(CURDIR)/$(WASM)
# The build's version, embedded in the wasm (plugin/version.go) and the image.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

# Tools are pinned in tools/go.mod (their own module, so that the
# filter's go.mod stays small): golangci-lint and govulncheck. govulncheck
# reads its database offline from the OSV files of a pinned
# golang.org/x/vulndb module (a newer version there is a newer database).
TOOL     := $(GO) tool -modfile=$(CURDIR)/tools/go.mod
VULNDB   := golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018

.PHONY: all help build wasm run test race check lint vuln bench fuzz soak e2e clean
.PHONY: image push istio-fetch-test actionlint check-nested

all: build

## help: list the targets and what they do
help:
	@awk '/^## [a-z0-9-]+: / {t = $$2; sub(/:$$/, "", t); d = $$0; sub(/^## [a-z0-9-]+: /, "", d); printf "  %-17s %s\n", t, d; next} /^## / {printf "  %-17s %s\n", "", substr($$0, 4)}' $(MAKEFILE_LIST)

## build: compile every package natively and the filter as wasm
build: wasm
	$(GO) build $(PKGS)

## wasm: build the proxy-wasm filter (standard Go, wasip1, c-shared)
wasm:
	@mkdir -p build
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -ldflags '-s -w -X main.version=$(VERSION)' -o $(WASM) ./plugin
	@ls -l $(WASM)

## run: demo MCP server on 127.0.0.1:8081 behind the compiled filter on 127.0.0.1:8080
run: wasm
	$(GO) run ./e2e/cmd/mcpgate-run -wasm $(WASM) -config e2e/testdata/dev-config.json $(RUN_FLAGS)

## test: everything CI runs: static checks, the wasm build, all tests (the
## filter runs as compiled .wasm under the wazero harness), fuzz seed corpora,
## Istio's fetcher, then authcore and the harness under the race detector
test: check wasm
	$(GO) test -count=1 -timeout 12m $(PKGS)
	$(MAKE) --no-print-directory istio-fetch-test
	$(MAKE) --no-print-directory race

## race: authcore (with its leaves) and the harness under the race detector
race:
	$(GO) test -race -count=1 -timeout 10m ./authcore/... ./wazero-harness/...

## check: gofmt, go vet (native and wasip1 for plugin/), go mod tidy drift,
## golangci-lint (.golangci.yml), govulncheck, actionlint
check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./plugin/...
	$(GO) mod tidy -diff
	cd tools && $(GO) mod tidy -diff
	$(MAKE) --no-print-directory check-nested lint vuln actionlint

## lint: golangci-lint with .golangci.yml, natively and for wasip1 on plugin/
lint:
	$(TOOL) golangci-lint run $(PKGS)
	@bin=$$($(TOOL) -n golangci-lint) && echo "GOOS=wasip1 GOARCH=wasm golangci-lint run ./plugin/..." && \
	  GOOS=wasip1 GOARCH=wasm $$bin run ./plugin/...

## vuln: govulncheck, offline, against the pinned golang.org/x/vulndb; a called
## vulnerability in a module fails, one in the standard library is listed
## (the Go toolchain fixes it; VULN_STDLIB=fail makes it fail too)
vuln:
	@mkdir -p build
	@db=$$($(GO) mod download -json $(VULNDB) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	  test -d "$$db/data/osv" || { echo "vuln: $(VULNDB) has no data/osv"; exit 1; }; \
	  echo "govulncheck -db file://$$db/data/osv -format json $(PKGS)"; \
	  $(TOOL) govulncheck -db "file://$$db/data/osv" -format json $(PKGS) > build/govulncheck.json
	cd tools && $(GO) run ./vulnreport -stdlib $(or $(VULN_STDLIB),warn) < $(CURDIR)/build/govulncheck.json

## bench: benchmarks of native engine, wasm under the harness and a no-op baseline, in one run
bench: wasm
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./authcore/ ./e2e/ ./wazero-harness/

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## soak: flood every unauthenticated endpoint of the compiled filter with
## SOAK_REQUESTS requests each and check the memory bounds (make test runs 1500)
SOAK_REQUESTS ?= 1000000
soak: wasm
	MCPGATE_SOAK_REQUESTS=$(SOAK_REQUESTS) $(GO) test -count=1 -v -timeout 12h -run 'TestSoakUnauthenticatedFloods' ./e2e/

## e2e: docker compose up (Envoy running build/mcpgate.wasm + demo MCP server; ENVOY_IMAGE=... to pick
## Envoy), wait for health, MCP Go SDK OAuth flow through Envoy, logs on failure (skips without Docker)
e2e: wasm
	$(GO) test -count=1 -timeout 20m -run 'TestEnvoy' -v ./e2e/

## clean: remove build/
clean:
	rm -rf build

# --- release: OCI image, Istio's fetcher, workflow lint ----------------------
IMAGE_LAYOUT  := build/oci
IMAGE_TARBALL := build/mcpgate-image.tar
FETCHTEST     := envoy/istio/fetchtest
ACTIONLINT    ?= github.com/rhysd/actionlint/cmd/actionlint@v1.7.12

## image: pack build/mcpgate.wasm as an OCI image (build/oci layout + build/mcpgate-image.tar), print its sha256s
image: wasm
	$(GO) run ./envoy/ociimage/cmd/mcpgate-image build -wasm $(WASM) -version '$(VERSION)' \
	  -layout $(IMAGE_LAYOUT) -tarball $(IMAGE_TARBALL) $(IMAGE_FLAGS)

## push: push the image `make image` wrote to IMAGE=registry/repository:tag (credentials of `docker login`)
push:
	@if [ -z "$(IMAGE)" ]; then echo "usage: make push IMAGE=ghcr.io/OWNER/mcpgate:$(VERSION)"; exit 2; fi
	$(GO) run ./envoy/ociimage/cmd/mcpgate-image push -layout $(IMAGE_LAYOUT) -image '$(IMAGE)'

## istio-fetch-test: pull the image with Istio's own wasm fetcher (nested module: Istio's dependencies stay out of go.mod)
istio-fetch-test: wasm
	cd $(FETCHTEST) && $(GO) test -count=1 -timeout 10m ./...

## check-nested: go mod tidy drift of the nested Istio-fetcher module (its test vets it in make test)
check-nested:
	cd $(FETCHTEST) && $(GO) mod tidy -diff

## actionlint: lint .github/workflows offline (actionlint, pinned)
actionlint:
	$(GO) run $(ACTIONLINT) -color=false
