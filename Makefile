# The two commands a newcomer needs (README): `make dev` and `make test`.
.PHONY: dev dev-go test bench vectors

dev:      ## whole local stack: issuer + Worker (wrangler dev) + Go edge proxy, generated dev keys
	go run ./cmd/devstack

dev-go:   ## the same without Node: issuer + Go edge proxy
	go run ./cmd/devstack -no-worker

test:     ## every test: Go (race, e2e against wrangler dev), Worker (workerd), fuzz
	./scripts/test.sh

bench:    ## benchmark suite and docs/performance.md
	go run ./cmd/bench

vectors:  ## regenerate testdata/vectors/handshake.json
	go generate ./verifier
