# Signpost build. `make run` starts the dev registry; `make test` runs every test (installing what it needs).
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/signpost-project/signpost/internal/version.Version=$(VERSION)
PKGS     := ./...
FUZZTIME ?= 3s

.PHONY: all build run test test-deps unit unit-postgres fuzz-smoke fuzz bench lint fmt clean screenshots

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/signpost ./cmd/signpost

run: build
	bin/signpost dev

# Every test, unit and integration, with the race detector (the services' tests once more on PostgreSQL),
# then each fuzz target for a few seconds.
test: test-deps build unit unit-postgres fuzz-smoke

test-deps:
	@scripts/install-test-deps.sh

unit:
	$(GO) test -race -shuffle=on -count=1 -timeout 20m $(PKGS)

# The service tests of the SML and the SMP (packages sml and smp) once more on PostgreSQL, each test on a
# throwaway cluster (about two minutes). The repository contract suites and the multi-node tests run on
# PostgreSQL in unit already.
unit-postgres:
	SIGNPOST_TEST_SML_STORE=postgres SIGNPOST_TEST_SMP_STORE=postgres $(GO) test -race -shuffle=on -count=1 -timeout 15m ./sml ./smp

fuzz-smoke:
	@scripts/fuzz.sh $(FUZZTIME)

# Longer fuzzing: make fuzz FUZZTIME=5m
fuzz:
	@scripts/fuzz.sh $(if $(filter 3s,$(FUZZTIME)),2m,$(FUZZTIME))

# The benchmark suite (docs/BENCHMARKS.md): SML against Knot at 1k, 100k, 1M participants, SMP against nginx and
# sign-on-every-GET, lookup; results and charts in docs/bench/. Within 15 minutes once the zones are cached in
# .benchcache/. make bench SCALE=10000000 adds a 10M zone (opt-in: a long first build, several GB).
bench: test-deps build
	@scripts/bench.sh

# PNGs of the web consoles' main pages (docs/console/), taken by the browser test in headless chromium.
screenshots: test-deps
	mkdir -p docs/console
	SIGNPOST_SCREENSHOTS=$(CURDIR)/docs/console $(GO) test -count=1 -run '^TestConsoleBrowser$$' ./cmd/signpost/

lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
