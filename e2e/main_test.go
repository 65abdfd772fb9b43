package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/internal/stack"
)

// The stack every test in this package talks to.
var (
	devKey    *rsa.PrivateKey
	issuerURL string
	workerURL string // wrangler dev
	hubURL    string // edge proxy, hub mode
	fwdURL    string // edge proxy, forward mode in front of the Worker
	binDir    string
	pubPEM    []byte
)

const (
	jwtIssuer     = "office-router-dev"
	jwtAudience   = "office-router"
	allowedOrigin = "http://127.0.0.1:8080"
)

func TestMain(m *testing.M) {
	code, err := runStack(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runStack(m *testing.M) (int, error) {
	// A developer's shell may export the issuer's or a router's settings (to run a real issuer,
	// say). Every process below must get its settings from this file alone: with these set, a
	// leak refuses start-up or fails every case (stack.ServerEnv, TestWranglerDevEnv).
	for _, name := range stack.ConfigVars {
		os.Setenv(name, "from-the-shell")
	}
	root, err := stack.RepoRoot()
	if err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp("", "office-router-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	binDir = filepath.Join(tmp, "bin")
	build := exec.Command("go", "build", "-o", binDir+"/", "./cmd/issuer", "./cmd/edgeproxy")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("go build: %v\n%s", err, out)
	}
	if devKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return 0, err
	}
	keyPEM, _ := rsakey.EncodePrivateKeyPEM(devKey)
	pubPEM, _ = rsakey.EncodePublicKeyPEM(&devKey.PublicKey)
	keyFile := filepath.Join(tmp, "dev-private.pem")
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return 0, err
	}
	ports := make([]int, 4)
	for i := range ports {
		if ports[i], err = stack.FreePort(); err != nil {
			return 0, err
		}
	}
	issuerURL = fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	workerURL = fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	hubURL = fmt.Sprintf("http://127.0.0.1:%d", ports[2])
	fwdURL = fmt.Sprintf("http://127.0.0.1:%d", ports[3])
	routerEnv := stack.ServerEnv("CONN_JWT_PUBLIC_KEY="+string(pubPEM), "JWT_ISSUER="+jwtIssuer,
		"JWT_AUDIENCE="+jwtAudience, "ALLOWED_ORIGINS="+allowedOrigin)

	var procs []*stack.Proc
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			_ = procs[i].Stop(10 * time.Second)
		}
	}()
	start := func(name string, cmd *exec.Cmd) (*stack.Proc, error) {
		p, err := stack.Start(name, cmd, nil)
		if err == nil {
			procs = append(procs, p)
		}
		return p, err
	}

	iss := exec.Command(filepath.Join(binDir, "issuer"), "-dev", "-addr", fmt.Sprintf("127.0.0.1:%d", ports[0]), "-metrics-addr", "off",
		"-dev-key-file", keyFile)
	iss.Env = stack.ServerEnv("WEBSOCKET_BASE_URL=ws"+workerURL[4:],
		"ALLOWED_ORIGINS="+allowedOrigin)
	issP, err := start("issuer", iss)
	if err != nil {
		return 0, err
	}
	wr, err := stack.Wrangler(stack.WranglerOptions{Root: root, Port: ports[1], PersistTo: filepath.Join(tmp, "wrangler"),
		Vars: map[string]string{"CONN_JWT_PUBLIC_KEY": string(pubPEM), "JWT_ISSUER": jwtIssuer, "JWT_AUDIENCE": jwtAudience, "ALLOWED_ORIGINS": allowedOrigin}}, nil)
	if err != nil {
		return 0, err
	}
	procs = append(procs, wr)
	hub := exec.Command(filepath.Join(binDir, "edgeproxy"), "-addr", fmt.Sprintf("127.0.0.1:%d", ports[2]), "-metrics-addr", "off")
	hub.Env = routerEnv
	hubP, err := start("edgeproxy (hub)", hub)
	if err != nil {
		return 0, err
	}
	fwd := exec.Command(filepath.Join(binDir, "edgeproxy"), "-addr", fmt.Sprintf("127.0.0.1:%d", ports[3]), "-metrics-addr", "off",
		"-upstream", "ws"+workerURL[4:], "-forward-token")
	fwd.Env = routerEnv
	fwdP, err := start("edgeproxy (forward)", fwd)
	if err != nil {
		return 0, err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, w := range []struct {
		url string
		p   *stack.Proc
	}{{issuerURL, issP}, {hubURL, hubP}, {fwdURL, fwdP}, {workerURL, wr}} {
		if err := stack.WaitHealthy(ctx, w.url+"/healthz", w.p); err != nil {
			return 0, err
		}
	}
	return m.Run(), nil
}
