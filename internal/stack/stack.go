// Package stack starts and stops the real processes of a local office-router stack (wrangler
// dev, the issuer, the edge proxy) for cmd/devstack and the e2e tests: free ports, readiness by
// polling /healthz, and process-group shutdown so no workerd child outlives its wrangler.
package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FreePort asks the kernel for a free port on 127.0.0.1.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Proc is a started process group.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	out  *tailBuffer
	done chan struct{}
	err  error
}

// tailBuffer keeps the last 64 KiB of a process's output, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	tee io.Writer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if t.buf.Len() > 64<<10 {
		t.buf.Next(t.buf.Len() - 64<<10)
	}
	if t.tee != nil {
		_, _ = t.tee.Write(p)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}

// Start runs cmd in its own process group; its output goes to tee (may be nil) and a tail buffer.
func Start(name string, cmd *exec.Cmd, tee io.Writer) (*Proc, error) {
	p := &Proc{Name: name, cmd: cmd, out: &tailBuffer{tee: tee}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Output is the tail of what the process printed.
func (p *Proc) Output() string { return p.out.String() }

// PID is the process ID (for /proc/<pid>/status).
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.done }

// Stop sends SIGTERM to the whole process group (wrangler's workerd children included), waits
// up to grace, then SIGKILLs the group.
func (p *Proc) Stop(grace time.Duration) error {
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // any straggler left in the group
	var ee *exec.ExitError
	if p.err != nil && !errors.As(p.err, &ee) {
		return p.err
	}
	return nil
}

// WaitHealthy polls url until it answers 200, the process exits, or ctx ends.
func WaitHealthy(ctx context.Context, url string, p *Proc) error {
	client := &http.Client{Timeout: 2 * time.Second}
	delay := 50 * time.Millisecond
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		var exited <-chan struct{}
		if p != nil {
			exited = p.done
		}
		select {
		case <-ctx.Done():
			out := ""
			if p != nil {
				out = p.Output()
			}
			return fmt.Errorf("%s not healthy at %s: %w\n%s", nameOf(p), url, ctx.Err(), out)
		case <-exited:
			return fmt.Errorf("%s exited before it was healthy (%v):\n%s", nameOf(p), p.err, p.Output())
		case <-time.After(delay):
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
}

func nameOf(p *Proc) string {
	if p == nil {
		return "server"
	}
	return p.Name
}

// WranglerOptions configure a `wrangler dev` of the office-router Worker.
type WranglerOptions struct {
	Root string // repository root (wrangler.jsonc)
	Port int
	// Vars are the Worker's bindings. The required secrets of wrangler.jsonc (CONN_JWT_PUBLIC_KEY)
	// reach wrangler through its environment, the others as --var. Every other variable named in
	// wrangler.jsonc is removed from the environment wrangler inherits: with secrets declared,
	// wrangler dev lets a process variable of that name replace the config's var, so a developer's
	// exported ALLOWED_ORIGINS or JWT_ISSUER would leak into the Worker.
	Vars      map[string]string
	PersistTo string // clean Durable Object state; created if missing
	// Env is the wrangler.jsonc environment to run. This defaults to "dev", which holds the dev
	// issuer and origins; the top level is production and ships neither.
	Env string
	// LogLevel is wrangler's --log-level. This defaults to "warn"; "log" also shows the Worker's
	// console.log lines (its structured events), which the dev stack filters.
	LogLevel string
	// Config is the wrangler config file. This defaults to Root/wrangler.jsonc. wrangler dev
	// reloads the Worker with its new vars when this file changes (the rotation e2e does so).
	Config string
}

// WranglerBin is the pinned wrangler of worker/node_modules.
func WranglerBin(root string) string {
	return filepath.Join(root, "worker", "node_modules", ".bin", "wrangler")
}

// EnsureNodeModules runs `npm ci` in worker/, on the Node that NodeBinDir picks, when its
// node_modules is missing or older than package-lock.json (a toolchain upgrade landed).
func EnsureNodeModules(ctx context.Context, root string, out io.Writer) error {
	nodeDir, err := NodeBinDir(ctx, root, out)
	if err != nil {
		return err
	}
	if nodeModulesFresh(root) {
		return nil
	}
	if _, err := npmFor(nodeDir); err != nil {
		return errors.New("the Worker needs npm to install its dependencies (or run without it: -no-worker)")
	}
	// scripts/npm-ci.sh, as scripts/test.sh: npm's summary on success, one line on failure (never
	// npm's stack trace).
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "npm-ci.sh"), "worker")
	cmd.Dir = root
	cmd.Env = withPath(os.Environ(), nodeDir)
	cmd.Stdout, cmd.Stderr = out, &stderr
	killGroupOnCancel(cmd)
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return errors.New(msg)
		}
		return fmt.Errorf("npm ci in worker/: %w", err)
	}
	return nil
}

// npmFor finds the npm that runs next to the Node in nodeDir: the one fetched into nodeDir when the
// machine has none (scripts/node.sh), else the machine's.
func npmFor(nodeDir string) (string, error) {
	if p, err := exec.LookPath(filepath.Join(nodeDir, "npm")); err == nil {
		return p, nil
	}
	return exec.LookPath("npm")
}

// killGroupOnCancel makes a script's cancel stop what it started. npm (or a Node download) runs
// under bash: killing bash alone would orphan npm, which keeps writing node_modules and holds our
// output pipe until it is done. The script gets its own process group, killed whole on cancel and
// by the kernel when the stack dies (pdeathsig); WaitDelay bounds the wait for the pipe.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = childAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
}

// nodeModulesFresh reports whether worker/node_modules was installed from the current lock file.
func nodeModulesFresh(root string) bool {
	if _, err := os.Stat(WranglerBin(root)); err != nil {
		return false
	}
	lock, err1 := os.Stat(filepath.Join(root, "worker", "package-lock.json"))
	installed, err2 := os.Stat(filepath.Join(root, "worker", "node_modules", ".package-lock.json"))
	return err1 == nil && err2 == nil && !lock.ModTime().After(installed.ModTime())
}

// Wrangler starts `wrangler dev --env dev` offline (no metrics, no cf fetch) on 127.0.0.1, on the
// Node that NodeBinDir picks.
func Wrangler(o WranglerOptions, tee io.Writer) (*Proc, error) {
	nodeDir, err := NodeBinDir(context.Background(), o.Root, tee)
	if err != nil {
		return nil, err
	}
	cfg, err := readWranglerConfig(o.Root)
	if err != nil {
		return nil, err
	}
	inspector, err := FreePort()
	if err != nil {
		return nil, err
	}
	if o.Env == "" {
		o.Env = "dev"
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	// An empty env file in place of the default lookup: a developer's .dev.vars or .env in the
	// repository would otherwise replace the environment that carries the dev key.
	if err := os.MkdirAll(o.PersistTo, 0o700); err != nil {
		return nil, err
	}
	envFile := filepath.Join(o.PersistTo, "wrangler-dev.env")
	if err := os.WriteFile(envFile, nil, 0o600); err != nil {
		return nil, err
	}
	if o.Config == "" {
		o.Config = filepath.Join(o.Root, "wrangler.jsonc")
	}
	args := []string{"dev", "--config", o.Config, "--env", o.Env, "--env-file", envFile,
		"--ip", "127.0.0.1", "--port", fmt.Sprint(o.Port), "--inspector-port", fmt.Sprint(inspector),
		"--persist-to", o.PersistTo, "--show-interactive-dev-session=false", "--log-level", o.LogLevel}
	env := withPath(withoutVars(os.Environ(), cfg.bindingNames()), nodeDir)
	secrets := cfg.secretNames()
	for k, v := range o.Vars {
		if slices.Contains(secrets, k) {
			env = append(env, k+"="+v)
		} else {
			args = append(args, "--var", k+":"+v)
		}
	}
	cmd := exec.Command(WranglerBin(o.Root), args...)
	cmd.Dir = o.Root
	// CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV=false in a developer's shell (wrangler's switch to stop
	// reading .env files) would also stop it reading the environment, and so the dev key.
	cmd.Env = append(env, "CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV=true", "WRANGLER_SEND_METRICS=false", "CLOUDFLARE_CF_FETCH_ENABLED=false",
		"WRANGLER_LOG_PATH="+filepath.Join(o.PersistTo, "logs"), "NO_COLOR=1")
	return Start("wrangler dev", cmd, tee)
}

// withoutVars returns env without the variables named in names.
func withoutVars(env, names []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			out = append(out, kv)
		}
	}
	return out
}

// RepoRoot walks up from the working directory to the folder holding wrangler.jsonc.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "wrangler.jsonc")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the office-router repository (no wrangler.jsonc found)")
		}
		dir = parent
	}
}
