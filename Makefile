# exportd — run `make` for the list of targets.

SHELL      := /bin/bash
GO         ?= go
VERSION    ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS    := -X main.version=$(VERSION)
GOBIN      := $(shell $(GO) env GOPATH)/bin
PLUGINS    := localfs s3legacy gcs azblob
VERSITYGW  := github.com/versity/versitygw/cmd/versitygw@v1.8.0
AZURITE    := azurite@3.37.0
TOOLS_DIR  := .tools
NFPM       := github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
# The Debian package's version: a vX.Y.Z tag's, else 0.0.0+git<date>.<commit>.
PKG_VERSION ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' 2>/dev/null); \
  if [ -n "$$v" ]; then echo "$${v#v}" | sed 's/-/+/; s/-/./g'; \
  else echo "0.0.0+git$$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || echo 0).$$(git rev-parse --short HEAD 2>/dev/null || echo dev)"; fi)
PKG_ARCH   ?= $(shell $(GO) env GOARCH)
DIST       ?= dist
PROTOC_GEN_GO      := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/exportd and bin/exportd-plugin-* 
	@mkdir -p bin
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/exportd ./daemon
	@for p in $(PLUGINS); do \
	  echo "$(GO) build -o bin/exportd-plugin-$$p ./plugins/$$p/cmd/exportd-plugin-$$p"; \
	  $(GO) build -ldflags '$(LDFLAGS)' -o bin/exportd-plugin-$$p ./plugins/$$p/cmd/exportd-plugin-$$p || exit 1; \
	done

.PHONY: demo
demo: build ## run the daemon on embedded defaults, trigger one export, show the result
	@set -euo pipefail; \
	rm -rf var/demo out/demo; mkdir -p var; \
	./bin/exportd run -config configs/demo.hcl > var/demo.log 2>&1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null || true' EXIT; \
	for i in $$(seq 1 100); do \
	  curl -sf http://127.0.0.1:19464/readyz >/dev/null 2>&1 && break; \
	  kill -0 $$pid 2>/dev/null || { cat var/demo.log; exit 1; }; sleep 0.2; \
	done; \
	echo "== daemon ready; publishing a modelling-complete event for account demo"; \
	./bin/exportd publish -config configs/demo.hcl -account demo; \
	for i in $$(seq 1 300); do [ -f out/demo/receipt.json ] && break; sleep 0.2; done; \
	[ -f out/demo/receipt.json ] || { echo "no receipt after 60s"; cat var/demo.log; exit 1; }; \
	echo "== out/demo/receipt.json"; cat out/demo/receipt.json; \
	echo "== files"; (cd out/demo && find . -type f -printf '%10s  %P\n' | sort -k2); \
	echo "== daemon log: var/demo.log"

.PHONY: test
test: tools ## run every test (starts nats-server and fake-gcs-server in-process, moto, versitygw, Azurite and PostgreSQL as needed)
	$(GO) test -race -count=1 -timeout 60m ./...

.PHONY: tools
tools: ## install what the tests need beyond the machine image (versitygw; Azurite into .tools; promtool and systemd-analyze with apt-get)
	@command -v versitygw >/dev/null 2>&1 || [ -x $(GOBIN)/versitygw ] || { echo "installing versitygw (about 90 s)"; $(GO) install $(VERSITYGW); }
	@[ -x $(TOOLS_DIR)/node_modules/.bin/azurite-blob ] || { command -v npm >/dev/null 2>&1 || { echo "npm is missing: the Azure tests need Node.js and npm to install Azurite"; exit 1; }; \
	  echo "installing $(AZURITE) into $(TOOLS_DIR) (about 40 s)"; \
	  npm install --prefix $(TOOLS_DIR) --no-audit --no-fund --no-save $(AZURITE) >/dev/null || exit 1; }
	@missing=""; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v systemd-analyze >/dev/null 2>&1 || missing="$$missing systemd"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "as root, install Debian's$$missing (promtool, systemd-analyze) for the monitoring and package tests"; exit 0; fi; \
	  echo "installing$$missing with apt-get"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	  command -v promtool >/dev/null || { echo "promtool is still missing"; exit 1; }; \
	fi

.PHONY: package
package: ## build the Debian package dist/exportd_<version>_<arch>.deb (with nfpm)
	@rm -rf $(DIST)/root && mkdir -p $(DIST)/root
	@for p in daemon $(addprefix plugins/,$(PLUGINS)); do \
	  case $$p in daemon) out=exportd; pkg=./daemon;; *) n=$${p#plugins/}; out=exportd-plugin-$$n; pkg=./$$p/cmd/$$out;; esac; \
	  echo "$(GO) build -o $(DIST)/root/$$out $$pkg"; \
	  CGO_ENABLED=0 GOARCH=$(PKG_ARCH) $(GO) build -ldflags '-s -w -X main.version=$(PKG_VERSION)' -o $(DIST)/root/$$out $$pkg || exit 1; \
	done
	PKG_VERSION='$(PKG_VERSION)' PKG_ARCH='$(PKG_ARCH)' PKG_ROOT='$(abspath $(DIST))/root' \
	  $(GO) run $(NFPM) package --config packaging/nfpm.yaml --packager deb --target $(DIST)/

.PHONY: bench
bench: build ## benchmark exports (rows/s, MB/s, peak RSS at two scales) and a fleet burst of 1000 small accounts
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./daemon/ ./internal/parquetw/ ./internal/source/postgres/

FLEET_ACCOUNTS ?= 1000

.PHONY: bench-fleet
bench-fleet: ## only the fleet burst: exports/s, latency, CPU per export (FLEET_ACCOUNTS=300 for a quick run)
	$(GO) test -run '^$$' -bench FleetSmallAccounts -benchtime 1x -timeout 30m ./daemon/ -fleet-accounts=$(FLEET_ACCOUNTS)

.PHONY: lint
lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); [ -z "$$out" ] || { echo "gofmt would change:"; echo "$$out"; exit 1; }
	$(GO) vet ./...

.PHONY: proto
proto: ## regenerate the destination protocol's Go code (needs Debian's protobuf-compiler)
	$(GO) install $(PROTOC_GEN_GO)
	$(GO) install $(PROTOC_GEN_GO_GRPC)
	cd sdk/proto/destination/v1 && PATH="$(GOBIN):$$PATH" protoc -I . \
	  --go_out=. --go_opt=paths=source_relative \
	  --go-grpc_out=. --go-grpc_opt=paths=source_relative destination.proto

.PHONY: clean
clean: ## remove build output and demo data (not the installed tools in .tools)
	rm -rf bin var out $(DIST)
