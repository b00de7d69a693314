# The README's two commands are `make run` and `make test`.
GO        ?= go
PKG       := ./cmd/helhedsplan
TEST_FLAGS ?= -count=1 -timeout 20m

.PHONY: run test vet build build-prod bench chaos screenshots clean web-assets axe-core

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

## chaos: the chaos suite (issue 5): 200 initiatives through the API while the worker is killed, Temporal restarted,
## PostgreSQL stopped and the finance webhook down; fails unless everything completes exactly once (about 10 min).
## Built, then run, because the suite starts this binary as its temporal, worker and api processes.
## CHAOS_ARGS=-small is the CI version; `./bin/helhedsplan chaos -h` lists the options.
chaos: build
	./bin/helhedsplan chaos $(CHAOS_ARGS)

## web-assets: refresh the vendored Det Fælles Designsystem (npm package dkfds, pinned) in web/static/vendor/dkfds:
## its compiled CSS and JS, the IBM Plex Sans woff2 fonts and the icons the CSS refers to, and the licences. Needs
## npm; running and testing the product does not.
DKFDS_VERSION := 11.2.0
DKFDS_DIR     := web/static/vendor/dkfds
web-assets:
	@set -e; tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	  (cd "$$tmp" && npm pack --silent dkfds@$(DKFDS_VERSION) >/dev/null && tar xzf dkfds-$(DKFDS_VERSION).tgz); \
	  d="$$tmp/package/dist"; rm -rf $(DKFDS_DIR); \
	  mkdir -p $(DKFDS_DIR)/css $(DKFDS_DIR)/js $(DKFDS_DIR)/fonts/IBMPlexSans/complete/woff2 $(DKFDS_DIR)/img/svg-icons; \
	  sed '/sourceMappingURL/d' "$$d/css/dkfds.min.css" > $(DKFDS_DIR)/css/dkfds.min.css; \
	  sed '/sourceMappingURL/d' "$$d/js/dkfds.min.js" > $(DKFDS_DIR)/js/dkfds.min.js; \
	  cp "$$tmp/package/LICENSE.md" $(DKFDS_DIR)/LICENSE.md; \
	  cp "$$d/fonts/IBMPlexSans/complete/woff2/"*.woff2 "$$d/fonts/IBMPlexSans/complete/woff2/license.txt" \
	    $(DKFDS_DIR)/fonts/IBMPlexSans/complete/woff2/; \
	  for f in $$(grep -o 'url([^)]*)' $(DKFDS_DIR)/css/dkfds.min.css | sed -n 's|^url(\.\./\(img/[^)]*\.svg\))$$|\1|p' | sort -u); do \
	    cp "$$d/$$f" "$(DKFDS_DIR)/$$f"; done; \
	  for f in $(DKFDS_DIR)/fonts/IBMPlexSans/complete/woff2/*.woff2; do \
	    grep -q "$$(basename $$f)" $(DKFDS_DIR)/css/dkfds.min.css || rm "$$f"; done; \
	  echo "dkfds $(DKFDS_VERSION) from the npm registry ($$(cd "$$tmp" && sha1sum dkfds-$(DKFDS_VERSION).tgz | cut -d' ' -f1) sha1 of the tarball)" > $(DKFDS_DIR)/VERSION; \
	  du -sh $(DKFDS_DIR)

## axe-core: refresh the accessibility checker the browser tests inject (npm package axe-core, pinned in
## internal/browsertest/axe/refresh.sh) with its licences. Needs npm; running and testing the product do not.
axe-core:
	internal/browsertest/axe/refresh.sh

## screenshots: refresh the README's screenshots from the browser walk-through and the board's tests (needs chromium)
SHOTS := artifacts/screenshots/TestAnInitiativeFromProposalToCompletedThroughThePages
screenshots:
	$(GO) test -count=1 -run TestAnInitiativeFromProposalToCompletedThroughThePages ./e2e
	mkdir -p docs/screenshots
	cp $(SHOTS)/04-mit-arbejde-bestyrelse.png docs/screenshots/mit-arbejde.png
	cp $(SHOTS)/02-nyt-forslag-afvist.png docs/screenshots/nyt-forslag-fejl.png
	cp $(SHOTS)/05-godkendt.png docs/screenshots/indsats.png
	cp $(SHOTS)/06-oekonomi-afventer.png docs/screenshots/oekonomi.png
	cp $(SHOTS)/12-planen-efter.png docs/screenshots/planen.png
	$(GO) test -count=1 -run 'TestBoardVotesFromMitArbejdeThroughThePages|TestOverdueStepsShowForTheChairThroughThePages|TestChangeRequestFromFormToDecisionThroughThePages' ./e2e
	cp artifacts/screenshots/TestBoardVotesFromMitArbejdeThroughThePages/03-lars-har-stemt.png docs/screenshots/afstemning.png
	cp artifacts/screenshots/TestOverdueStepsShowForTheChairThroughThePages/04-mit-arbejde-hanne.png docs/screenshots/overskredet.png
	cp artifacts/screenshots/TestChangeRequestFromFormToDecisionThroughThePages/03-aendring-sendt.png docs/screenshots/aendring.png
	$(GO) test -count=1 -run 'TestMoneyPagesInABrowser|TestPaymentRoundInABrowser' ./web
	cp artifacts/screenshots/TestPaymentRoundInABrowser/04-kontoudtog-afstemt.png docs/screenshots/kontoudtog-afstemt.png
	cp artifacts/screenshots/TestMoneyPagesInABrowser/05-tilbagebetalinger.png docs/screenshots/tilbagebetalinger.png
	cp artifacts/screenshots/TestMoneyPagesInABrowser/08-aarsregnskab-2023.png docs/screenshots/aarsregnskab.png

clean:
	rm -rf bin
