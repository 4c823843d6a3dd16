# Flashwire: `make test` installs what the tests need when it is missing,
# then runs every test against real components.

GO ?= go
# npm tools the browser tests use (the axe-core accessibility audit), the
# widget's size measurement (terser) and the Web Push tests (http_ece, an
# independent decryption to check Flashwire's against), installed into an
# ignored folder.
NPM_TOOLS := .tools/npm
NPM_PACKAGES := axe-core@4.14.1 terser@5.51.2 http_ece@1.2.1
export PATH := /usr/local/go/bin:$(PATH)

# What make build stamps into the binary (flashwire version, the
# flashwire_build_info metric, the webhook User-Agent); each may be given
# on the command line, as the Dockerfile does where there is no git.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
MODIFIED ?= $(shell git rev-parse HEAD >/dev/null 2>&1 && { git diff --quiet HEAD && echo false || echo true; })
BIN      ?= bin/flashwire
LDFLAGS  := -X main.version=$(VERSION) -X main.revision=$(REVISION) -X main.modified=$(MODIFIED)

# The Node.js webhook receiver example's packages, installed by npm into
# its own ignored node_modules folder.
NODE_RECEIVER := docs/examples/receiver-node

.PHONY: test deps build run bench bench-go fuzz fuzz-short vet fmt

test: deps vet fuzz-short
	$(GO) test -race -count=1 -timeout 20m ./...

# deps installs from Debian's packages what the tests run when it is
# missing: redis-server, chromium, nginx (the proxy test), prometheus (for
# promtool) and Node.js with npm (the Node.js receiver example and the
# browser tests' tools), then the npm tools into $(NPM_TOOLS) and the
# example's npm packages. A failed install fails the run: under CI=true
# tests never skip.
deps:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server redis-tools"; \
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	{ command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; } || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@test -f $(NPM_TOOLS)/node_modules/axe-core/axe.min.js -a -f $(NPM_TOOLS)/node_modules/terser/bin/terser \
		-a -f $(NPM_TOOLS)/node_modules/http_ece/ece.js || \
		npm install --prefix $(NPM_TOOLS) --no-audit --no-fund --loglevel=error $(NPM_PACKAGES)
	@$(MAKE) --no-print-directory $(NODE_RECEIVER)/node_modules/.installed

$(NODE_RECEIVER)/node_modules/.installed: $(NODE_RECEIVER)/package.json $(NODE_RECEIVER)/package-lock.json
	npm ci --prefix $(NODE_RECEIVER) --no-audit --no-fund --loglevel=error
	@touch $@

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

# build writes bin/flashwire (or BIN), a static binary stamped with
# VERSION, REVISION and MODIFIED.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/flashwire

run:
	$(GO) run ./cmd/flashwire

# bench measures Flashwire against the floor in one run and rewrites the
# generated section of BENCHMARKS.md: flashwire-bench compare starts
# redis-server, Flashwire instances (bin/flashwire, built here), a minimal
# broadcaster and client workers itself, alternates floor and Flashwire
# runs (median of 3): one instance with 15,000 readers, three instances on
# one Redis with 15,000 each, and webhooks to 100 local receivers. It
# stops every process it started and takes about 15-20 minutes on 2
# cores; BENCH_FLAGS scales it down, such as
#   make bench BENCH_FLAGS='-conns 5000 -instances 0 -rounds 1'
# and BENCH_OUT= prints the report without touching BENCHMARKS.md.
# The fan-out Go benchmarks (seconds) are run first and quoted in the same
# section. bench-go runs every Go benchmark (the audience ones store a
# million readers: minutes).
BENCH_FLAGS ?=
BENCH_OUT ?= BENCHMARKS.md
BENCH_GO_OUT := bin/bench-go.txt
bench: build
	$(GO) build -o bin/flashwire-bench ./cmd/flashwire-bench
	$(GO) test -run '^$$' -bench 'FanOut|Encode' -benchtime 300x -benchmem ./web/ > $(BENCH_GO_OUT) || { cat $(BENCH_GO_OUT); exit 1; }
	@cat $(BENCH_GO_OUT)
	bin/flashwire-bench compare -flashwire-bin $(BIN) -markdown '$(BENCH_OUT)' \
		-go-bench $(BENCH_GO_OUT) -go-bench-command "go test -run '^\$$' -bench 'FanOut|Encode' -benchtime 300x -benchmem ./web/" $(BENCH_FLAGS)

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Every fuzz target, as package:name: the feed parsers, and the readers of
# what clients send (alert, preferences, partner and source JSON, WebSocket
# client frames).
FUZZ_TARGETS := ./notifier/watch:FuzzParseNinjs ./notifier/watch:FuzzParseFeed \
	./web:FuzzAlertJSON ./web:FuzzPreferencesJSON ./web:FuzzPartnerJSON \
	./web:FuzzSourceJSON ./web:FuzzClientFrame

# fuzz runs each fuzz target for FUZZTIME; new failing inputs land in
# testdata/fuzz/ and become regression seeds. make test runs each for
# FUZZ_SHORT first (go test alone runs the committed seeds only).
FUZZTIME ?= 30s
FUZZ_SHORT ?= 5s
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name ($$pkg) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZ_SHORT)
