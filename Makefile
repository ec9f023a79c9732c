# berth — build, test and benchmark targets. `make help` lists them.
SHELL        := bash
.SHELLFLAGS  := -eu -o pipefail -c
GO           ?= go
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT       ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
CACHE        ?= $(HOME)/.cache/berth
TOOLS        := $(CACHE)/tools/bin
STATICCHECK  := $(TOOLS)/staticcheck
FUZZTIME     ?= 60s
TEST_TIMEOUT ?= 75m
LDFLAGS      := -s -w -X github.com/berthsh/berth/internal/buildinfo.Version=$(VERSION) \
                -X github.com/berthsh/berth/internal/buildinfo.Commit=$(COMMIT)

# Fuzz targets: package and function.
FUZZ_TARGETS := ./inventory:FuzzLoad

.PHONY: help build test test-short lint fuzz deps bench clean demo

help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## static binary in bin/berth
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/berth ./cmd/berth

test: deps build lint ## every test: unit, integration, lab and end-to-end, plus a brief fuzz run
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=10s

test-short: ## the fast suite (no Docker, no lab, no bundle)
	$(GO) test -short ./...

lint: $(STATICCHECK) ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

$(STATICCHECK):
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2

fuzz: ## run every fuzz target for FUZZTIME each
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
	  $(GO) test $$pkg -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME); done

deps: ## install what the lab needs (Docker engine, debootstrap) and start dockerd
	hack/deps.sh

bench: ## Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean: ## remove build output (caches under ~/.cache/berth stay)
	rm -rf bin/

demo: build ## the main job on the built-in default (see README)
	mkdir -p out/demo
	bin/berth inventory example > out/demo/inventory.yaml
	bin/berth inventory validate out/demo/inventory.yaml
