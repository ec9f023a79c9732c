# berth — build, test and benchmark targets. `make help` lists them.
SHELL        := bash
.SHELLFLAGS  := -eu -o pipefail -c
GO           ?= go
# A release tag (v0.1.0, or v0.1.0-3-gabc1234-dirty past it); without one berth calls itself buildinfo.DevVersion.
VERSION      ?= $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || true)
COMMIT       ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
CACHE        ?= $(HOME)/.cache/berth
TOOLS        := $(CACHE)/tools/bin
STATICCHECK  := $(TOOLS)/staticcheck
BUNDLE       ?= $(CACHE)/bundles/lab-v1.31.tar
UPGRADE_BUNDLE ?= $(CACHE)/bundles/lab-v1.32.tar
HOP_BUNDLE   ?= $(CACHE)/bundles/lab-v1.33.tar
BUNDLE_KEY   ?= $(CACHE)/keys/bundle.pub
LAB_STATE    ?= $(HOME)/.local/state/berth/labs
DEMO_LAB     ?= demo
FUZZTIME     ?= 60s
FUZZMINIMIZE ?= 20x
FUZZFLAGS    ?=
TEST_TIMEOUT ?= 75m
LDFLAGS      := -s -w -X github.com/berthsh/berth/internal/buildinfo.Version=$(VERSION) \
                -X github.com/berthsh/berth/internal/buildinfo.Commit=$(COMMIT)

# Fuzz targets: package and function. `make fuzz` runs each for FUZZTIME, one after the other.
FUZZ_TARGETS := ./inventory:FuzzLoad ./bundles:FuzzParseManifest ./bundles:FuzzVerify ./bundles:FuzzReadHeader ./airgap:FuzzOpenArchive ./airgap:FuzzParseSyncConfig ./internal/planes:FuzzParse ./internal/planes:FuzzParseCounters

.PHONY: help build test test-short lint fuzz deps bundle bundle-upgrade demo demo-down e2e-multihop bundle-hop bench bench-bundle bench-patch bench-plan bench-upgrade bench-lab bench-install bench-fanout bench-registry clean

help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## static binary in bin/berth
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/berth ./cmd/berth

demo: deps build bundle ## the main job: build the lab bundle, start 3+2 lab hosts and 2 registry hosts, install a real HA cluster, print its state
	bin/berth lab up --name $(DEMO_LAB) --control-planes 3 --workers 2 --registries 2
	bin/berth install -i $(LAB_STATE)/$(DEMO_LAB)/inventory.yaml -b $(BUNDLE) --key $(BUNDLE_KEY) --yes
	bin/berth status -i $(LAB_STATE)/$(DEMO_LAB)/inventory.yaml

demo-down: build ## remove the demo lab
	bin/berth lab down --name $(DEMO_LAB)

test: deps build lint bundle bundle-upgrade ## every test: unit, integration, lab and end-to-end, plus a brief fuzz run
	status=0; figures=$(CACHE)/test-figures.txt; mkdir -p $(CACHE); rm -f $$figures; \
	  BERTH_BUNDLE=$(BUNDLE) BERTH_UPGRADE_BUNDLE=$(UPGRADE_BUNDLE) BERTH_BUNDLE_KEY=$(BUNDLE_KEY) BERTH_BENCH_OUT=$$figures \
	  $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./... || status=$$?; \
	  [ "$${BERTH_LAB_KEEP:-}" = 1 ] || bin/berth lab down --tests || { sleep 10; bin/berth lab down --tests; }; \
	  if [ -s $$figures ]; then echo "figures measured by the end-to-end tests:"; cat $$figures; fi; \
	  exit $$status
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

# Go 1.26's fuzzing coordinator can end a run with a bare "context deadline exceeded" when FUZZTIME runs out
# while a worker is busy (golang/go#75804, fixed in Go 1.27). A run fails on that only when it also wrote a
# failing input; otherwise it is reported and ignored. Minimizing a new input is limited to FUZZMINIMIZE
# attempts, so that time goes to exploring (bundle inputs are tens of KiB).
fuzz: ## run every fuzz target for FUZZTIME each, one after the other
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$pkg $$fn ($(FUZZTIME))"; log=$$(mktemp); status=0; \
	  $(GO) test $$pkg -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) \
	    $(FUZZFLAGS) 2>&1 | tee $$log || status=$$?; \
	  if [ $$status -ne 0 ] && ! grep -q 'Failing input written' $$log && grep -qx '    context deadline exceeded' $$log; then \
	    echo "fuzz $$fn: no failing input, only Go's end-of-run deadline race (golang/go#75804): ignored"; status=0; fi; \
	  rm -f $$log; [ $$status -eq 0 ] || exit $$status; done

deps: ## install what the lab and the bundle build need (Docker engine, debootstrap, ...) and start dockerd
	hack/deps.sh
	hack/bundle-deps.sh

bundle: build ## build the signed lab bundle (Kubernetes 1.31 compiled here; cached under ~/.cache/berth)
	hack/build-lab-bundle.sh 1.31

bundle-upgrade: build ## build the signed lab bundle the upgrade tests move to (Kubernetes 1.32 compiled here; cached)
	hack/build-lab-bundle.sh 1.32

bundle-hop: build ## build the signed 1.33 lab bundle, the end of the multi-hop upgrade (Kubernetes 1.33 compiled here; cached)
	hack/build-lab-bundle.sh 1.33

e2e-multihop: deps build bundle bundle-upgrade bundle-hop ## install 1.31 on a 3+2 lab, upgrade it to 1.33 in one apply (control planes via 1.32, workers once), probe counting failed requests
	status=0; figures=$(CACHE)/multihop-figures.txt; rm -f $$figures; \
	  CI=true BERTH_BUNDLE=$(BUNDLE) BERTH_UPGRADE_BUNDLE=$(UPGRADE_BUNDLE) BERTH_HOP_BUNDLE=$(HOP_BUNDLE) BERTH_BUNDLE_KEY=$(BUNDLE_KEY) \
	  BERTH_BENCH_OUT=$$figures $(GO) test -count=1 -timeout 90m -run '^TestE2EMultiHop$$' ./installer || status=$$?; \
	  [ "$${BERTH_LAB_KEEP:-}" = 1 ] || bin/berth lab down --tests || { sleep 10; bin/berth lab down --tests; }; \
	  if [ -s $$figures ]; then echo "figures:"; cat $$figures; fi; exit $$status

bench: deps build bundle ## benchmarks: Go benchmarks, bundle build/size/verify, DNS
	$(GO) test -short -run '^$$' -bench . -benchmem ./...
	hack/bench-bundle.sh
	@if [ -x hack/bench-dns.sh ]; then hack/bench-dns.sh; fi

bench-bundle: deps build bundle ## bundle build time, size and verify throughput; patch bundle sizes (lab bundles when built)
	hack/bench-bundle.sh

bench-patch: ## patch bundle sizes against the full bundle: DNS add-on, one OS package, 1.31 -> 1.32 (lab bundles when built)
	$(GO) run ./hack/patchbench -base $(BUNDLE) -next $(UPGRADE_BUNDLE) -key $(BUNDLE_KEY) -sign-key $(BUNDLE_KEY:.pub=.key)

bench-plan: ## plan an install (dry run, journal, events) over 1,000 in-memory hosts: time, peak heap, peak RSS
	$(GO) test -c -o bin/installer.test ./installer
	cd installer && /usr/bin/time -f 'peak RSS %M KiB' ../bin/installer.test -test.run '^$$' -test.bench '^BenchmarkPlanInstall1000$$' -test.benchtime 3x -test.short

bench-upgrade: deps build bundle bundle-upgrade ## berth upgrade 1.31 -> 1.32 against the same kubeadm steps scripted by hand, with failed requests counted
	hack/bench-upgrade.sh $(BUNDLE) $(UPGRADE_BUNDLE) $(BUNDLE_KEY)

bench-fanout: deps build bundle ## stage the lab bundle over a 100 Mbit/s uplink to 1 host, then 8 (relays between hosts): both times, their ratio, bytes per path
	BERTH_BUNDLE=$(BUNDLE) BERTH_BUNDLE_KEY=$(BUNDLE_KEY) $(GO) test -run '^$$' -bench '^BenchmarkStageFanOut$$' -benchtime 1x -timeout 60m ./installer

bench-registry: deps build bundle ## seed 2 System replicas with the lab bundle's images and pull from one on the storage plane, each beside its floor (SSH files, bare TCP)
	BERTH_BUNDLE=$(BUNDLE) BERTH_BUNDLE_KEY=$(BUNDLE_KEY) $(GO) test -run '^$$' -bench '^BenchmarkRegistry$$' -benchtime 1x -timeout 60m ./installer

bench-lab: deps build ## time `berth lab up --control-planes 3 --workers 2`, cold and warm
	hack/bench-lab.sh bin/berth

bench-install: deps build bundle ## install times (total, per phase) against the same kubeadm steps scripted by hand; ROUNDS=N repeats
	hack/bench-install.sh bin/berth $(BUNDLE) $(BUNDLE_KEY)

clean: ## remove build output (caches under ~/.cache/berth stay)
	rm -rf bin/ out/
