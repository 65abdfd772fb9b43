package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qubital/office-router/internal/cli"
	"github.com/qubital/office-router/internal/harness"
	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/internal/stack"
	"github.com/qubital/office-router/issuer"
	"github.com/qubital/office-router/proxy"
	"github.com/qubital/office-router/verifier"
)

// devStack is a real dev-mode issuer and a real Go proxy in hub mode that trusts its key, both
// on 127.0.0.1; keyFile holds the issuer's signing key as check and publish need it.
type devStack struct {
	issuer, router, keyFile string
}

func newDevStack(t *testing.T) devStack {
	t.Helper()
	key, err := rsakey.ReadPrivateKeyFile("../../testdata/keys/test-only-a.pem")
	if err != nil {
		t.Fatal(err)
	}
	privPEM, _ := rsakey.EncodePrivateKeyPEM(key)
	pubPEM, _ := rsakey.EncodePublicKeyPEM(&key.PublicKey)
	v, err := verifier.New(verifier.Config{PublicKeysPEM: string(pubPEM), Issuer: issuer.DevIssuer, Audience: issuer.DevAudience})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	px, err := proxy.New(proxy.Config{}, v)
	if err != nil {
		t.Fatal(err)
	}
	rs := httptest.NewServer(px)
	t.Cleanup(func() { _ = px.Shutdown(t.Context()); rs.Close() })
	iss, err := issuer.New(issuer.Config{Dev: true, DevPrivateKeyPEM: string(privPEM), WebSocketBaseURL: "ws" + strings.TrimPrefix(rs.URL, "http")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = iss.Close() })
	is := httptest.NewServer(iss)
	t.Cleanup(is.Close)
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(keyFile, privPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return devStack{issuer: is.URL, router: rs.URL, keyFile: keyFile}
}

func runHarness(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestHelpAndVersionExitZero(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-h"}, "commands:"},
		{[]string{"--help"}, "commands:"},
		{[]string{"help"}, "publish"},
		{[]string{"-version"}, "wsharness "},
		{[]string{"check", "-h"}, "-key"},
		{[]string{"load", "--help"}, "-conns"},
		{[]string{"publish", "help"}, "-to"},
		{[]string{"connect", "-h"}, "-access-token"},
		// Commands that parse their own flags have the same manners as the others.
		{[]string{"rotate-check", "-h"}, "usage: wsharness rotate-check"},
		{[]string{"rotate-check", "help"}, "-trusted"},
		{[]string{"rotate-check", "-version"}, "wsharness rotate-check "},
		{[]string{"soak", "-h"}, "usage: wsharness soak"},
		{[]string{"soak", "--help"}, "-edgeproxy"},
		{[]string{"soak", "-version"}, "wsharness soak "},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, _, err := runHarness(t, "", tt.args...)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !strings.Contains(out, tt.want) {
				t.Fatalf("stdout lacks %q:\n%s", tt.want, out)
			}
		})
	}
}

// TestEveryCommandIsListedAndAnswersHelp: a command added to the table shows in the usage, and
// its -h prints its synopsis and exits 0 with no network, as the others do.
func TestEveryCommandIsListedAndAnswersHelp(t *testing.T) {
	help, _, err := runHarness(t, "", "help")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(help, "\n  "+c.name+" ") || !strings.Contains(help, c.summary) {
				t.Errorf("usage lacks %q:\n%s", c.name, help)
			}
			out, _, err := runHarness(t, "", c.name, "-h")
			if err != nil {
				t.Fatalf("%s -h: err = %v", c.name, err)
			}
			if !strings.Contains(out, "usage: wsharness "+c.name) {
				t.Errorf("%s -h lacks its synopsis:\n%s", c.name, out)
			}
		})
	}
}

func TestEachCommandListsOnlyItsFlags(t *testing.T) {
	tests := []struct {
		cmd     string
		without []string
	}{
		{"token", []string{"-router", "-key", "-json"}},
		{"check", []string{"-user", "-org", "-role", "-conns"}},
		{"publish", []string{"-user", "-role", "-issuer", "-conns"}},
	}
	for _, tt := range tests {
		out, _, err := runHarness(t, "", tt.cmd, "-h")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range tt.without {
			if strings.Contains(out, "  "+f+" ") || strings.Contains(out, "  "+f+"\n") {
				t.Errorf("%s -h lists %s:\n%s", tt.cmd, f, out)
			}
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"nope"}, {"check", "-bogus"}} {
		_, _, err := runHarness(t, "", args...)
		if !errors.Is(err, cli.ErrUsage) {
			t.Errorf("%v: err = %v, want ErrUsage", args, err)
		}
	}
}

func TestLoadExitCode(t *testing.T) {
	s := newDevStack(t)
	dead, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		router  string
		wantErr error
	}{
		{"every connection opens", s.router, nil},
		{"a dead router fails the run", fmt.Sprintf("http://127.0.0.1:%d", dead), errFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, err := runHarness(t, "", "load", "-issuer", s.issuer, "-router", tt.router, "-key", "/nonexistent",
				"-conns", "4", "-orgs", "2", "-messages", "2", "-timeout", "20s")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v\n%s\n%s", err, tt.wantErr, out, errOut)
			}
		})
	}
}

func TestCheckHintsAtAKeyMismatch(t *testing.T) {
	s := newDevStack(t)
	out, _, err := runHarness(t, "", "check", "-issuer", s.issuer, "-router", s.router, "-key", s.keyFile, "-origin", "")
	if err != nil || strings.Contains(out, "hint:") {
		t.Fatalf("the right key: err = %v\n%s", err, out)
	}
	out, _, err = runHarness(t, "", "check", "-issuer", s.issuer, "-router", s.router, "-key", "../../testdata/keys/test-only-b.pem", "-origin", "")
	if !errors.Is(err, errFailed) || !strings.Contains(out, "hint:") || !strings.Contains(out, "CONN_JWT_PUBLIC_KEY") {
		t.Fatalf("a foreign key: err = %v, want a failure with a hint\n%s", err, out)
	}
}

func TestPublishReachesTheOrgAndOneUser(t *testing.T) {
	s := newDevStack(t)
	iss := harness.Issuer{URL: s.issuer}
	dial := func(user string) *harness.DialResult {
		a, err := iss.Handshake(t.Context(), user, "acme", "member")
		if err != nil {
			t.Fatal(err)
		}
		r, err := harness.Dial(t.Context(), a.URL, a.Token, harness.InSubprotocol, nil)
		if err != nil || r.Conn == nil {
			t.Fatalf("dial %s: %v %d %s", user, err, r.Status, r.Reason)
		}
		t.Cleanup(func() { r.Conn.Close() })
		if m, err := harness.ReadJSON(r.Conn, 5*time.Second); err != nil || m["type"] != "welcome" {
			t.Fatalf("welcome: %v %v", m, err)
		}
		return &r
	}
	alice, bob := dial("alice"), dial("bob")
	if _, err := harness.ReadJSON(alice.Conn, 5*time.Second); err != nil { // bob's join
		t.Fatal(err)
	}
	out, _, err := runHarness(t, "", "publish", "-router", s.router, "-org", "acme", "-key", s.keyFile, `{"deploy":"done"}`)
	if err != nil || !strings.Contains(out, "delivered to 2") {
		t.Fatalf("publish to the org: %v\n%s", err, out)
	}
	for _, c := range []*harness.DialResult{alice, bob} {
		m, err := harness.ReadJSON(c.Conn, 5*time.Second)
		if err != nil || m["type"] != "event" || fmt.Sprint(m["data"]) != "map[deploy:done]" {
			t.Fatalf("event = %v, %v", m, err)
		}
	}
	out, _, err = runHarness(t, "", "publish", "-router", s.router, "-org", "acme", "-to", "bob", "-key", s.keyFile, "just bob")
	if err != nil || !strings.Contains(out, "delivered to 1") {
		t.Fatalf("publish to bob: %v\n%s", err, out)
	}
	if m, err := harness.ReadJSON(bob.Conn, 5*time.Second); err != nil || m["data"] != "just bob" {
		t.Fatalf("bob got %v, %v", m, err)
	}
	_, _, err = runHarness(t, "", "publish", "-router", s.router, "-org", "acme", "-key", "../../testdata/keys/test-only-b.pem", "x")
	if err == nil || !strings.Contains(err.Error(), "unknown_kid") || !strings.Contains(err.Error(), "CONN_JWT_PUBLIC_KEY") {
		t.Fatalf("a foreign key: err = %v", err)
	}
}

func TestConnectLineToFrame(t *testing.T) {
	tests := []struct {
		line, want string
		wantErr    bool
	}{
		{"hello team", `{"data":"hello team","type":"broadcast"}`, false},
		{"/to bob psst", `{"data":"psst","to":"bob","type":"direct"}`, false},
		{`/raw {"type":"nope"}`, `{"type":"nope"}`, false},
		{"/raw not json", `not json`, false},
		{"/to bob", "", true},
		{"   ", "", false},
	}
	for _, tt := range tests {
		got, err := frameOf(tt.line)
		if (err != nil) != tt.wantErr || string(got) != tt.want {
			t.Errorf("frameOf(%q) = %s, %v; want %s (err %v)", tt.line, got, err, tt.want, tt.wantErr)
		}
	}
}

// connect -token uses a ready token and no issuer at all; "/to" sends a direct message and
// "/raw" a frame as typed.
func TestConnectWithAReadyToken(t *testing.T) {
	s := newDevStack(t)
	iss := harness.Issuer{URL: s.issuer}
	da, err := iss.Handshake(t.Context(), "dave", "acme", "member")
	if err != nil {
		t.Fatal(err)
	}
	dave, err := harness.Dial(t.Context(), da.URL, da.Token, harness.InSubprotocol, nil)
	if err != nil || dave.Conn == nil {
		t.Fatalf("dave: %v", err)
	}
	defer dave.Conn.Close()
	if _, err := harness.ReadJSON(dave.Conn, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	a, err := iss.Handshake(t.Context(), "carol", "acme", "member")
	if err != nil {
		t.Fatal(err)
	}
	stdin := "/to dave psst\n/raw {\"type\":\"broadcast\",\"data\":{\"raw\":true}}\n"
	out, errOut, err := runHarness(t, stdin, "connect", "-issuer", "http://127.0.0.1:1", "-router", s.router, "-org", "acme", "-token", a.Token)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if !strings.Contains(out, `"type":"welcome"`) {
		t.Fatalf("no welcome:\n%s\n%s", out, errOut)
	}
	var got []string
	for len(got) < 2 {
		m, err := harness.ReadJSON(dave.Conn, 5*time.Second)
		if err != nil {
			t.Fatalf("dave got only %v: %v", got, err)
		}
		if m["type"] == "message" && m["from"] == "carol" {
			got = append(got, fmt.Sprintf("%v direct=%v", m["data"], m["direct"]))
		}
	}
	if want := []string{"psst direct=true", "map[raw:true] direct=<nil>"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("dave got %v, want %v", got, want)
	}
}
