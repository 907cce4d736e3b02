# Vigil: `make run` starts a development collector and agent; `make test` runs every test.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X github.com/vigilmon/vigil/agent.Version=$(VERSION) -X github.com/vigilmon/vigil/collector.Version=$(VERSION) -X main.commit=$(COMMIT)
# make package: the architecture of the packages (a GOARCH).
ARCH     ?= $(shell $(GO) env GOARCH)
# make dist: the platforms static agents are built for.
DIST_PLATFORMS ?= linux/amd64 linux/arm64 windows/amd64 darwin/arm64
VAR      ?= var

.PHONY: all build run test lint fuzz proto clean bench bench-agent bench-store bench-query package dist generate

all: build

# Static binaries (CGO off), as `make package` and `make dist` build them:
# what bench-agent measures is what ships, and the agent maps no libc
# (about 1.3 MB less resident memory).
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/vigil-agent ./cmd/vigil-collector

# Dev mode (DESIGN §8): certificates, configs and tokens under ./var, a
# collector on 127.0.0.1:4433 (QUIC) and 127.0.0.1:8080 (HTTP), and an agent
# for this host. Ctrl-C stops both.
run: build
	@bin/vigil-collector dev-setup --dir $(VAR)
	@echo
	@echo "Query this host's CPU (a new point every 10 s):"
	@echo '  curl -H "Authorization: Bearer $$(cat $(VAR)/read-token)" "http://127.0.0.1:8080/v1/query?agent=$$(hostname)&check=cpu&metric=usage_percent&from=-5m"'
	@echo
	@trap 'kill -INT $$c $$a 2>/dev/null; wait' INT TERM; \
	bin/vigil-collector run --config $(VAR)/collector.toml & c=$$!; \
	bin/vigil-agent run --config $(VAR)/agent.toml & a=$$!; \
	wait

test:
	$(GO) vet ./...
	$(GO) test -race -timeout 12m ./...

# Files made from the code, each held to it by a test that fails on drift:
# packaging/agent.toml (the sample config, from the check registry) and
# README.md's table of built-in metrics (from each check's declared metrics).
generate:
	$(GO) generate ./agent/...

# golangci-lint with .golangci.yml (errcheck, staticcheck, unused, dupl).
# Pinned, and installed into bin/ on first use with go install from the
# module proxy rather than as a tool line in go.mod: its few hundred modules
# would join the program's module graph (go.sum, and minimum version
# selection could raise the versions the daemons build with). Set
# GOLANGCI_LINT to use another binary.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT ?= bin/golangci-lint-$(GOLANGCI_LINT_VERSION)
lint: $(filter bin/%,$(GOLANGCI_LINT))
	$(GOLANGCI_LINT) run ./...

bin/golangci-lint-$(GOLANGCI_LINT_VERSION):
	GOBIN=$(CURDIR)/bin/.golangci-lint $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv bin/.golangci-lint/golangci-lint $@ && rmdir bin/.golangci-lint

# Go benchmarks of the hot paths (checks, framing, store, spool).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The agent's footprint: default checks every 10 s against a local collector
# for 10 minutes after a minute's warm-up; prints steady-state RSS and CPU.
BENCH_DURATION ?= 10m
bench-agent: build
	$(GO) run ./bench/agentfootprint --bin bin --duration $(BENCH_DURATION)

# The embedded store on generated agent data (bench/storegen; DATA=FILE...
# to use other files, e.g. ../shared/bench/tsdbgen's): import, compression,
# bytes/point, ingest per CPU-second, query medians (bench/storebench).
BENCH_HOSTS ?= 100
bench-store:
	@data="$(DATA)"; if [ -z "$$data" ]; then data=$${TMPDIR:-/tmp}/vigil-storegen-$(BENCH_HOSTS).prom; \
	  [ -s $$data ] || $(GO) run ./bench/storegen --hosts $(BENCH_HOSTS) -o $$data || exit 1; fi; \
	$(GO) run ./bench/storebench $$data

# Query latency through the HTTP API on the embedded store: median and p99
# of /v1/query (24 h raw, 30 days) and PromQL rate() over 60 series for 6 h
# (bench/querybench), on day blocks and on the live layout (chunks, head).
bench-query:
	$(GO) run ./bench/querybench
	$(GO) run ./bench/querybench --recent

# A short run of every fuzz target.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list 'Fuzz.*' $$pkg | grep ^Fuzz); do \
	    $(GO) test -run XXX -fuzz "^$$f$$" -fuzztime 10s $$pkg || exit 1; \
	  done; \
	done

# Regenerates protocol/vigil.pb.go with protoc (Debian: protobuf-compiler)
# and the protoc-gen-go pinned by the tool line in go.mod.
proto:
	$(GO) build -o bin/protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go
	protoc --plugin=protoc-gen-go=bin/protoc-gen-go --go_out=. --go_opt=paths=source_relative protocol/vigil.proto

# dist/vigil-agent_<version>_<arch>.deb and .rpm and the same for
# vigil-collector, for linux/$(ARCH): static binaries, packaged with nfpm
# (a library of packaging/mkpkg only; the daemons link none of it).
package:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/linux_$(ARCH)/ ./cmd/vigil-agent ./cmd/vigil-collector
	$(GO) run ./packaging/mkpkg --version $(VERSION) --arch $(ARCH) --bin dist/linux_$(ARCH) --out dist

# Static agents (CGO off) for every platform in DIST_PLATFORMS:
# dist/vigil-agent_<version>_<os>_<arch>[.exe].
dist:
	@for p in $(DIST_PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
	  out=dist/vigil-agent_$(VERSION)_$${os}_$${arch}$$ext; echo $$out; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$out ./cmd/vigil-agent || exit 1; \
	done

clean:
	rm -rf bin dist
