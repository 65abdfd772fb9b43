// Package e2e runs the office-router contract end to end against real processes: the issuer
// binary in dev mode, the Worker under a real `wrangler dev` (workerd), and the edge proxy
// binary in hub mode and in forward mode in front of the Worker, all on free 127.0.0.1 ports.
//
// `make test` runs it; to reproduce a CI failure locally: go test -race -count=1 ./e2e -v
package e2e
