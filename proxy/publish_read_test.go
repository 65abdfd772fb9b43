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
