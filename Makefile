# The README's two commands are `make run` and `make test`.
GO        ?= go
PKG       := ./cmd/helhedsplan
TEST_FLAGS ?= -count=1 -timeout 20m

.PHONY: run test vet build build-prod bench clean

## run: the whole service on this machine (embedded Temporal + Web UI, PostgreSQL, worker, API).
## Built, then exec'ed rather than `go run`, which turns a clean Ctrl-C into exit status 1.
run: build
	exec ./bin/helhedsplan dev

## test: every test — workflow, store (real PostgreSQL), HTTP, end-to-end (embedded Temporal)
test: vet
	$(GO) test $(TEST_FLAGS) ./...

vet:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	  if [ -n "$$unformatted" ]; then echo "not gofmt-ed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

## build: the development binary (all roles)
build:
	$(GO) build -o bin/helhedsplan $(PKG)

## build-prod: the production binary, without the embedded Temporal server (roles api, worker, migrate, token)
build-prod:
	CGO_ENABLED=0 $(GO) build -tags nodev -trimpath -o bin/helhedsplan $(PKG)

## bench: lifecycles/s, p50/p99 per endpoint, memory per open initiative, reads with 100,000 initiatives
bench:
	$(GO) run $(PKG) bench $(BENCH_ARGS)

clean:
	rm -rf bin
