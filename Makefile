# Flashwire: `make test` installs what the tests need when it is missing,
# then runs every test against real components.

GO ?= go
APT_PACKAGES := redis-server redis-tools chromium
# npm tools the tests use (http_ece, an independent Web Push decryption to
# check Flashwire's against), installed into an ignored folder.
NPM_TOOLS := .tools/npm
NPM_PACKAGES := http_ece@1.2.1
export PATH := /usr/local/go/bin:$(PATH)

.PHONY: test deps build run bench fuzz vet fmt

test: deps vet
	$(GO) test -race -count=1 -timeout 20m ./...

# deps installs redis-server, chromium and npm from Debian's packages, and
# the npm tools into $(NPM_TOOLS), when they are missing. A failed install
# fails the run: under CI=true tests never skip.
deps:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server redis-tools"; \
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@test -f $(NPM_TOOLS)/node_modules/http_ece/ece.js || \
		npm install --prefix $(NPM_TOOLS) --no-audit --no-fund --loglevel=error $(NPM_PACKAGES)

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/flashwire ./cmd/flashwire

run:
	$(GO) run ./cmd/flashwire

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# fuzz runs each parser fuzzer for FUZZTIME; new failing inputs land in
# testdata/fuzz/ and become regression seeds.
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseNinjs$$' -fuzztime $(FUZZTIME) ./notifier/watch/
	$(GO) test -run '^$$' -fuzz '^FuzzParseFeed$$' -fuzztime $(FUZZTIME) ./notifier/watch/
