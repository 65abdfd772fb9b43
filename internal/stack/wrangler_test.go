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
// and checks the bindings wrangler prints: the key is never a var (let alone an empty one), and
// production carries neither the dev issuer nor dev origins.
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
	// A binding line: `env.NAME ("value")   Environment Variable` or `env.NAME (Class)  Durable Object`.
	line := regexp.MustCompile(`^env\.([A-Z_]+) \((.*)\)\s{2,}(\S.*?)\s*$`)
	tests := []struct {
		env      string
		want     map[string]string // binding → resource kind
		optional map[string]string // may be there (a deployer's own production values)
		wantVal  map[string]string // var → value as printed
		never    []string          // text that must not appear anywhere in the output
	}{
		{
			env: "",
			want: map[string]string{"WEBSOCKET_SERVER": "Durable Object", "JWT_AUDIENCE": "Environment Variable",
				"JWT_LEEWAY_SECONDS": "Environment Variable", "JWT_MAX_TTL_SECONDS": "Environment Variable"},
			optional: map[string]string{"JWT_ISSUER": "Environment Variable", "ALLOWED_ORIGINS": "Environment Variable"},
			wantVal:  map[string]string{"JWT_AUDIENCE": `"office-router"`},
			// wrangler cuts long values ("http://localhos..."), hence the prefixes.
			never: []string{"CONN_JWT_PUBLIC_KEY", "office-router-dev", "127.0.0.1", "//localhos", "//[::1]"},
		},
		{
			env: "dev",
			want: map[string]string{"WEBSOCKET_SERVER": "Durable Object", "JWT_ISSUER": "Environment Variable",
				"JWT_AUDIENCE": "Environment Variable", "ALLOWED_ORIGINS": "Environment Variable",
				"JWT_LEEWAY_SECONDS": "Environment Variable", "JWT_MAX_TTL_SECONDS": "Environment Variable"},
			wantVal: map[string]string{"JWT_ISSUER": `"office-router-dev"`},
			never:   []string{"CONN_JWT_PUBLIC_KEY"},
		},
	}
	for _, tt := range tests {
		t.Run("env="+tt.env, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), stack.WranglerBin(root), "deploy", "--dry-run", "--outdir", t.TempDir(),
				"--config", filepath.Join(root, "wrangler.jsonc"), "--env", tt.env)
			cmd.Dir = t.TempDir() // no .dev.vars or .env of the developer's
			cmd.Env = append(os.Environ(), "PATH="+nodeDir+":"+os.Getenv("PATH"), "WRANGLER_SEND_METRICS=false",
				"CLOUDFLARE_CF_FETCH_ENABLED=false", "NO_COLOR=1", "WRANGLER_LOG_PATH="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("wrangler deploy --dry-run: %v\n%s", err, out)
			}
			got := map[string]string{}
			vals := map[string]string{}
			for _, l := range strings.Split(string(out), "\n") {
				if m := line.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
					got[m[1]], vals[m[1]] = m[3], m[2]
				}
			}
			for name, kind := range tt.want {
				if got[name] != kind {
					t.Errorf("binding %s: got %q, want %q", name, got[name], kind)
				}
			}
			for name, kind := range got {
				if tt.want[name] != kind && tt.optional[name] != kind {
					t.Errorf("unexpected binding %s (%s)", name, kind)
				}
				if kind == "Environment Variable" && vals[name] == `""` {
					t.Errorf("%s is an empty var", name)
				}
			}
			for name, v := range tt.wantVal {
				if vals[name] != v {
					t.Errorf("%s = %s, want %s", name, vals[name], v)
				}
			}
			for _, s := range tt.never {
				if strings.Contains(string(out), s) {
					t.Errorf("output mentions %q:\n%s", s, out)
				}
			}
		})
	}
}
