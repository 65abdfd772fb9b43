package stack_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qubital/office-router/internal/harness"
	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/internal/stack"
	"github.com/qubital/office-router/issuer"
)

// TestWranglerDevEnv starts the dev Worker the way the dev stack and e2e do, from a shell that
// exports a wrong key, issuer and origin list: the key must reach the Worker as the declared
// secret, the issuer from Vars and the origins from env.dev, or the verdicts below change.
func TestWranglerDevEnv(t *testing.T) {
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if err := stack.EnsureNodeModules(t.Context(), root, os.Stderr); err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := rsakey.EncodePublicKeyPEM(&key.PublicKey)
	t.Setenv("CONN_JWT_PUBLIC_KEY", "not a key")
	t.Setenv("JWT_ISSUER", "from-the-shell")
	t.Setenv("ALLOWED_ORIGINS", "https://from-the-shell.test") // not in Vars: env.dev's list must hold
	t.Setenv("CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV", "false") // would hide the key from wrangler

	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p, err := stack.Wrangler(stack.WranglerOptions{Root: root, Port: port, PersistTo: filepath.Join(t.TempDir(), "state"),
		Vars: map[string]string{"CONN_JWT_PUBLIC_KEY": string(pub), "JWT_ISSUER": "stack-test"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(10 * time.Second) })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := stack.WaitHealthy(ctx, base+"/healthz", p); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		iss        string
		origin     string
		wantStatus int
		wantReason string
	}{
		{name: "issuer from Vars", iss: "stack-test", wantStatus: http.StatusSwitchingProtocols},
		{name: "issuer from the shell is not used", iss: "from-the-shell", wantStatus: http.StatusUnauthorized, wantReason: "wrong_issuer"},
		{name: "env.dev's issuer is overridden", iss: "office-router-dev", wantStatus: http.StatusUnauthorized, wantReason: "wrong_issuer"},
		{name: "env.dev's origins", iss: "stack-test", origin: "http://127.0.0.1:8080", wantStatus: http.StatusSwitchingProtocols},
		{name: "origins from the shell are not used", iss: "stack-test", origin: "https://from-the-shell.test", wantStatus: http.StatusForbidden, wantReason: "origin_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := issuer.NewMinter(key, tt.iss, "office-router", nil)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := m.MintHandshake(issuer.Identity{UserID: "alice", OrgID: "acme", Role: "member"})
			if err != nil {
				t.Fatal(err)
			}
			hdr := http.Header{}
			if tt.origin != "" {
				hdr.Set("Origin", tt.origin)
			}
			res, err := harness.Dial(t.Context(), harness.OrgURL(base, "acme"), tok.Token, harness.InHeader, hdr)
			if err != nil {
				t.Fatal(err)
			}
			if res.Conn != nil {
				defer res.Conn.Close()
			}
			if res.Status != tt.wantStatus || res.Reason != tt.wantReason {
				t.Fatalf("got %d %q, want %d %q\n%s", res.Status, res.Reason, tt.wantStatus, tt.wantReason, p.Output())
			}
		})
	}
	if strings.Contains(p.Output(), "Missing required secrets") {
		t.Errorf("wrangler did not get the declared secret:\n%s", p.Output())
	}
}

// TestDeployDryRun runs `wrangler deploy --dry-run` for production (the top level) and env.dev
// and checks the bindings wrangler prints: the key is never a var, no var is empty, production
// carries nothing of env.dev's (the dev issuer, local origins), and both declare the same vars,
// because wrangler does not inherit vars into a named environment and a var added to one only
// would silently fall back to its default in the other.
func TestDeployDryRun(t *testing.T) {
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if err := stack.EnsureNodeModules(t.Context(), root, os.Stderr); err != nil {
		t.Fatal(err)
	}
	nodeDir, err := stack.NodeBinDir(t.Context(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	const (
		doKind  = "Durable Object"
		varKind = "Environment Variable"
	)
	// A binding line: `env.NAME ("value")   Environment Variable` or `env.NAME (Class)  Durable Object`.
	line := regexp.MustCompile(`^env\.([A-Z_]+) \((.*)\)\s{2,}(\S.*?)\s*$`)
	type binding struct{ value, kind string }
	dryRun := func(t *testing.T, env string) (map[string]binding, string) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), stack.WranglerBin(root), "deploy", "--dry-run", "--outdir", t.TempDir(),
			"--config", filepath.Join(root, "wrangler.jsonc"), "--env", env)
		cmd.Dir = t.TempDir() // no .dev.vars or .env of the developer's
		cmd.Env = append(os.Environ(), "PATH="+nodeDir+":"+os.Getenv("PATH"), "WRANGLER_SEND_METRICS=false",
			"CLOUDFLARE_CF_FETCH_ENABLED=false", "NO_COLOR=1", "WRANGLER_LOG_PATH="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("wrangler deploy --dry-run --env %q: %v\n%s", env, err, out)
		}
		got := map[string]binding{}
		for _, l := range strings.Split(string(out), "\n") {
			if m := line.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
				got[m[1]] = binding{value: m[2], kind: m[3]}
			}
		}
		if got["WEBSOCKET_SERVER"].kind != doKind {
			t.Errorf("env %q: WEBSOCKET_SERVER is %q, want a %s\n%s", env, got["WEBSOCKET_SERVER"].kind, doKind, out)
		}
		if _, ok := got["CONN_JWT_PUBLIC_KEY"]; ok || strings.Contains(string(out), "CONN_JWT_PUBLIC_KEY") {
			t.Errorf("env %q: CONN_JWT_PUBLIC_KEY is a binding of the upload (it must be a secret set apart)", env)
		}
		for name, b := range got {
			if b.kind == varKind && b.value == `""` {
				t.Errorf("env %q: %s is an empty var", env, name)
			}
		}
		return got, string(out)
	}

	prod, prodOut := dryRun(t, "")
	dev, _ := dryRun(t, "dev")

	// wrangler cuts long values ("http://localhos..."), hence the prefixes.
	for _, s := range []string{"office-router-dev", "127.0.0.1", "//localhos", "//[::1]"} {
		if strings.Contains(prodOut, s) {
			t.Errorf("production mentions %q:\n%s", s, prodOut)
		}
	}
	if v := prod["JWT_AUDIENCE"].value; v != `"office-router"` {
		t.Errorf("production JWT_AUDIENCE = %s, want \"office-router\"", v)
	}
	if v := dev["JWT_ISSUER"].value; v != `"office-router-dev"` {
		t.Errorf("env.dev JWT_ISSUER = %s, want \"office-router-dev\"", v)
	}
	if dev["ALLOWED_ORIGINS"].kind != varKind {
		t.Error("env.dev has no ALLOWED_ORIGINS")
	}
	// The deployer adds JWT_ISSUER and ALLOWED_ORIGINS to production; every other var is in both.
	deployerOwn := []string{"JWT_ISSUER", "ALLOWED_ORIGINS"}
	for name, b := range dev {
		if b.kind == varKind && prod[name].kind != varKind && !slices.Contains(deployerOwn, name) {
			t.Errorf("%s is a var of env.dev but not of production", name)
		}
	}
	for name, b := range prod {
		if b.kind == varKind && dev[name].kind != varKind {
			t.Errorf("%s is a var of production but not of env.dev", name)
		}
	}
}
