# The two commands a newcomer needs (README): `make dev` and `make test`.
.PHONY: dev dev-go test bench vectors

# The dev stack is built, then run as make's own child: `go run` dies on SIGTERM without passing it
# on, which left the stack (workerd included) running and holding its ports after a `kill` of make.
# ARGS go to cmd/devstack, e.g. make dev ARGS='-issuer-addr 127.0.0.1:9080'.
dev:      ## whole local stack: issuer + Worker (wrangler dev) + Go edge proxy, generated dev keys
	go build -o bin/devstack ./cmd/devstack
	bin/devstack $(ARGS)

dev-go:   ## the same without Node: issuer + Go edge proxy
	go build -o bin/devstack ./cmd/devstack
	bin/devstack -no-worker $(ARGS)

test:     ## every test: Go (race, e2e against wrangler dev), Worker (workerd), fuzz
	./scripts/test.sh

bench:    ## benchmark suite and docs/performance.md
	go run ./cmd/bench

vectors:  ## regenerate testdata/vectors/handshake.json
	go generate ./verifier
