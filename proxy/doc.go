// Package proxy is the Go edge proxy: the office-router Worker's twin in Go, and a validating
// forwarder in front of any upstream WebSocket.
//
// In hub mode (the default) it is a complete office-router: the same routes, handshake rules
// and reason codes (through package verifier), the same JSON protocol, presence, broadcast,
// direct messages, backend publish and replay protection, with one hub per organisation that
// exists while the org has connections. In forward mode (Config.Upstream) it validates the
// handshake at the edge and relays frames to the upstream in both directions.
//
// The contract is in docs/protocol.md, docs/reason-codes.md and docs/configuration.md, and in Go
// in package contract. The files follow the Worker's split (docs/architecture.md): proxy.go is
// the edge (routes, CORS, origin, the failure limiter, verification, replay); backend.go is the
// org backend it hands admitted requests to, hub.go and client.go in hub mode, forward.go in
// forward mode.
//
//	v, _ := verifier.New(verifier.Config{PublicKeysPEM: pem, Issuer: iss, Audience: aud})
//	p, _ := proxy.New(proxy.Config{AllowedOrigins: origins}, v)
//	http.ListenAndServe(":8788", p) // and p.Shutdown(ctx) on SIGTERM
//
// A connection has goroutines only while it has work: on Linux its input waits in one epoll
// set for all sockets (poller_linux.go) and is read by a goroutine started when input arrives;
// elsewhere it has one reader goroutine. Its writer goroutine exists only while there is
// something to send; broadcast never blocks, and a connection whose queue overflows is closed
// with 4008.
//
// Liveness (docs/protocol.md#liveness): the hub pings every Config.PingPeriod and drops a socket
// that sent nothing, pongs included, for two periods and Config.WriteWait (70 s); the text frame
// "ping" is answered "pong", so a client written for the Worker, which relies on that text ping
// and closes silent sockets with 4000 after 70 s, works here unchanged.
package proxy
