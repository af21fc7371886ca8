# osccr — control plane for OpenSearch cross-cluster replication.
# `make demo` runs the product end to end on this machine; `make test` is the test suite.

# The one place the OpenSearch version is pinned (override: make OPENSEARCH_VERSION=2.19.x ...).
OPENSEARCH_VERSION ?= 2.19.4
OSCCR_OPENSEARCH_DIR ?= .opensearch
STATICCHECK_VERSION ?= v0.8.2
GO ?= go
GOTEST_FLAGS ?= -count=1 -timeout 45m

export OPENSEARCH_VERSION OSCCR_OPENSEARCH_DIR

.PHONY: all build run demo test test-unit chaos bench opensearch lint fmt tidy-check clean screenshots

all: build

## build: compile bin/osccr (CLI) and bin/osccr-worker (worker + embedded Temporal)
build:
	$(GO) build -o bin/osccr ./starter
	$(GO) build -o bin/osccr-worker ./worker

## opensearch: fetch and unpack OpenSearch, give it the standard modules and install the CCR,
##   job-scheduler and ISM plugins into $(OSCCR_OPENSEARCH_DIR) (docs/opensearch.md; the CCR plugin
##   from CCR_PLUGIN_ZIP, OSCCR_PLUGIN_DIR, Maven or the official release: see scripts/opensearch.sh)
opensearch:
	./scripts/opensearch.sh

## run: the control plane on embedded defaults (Temporal + Web UI + worker) until Ctrl-C
run: build
	./bin/osccr-worker --dev

## demo: leader cluster, data, a replicated follower through a workflow; Ctrl-C stops it all
##   (DEMO_ARGS="--docs 100000 --promote" passes flags to `osccr demo`)
DEMO_ARGS ?=
demo: build opensearch
	./scripts/demo.sh $(DEMO_ARGS)

## test: gofmt, go vet, staticcheck, tidy go.mod, then every test (replication included) against
##   real OpenSearch with the CCR plugin and embedded Temporal; prints each package's time
##   (but TestTwoWorkersOnPostgres, 4 min, TestNodeKilledWorkerDown, 4 min, and TestHealthIdleCost,
##   idle for minutes: make chaos runs them)
test: opensearch tidy-check lint
	./scripts/gotest.sh $(GOTEST_FLAGS) -skip 'TestTwoWorkersOnPostgres$$|TestNodeKilledWorkerDown$$|TestHealthIdleCost$$' ./...

## test-unit: the tests that need neither OpenSearch nor Temporal
test-unit:
	$(GO) test $(GOTEST_FLAGS) ./workflows/...

## chaos: the fault-injection suite in full (internal/chaos, OSCCR_CHAOS=full): kill -9 of the worker
##   (and of Temporal) at named points of a follower's life, Temporal restarted alone, the leader
##   down under writes, injected divergence; after the e2e fault and bad-input tests (nodes killed and
##   repaired, 3 rounds with p50/max; a node moved to other ports; its machine's worker down too; the
##   idle cost of health checking over 20 minutes; and two workers
##   on one Temporal whose PostgreSQL restarts under a follower) it reports on.
##   Prints the table (scenario, runs, passed, what was checked). make test runs a reduced set.
chaos: opensearch
	OSCCR_KILL_ROUNDS=3 OSCCR_IDLE_FOR=20m $(GO) test -count=1 -timeout 90m -v \
		-run 'TestNodeKilledRepaired$$|TestNodeMovedRepaired$$|TestNodeKilledWorkerDown$$|TestHealthIdleCost$$|TestRecycleNode' ./internal/e2e/
	$(GO) test -count=1 -timeout 10m -run 'TestBadInput' ./internal/api/ ./starter/
	$(GO) test -count=1 -timeout 15m -v -run 'TestTwoWorkersOnPostgres$$' ./internal/e2e/
	OSCCR_CHAOS=full $(GO) test -count=1 -timeout 90m -run TestChaos -v ./internal/chaos/

## bench: osccr side by side with the CCR plugin's own ways (new-index pickup vs autofollow, deletion, idle cost) through the real workflow and plugin; writes bench/results/
##   BENCH_ONLY=P2,P4 runs only those parts and merges their rows into bench/results/results.json;
##   BENCH_ARGS passes sizes (-boot-indexes, -boot-docs, -rate, -steady, -promote-indexes,
##   -meta-trials, -followers, -rpo-for; the issue's by default)
BENCH_TRIALS ?= 30
BENCH_IDLE ?= 2m
BENCH_ONLY ?=
BENCH_ARGS ?=
bench: opensearch
	$(GO) run ./internal/tools/bench -trials $(BENCH_TRIALS) -idle $(BENCH_IDLE) -only "$(BENCH_ONLY)" -out bench/results $(BENCH_ARGS)

## screenshots: the console's pages, clicked through in headless Chromium against real services,
##   as PNGs in docs/console/ (at 1280 px and at phone width); `make test` runs the same test
##   and writes nothing
screenshots: opensearch
	OSCCR_CONSOLE_SCREENSHOTS=$(CURDIR)/docs/console $(GO) test -count=1 -timeout 20m -run TestConsoleInBrowser ./internal/console/

## lint: gofmt, go vet and staticcheck (pinned)
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

tidy-check:
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum are not tidy: run go mod tidy"; $(GO) mod tidy -diff; exit 1; }

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
