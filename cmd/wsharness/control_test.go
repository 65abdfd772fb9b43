package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/internal/cli"
	"github.com/qubital/office-router/internal/harness"
)

// presence and disconnect against a real Go hub: the table, the JSON, the close the user's
// socket gets, and the usage errors.
func TestPresenceAndDisconnect(t *testing.T) {
	s := newDevStack(t)
	iss := harness.Issuer{URL: s.issuer}
	a, err := iss.Handshake(t.Context(), "alice", "acme", "admin")
	if err != nil {
		t.Fatal(err)
	}
	r, err := harness.Dial(t.Context(), a.URL, a.Token, harness.InSubprotocol, nil)
	if err != nil || r.Conn == nil {
		t.Fatalf("dial: %v %d %s", err, r.Status, r.Reason)
	}
	defer r.Conn.Close()
	if m, err := harness.ReadJSON(r.Conn, 5*time.Second); err != nil || m["type"] != "welcome" {
		t.Fatalf("welcome: %v %v", m, err)
	}
	out, _, err := runHarness(t, "", "presence", "-router", s.router, "-org", "acme", "-key", s.keyFile)
	if err != nil || !strings.Contains(out, "alice  admin  1") || !strings.Contains(out, "1 user(s) online in acme") {
		t.Fatalf("presence: %v\n%s", err, out)
	}
	out, _, err = runHarness(t, "", "disconnect", "-router", s.router, "-org", "acme", "-key", s.keyFile, "-code", "4003", "-block", "65", "-json", "alice")
	var got map[string]int
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || got["disconnected"] != 1 || len(got) != 1 {
		t.Fatalf("disconnect: %v\n%s", err, out)
	}
	_ = r.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := r.Conn.ReadMessage(); !websocket.IsCloseError(err, 4003) {
		t.Fatalf("alice's socket: %v, want close 4003", err)
	}
	out, _, err = runHarness(t, "", "presence", "-router", s.router, "-org", "acme", "-key", s.keyFile, "-json")
	if err != nil || strings.TrimSpace(out) != `{"users":[]}` {
		t.Fatalf("presence -json after the disconnect: %v\n%s", err, out)
	}
	out, _, err = runHarness(t, "", "disconnect", "-router", s.router, "-org", "acme", "-key", s.keyFile, "alice")
	if err != nil || !strings.Contains(out, "closed 0 connection(s) of alice in acme with 4001 reauth_required") {
		t.Fatalf("disconnect nobody: %v\n%s", err, out)
	}
	_, _, err = runHarness(t, "", "disconnect", "-router", s.router, "-org", "acme", "-key", s.keyFile, "-code", "1000", "alice")
	if err == nil || !strings.Contains(err.Error(), "400 bad_request") {
		t.Fatalf("-code 1000: err = %v, want the router's 400 bad_request", err)
	}
	for _, args := range [][]string{
		{"disconnect", "-router", s.router, "-key", s.keyFile},
		{"presence", "-key", s.keyFile},
		{"presence", "-router", s.router, "-key", s.keyFile, "extra"},
	} {
		if _, _, err := runHarness(t, "", args...); !errors.Is(err, cli.ErrUsage) {
			t.Errorf("%v: err = %v, want usage", args, err)
		}
	}
}
