# The two commands a newcomer needs (README): `make dev` and `make test`.
.PHONY: dev dev-go test bench vectors

# make dev ORIGINS=http://app.test:3000 (extra browser origins; http://localhost:* is allowed),
# V=1 (every server's log), DEVSTACK_FLAGS=… (any other flag: go run ./cmd/devstack -h).
# The binary is built, then exec'd: make's SIGTERM and Ctrl-C reach devstack itself, which stops
# wrangler and workerd with it; `go run` would not forward SIGTERM.
DEVSTACK = mkdir -p .dev/bin && go build -o .dev/bin/devstack ./cmd/devstack && exec .dev/bin/devstack \
	$(if $(ORIGINS),-origins '$(ORIGINS)') $(if $(V),-v) $(DEVSTACK_FLAGS)

dev:      ## whole local stack: issuer + Worker (wrangler dev) + Go edge proxy, generated dev keys
	@$(DEVSTACK)

dev-go:   ## the same without Node: issuer + Go edge proxy
	@$(DEVSTACK) -no-worker

test:     ## every test: Go (race, e2e against wrangler dev), Worker (workerd), fuzz
	./scripts/test.sh

bench:    ## benchmark suite and docs/performance.md
	go run ./cmd/bench

vectors:  ## regenerate testdata/vectors/handshake.json
	go generate ./verifier
