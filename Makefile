# Constellation build, test and run targets. `make help` lists them.
GO        ?= go
BIN       := bin
ARM64_BIN := bin/linux-arm64
CMDS      := ./appliance/cmd/constellation-appliance ./cloud/cmd/constellation-watchtower ./tools/chargesim ./tools/fleetsim ./tools/tap
STATICCHECK_VERSION := v0.8.2
GOBIN     := $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck
FUZZTIME  ?= 10s
BENCHTIME ?= 1s
# make bench OCPPBENCH_FLAGS="-repeat 1" for a shorter load run (the default keeps the best of 3).
OCPPBENCH_FLAGS ?=

.PHONY: help build test lint run bench fuzz clean image image-test

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build for this host into bin/ and for the Pi (linux/arm64, no cgo) into bin/linux-arm64/
	$(GO) build -o $(BIN)/ $(CMDS)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -o $(ARM64_BIN)/ $(CMDS)

test: ## run every test with the race detector (screenshots and other test artifacts under out/test-artifacts)
	@mkdir -p out/test-artifacts
	$(GO) test -race -count=1 -artifacts -outputdir $(CURDIR)/out/test-artifacts ./...

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(STATICCHECK) ## go vet, staticcheck, gofmt and go mod tidy checks
	$(GO) vet ./...
	$(STATICCHECK) ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff

run: ## a watchtower, an appliance (dev mode) enrolled to it, simulated 1.6, 2.0.1 and 2.1 chargers
	$(GO) build -o $(BIN)/ $(CMDS)
	./tools/run-dev.sh

bench: ## Go benchmarks and the CSMS load benchmark; see docs/benchmarks.md
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...
	$(GO) run ./tools/ocppbench $(OCPPBENCH_FLAGS)

fuzz: ## run every fuzz target for FUZZTIME (default 10s)
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

image: ## the Raspberry Pi SD card image, out/image/constellation-*.img.xz (root; see README "The OS image")
	./image/build.sh out/image

image-test: ## boot the built image in QEMU and check it (first boot, a session, a power cut)
	@test -e out/image/constellation.img || { echo "no image: run make image first"; exit 1; }
	$(GO) build -o $(BIN)/ ./tools/chargesim
	$(GO) test -tags imagetest -count=1 -timeout 60m -v ./image/imagetest -args \
	  -image $(CURDIR)/out/image/constellation.img -chargesim $(CURDIR)/$(BIN)/chargesim -report $(CURDIR)/out/image/image-test.txt

clean: ## remove build output and dev data
	rm -rf $(BIN) tmp out
