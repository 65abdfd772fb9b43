# The two commands a newcomer needs (README): `make dev` and `make test`.
.PHONY: dev dev-go test bench vectors

# The dev stack is built, then exec'd by make's shell, so it is make's own child: `go run` dies on
# SIGTERM without passing it on, which left the stack (workerd included) running and holding its
# ports after a `kill` of make. make dev ORIGINS=http://app.test:3000 (extra browser origins;
# http://localhost:* is allowed), V=1 (every server's log), ARGS='…' (any other flag:
# go run ./cmd/devstack -h), e.g. make dev ARGS='-issuer-addr 127.0.0.1:9080'.
DEVSTACK = go build -o bin/devstack ./cmd/devstack && exec bin/devstack \
	$(if $(ORIGINS),-origins '$(ORIGINS)') $(if $(V),-v) $(ARGS)

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
