# Linkport: `make run` starts the portal with SQLite and the local provider
# emulator; `make test` runs every check CI runs.

GO        ?= go
EMULATOR  ?= on
HTMX      ?= 2.0.11
AXE       ?= 4.14.1
PKGS      := ./...
BENCH_FLAGS ?=

.PHONY: run build test lint unit generate check-generate fmt-check bench bench-go vendor-htmx vendor-axe clean

## run: the portal on http://localhost:8080 (SQLite under ./data, emulator on; EMULATOR=off for real providers from .env)
run:
	LINKPORT_EMULATOR=$(EMULATOR) $(GO) run ./cmd/linkport

## build: a static binary in ./bin (no cgo)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/linkport ./cmd/linkport

## test: formatting, vet, staticcheck, generated views up to date, then every test with -race
test: lint unit

unit:
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

lint: fmt-check check-generate
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ\.go$$')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## generate: regenerate templ views
generate:
	$(GO) tool templ generate -path views

check-generate: generate
	@git diff --exit-code -- views || (echo "templ generate changed views/: run 'make generate' and commit"; exit 1)
	@test -z "$$(git ls-files --others --exclude-standard views)" || (echo "untracked generated files in views/"; exit 1)

## bench: the issue-5 table: starts the real server, loads it, prints a Markdown table
##        (BENCH_FLAGS='-db postgres://... -session-store redis://...' adds the scaled-out column)
bench:
	$(GO) run ./cmd/linkport-bench $(BENCH_FLAGS)

## bench-go: the Go benchmarks of the handlers (figures are ratios within one run; the machine is noisy)
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./handlers/

## vendor-htmx: refresh static/htmx.min.js from the htmx.org npm package
vendor-htmx:
	tmp=$$(mktemp -d) && cd $$tmp && npm pack htmx.org@$(HTMX) >/dev/null && tar xzf htmx.org-$(HTMX).tgz && \
	cp package/dist/htmx.min.js $(CURDIR)/static/htmx.min.js && cp package/LICENSE $(CURDIR)/static/htmx.LICENSE && rm -rf $$tmp
	@echo "htmx.min.js  htmx.org@$(HTMX) (npm), dist/htmx.min.js, unmodified; refresh with \`make vendor-htmx\`" > static/VERSIONS

## vendor-axe: refresh e2e/testdata/axe.min.js (accessibility checks in browser tests only) from the axe-core npm package
vendor-axe:
	tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent axe-core@$(AXE) >/dev/null && tar xzf axe-core-$(AXE).tgz && \
	cp package/axe.min.js $(CURDIR)/e2e/testdata/axe.min.js && cp package/LICENSE $(CURDIR)/e2e/testdata/axe.LICENSE && rm -rf $$tmp
	@echo "axe.min.js  axe-core@$(AXE) (npm), axe.min.js, unmodified; used only by the browser tests in e2e/; refresh with \`make vendor-axe\`" > e2e/testdata/VERSIONS

clean:
	rm -rf bin
