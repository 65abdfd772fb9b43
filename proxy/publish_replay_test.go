package proxy_test

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qubital/office-router/proxy"
)

// Publish tokens are single-use, like handshake tokens (docs/protocol.md "Publish"), in the
// Worker and in both modes of the Go proxy. A refused body does not spend the token.
func TestPublishTokenSingleUse(t *testing.T) {
	up := newEnv(t, proxy.Config{})
	for _, tc := range []struct {
		name string
		e    *env
	}{
		{"hub", newEnv(t, proxy.Config{})},
		{"forward, identity headers", newEnv(t, proxy.Config{Upstream: up.wsURL})},
		{"forward, token forwarded", newEnv(t, proxy.Config{Upstream: up.wsURL, ForwardToken: true})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := mustPublish(t, tc.e, "acme")
			auth := http.Header{"Authorization": {"Bearer " + tok}}
			if status, _, m := tc.e.do("POST", "/orgs/acme/publish", auth, `{"data":1,"x":2}`); status != 400 || m["error"] != "bad_request" {
				t.Fatalf("bad body: %d %v", status, m)
			}
			if status, _, m := tc.e.do("POST", "/orgs/acme/publish", auth, `{"data":1}`); status != 200 {
				t.Fatalf("first use: %d %v", status, m)
			}
			if status, _, m := tc.e.do("POST", "/orgs/acme/publish", auth, `{"data":2}`); status != 401 || m["error"] != "replayed" {
				t.Fatalf("second use: %d %v, want 401 replayed", status, m)
			}
		})
	}
}

// A publish body that cannot be read (bad chunked framing, a client that stops or times out)
// is a bad request, not an over-large one; 413 is kept for bodies past the limit.
func TestPublishBodyReadError(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := "POST /orgs/acme/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + mustPublish(t, e, "acme") +
		"\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"dat\r\nzz\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	if resp.StatusCode != 400 || m["error"] != "bad_request" {
		t.Fatalf("bad chunked framing: %d %v, want 400 bad_request", resp.StatusCode, m)
	}
}
