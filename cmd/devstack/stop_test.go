package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/qubital/office-router/internal/stack"
)

// These tests stop real devstack processes the ways developers and tools do and check that no
// port stays held: what an IDE's stop button, make, go run and kill -9 leave behind.

var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "devstack-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "devstack")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func devstackBin(t *testing.T) string {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

type stackPorts struct{ issuer, proxy, worker string }

func freePorts(t *testing.T) stackPorts {
	t.Helper()
	var p [3]int
	for i := range p {
		n, err := stack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		p[i] = n
	}
	return stackPorts{fmt.Sprintf("127.0.0.1:%d", p[0]), fmt.Sprintf("127.0.0.1:%d", p[1]), fmt.Sprint(p[2])}
}

func (p stackPorts) flags(t *testing.T, withWorker bool) []string {
	f := []string{"-issuer-addr", p.issuer, "-proxy-addr", p.proxy, "-dir", t.TempDir()}
	if withWorker {
		return append(f, "-worker-port", p.worker)
	}
	return append(f, "-no-worker")
}

func (p stackPorts) all(withWorker bool) []string {
	a := []string{p.issuer, p.proxy}
	if withWorker {
		a = append(a, "127.0.0.1:"+p.worker)
	}
	return a
}

// output collects a process's output and closes up when the banner appears.
type output struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	up   chan struct{}
	once sync.Once
	done chan struct{}
}

func watch(t *testing.T, r io.Reader) *output {
	t.Helper()
	o := &output{up: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(o.done)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			o.mu.Lock()
			o.buf.WriteString(sc.Text() + "\n")
			o.mu.Unlock()
			// The banner's last line, not its first: a test that reads the banner (origins, ports)
			// right after "up" raced the rest of it (TestMakeDevOrigins saw only the first line).
			if strings.Contains(sc.Text(), " in two tabs") {
				o.once.Do(func() { close(o.up) })
			}
		}
	}()
	return o
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// start runs cmd with its output piped and waits for the banner.
func start(t *testing.T, cmd *exec.Cmd, timeout time.Duration) (*output, <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.Dir = repoRoot(t)
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true // like a terminal's foreground job: a group to signal
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := watch(t, pr)
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		pw.Close()
		<-out.done
		exited <- err
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	select {
	case <-out.up:
	case err := <-exited:
		t.Fatalf("exited before the stack was up (%v):\n%s", err, out)
	case <-time.After(timeout):
		t.Fatalf("not up after %v:\n%s", timeout, out)
	}
	return out, exited
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// portsFreed waits until every address can be listened on again: the stack's processes are gone.
func portsFreed(t *testing.T, addrs []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, a := range addrs {
		for {
			err := stack.CheckPortFree(a)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%v after %v", err, within)
			}
			time.Sleep(100 * time.Millisecond) // polling the kernel's socket table; nothing to wait on
		}
	}
}

func waitExit(t *testing.T, exited <-chan error, out *output, within time.Duration) error {
	t.Helper()
	select {
	case err := <-exited:
		return err
	case <-time.After(within):
		t.Fatalf("still running %v after the signal:\n%s", within, out)
		return nil
	}
}

func TestStopWithoutWorker(t *testing.T) {
	bin := devstackBin(t)
	tests := []struct {
		name string
		// cmd builds the process tree; stop signals it the way a developer's tool does.
		cmd      func(flags []string) *exec.Cmd
		stop     func(p *os.Process) error
		wantExit int // of the started process; -1 = killed by the signal (make re-raises it)
	}{
		{"Ctrl-C of devstack exits 0",
			func(f []string) *exec.Cmd { return exec.Command(bin, f...) },
			func(p *os.Process) error { return syscall.Kill(-p.Pid, syscall.SIGINT) }, 0},
		{"SIGTERM of devstack exits 0",
			func(f []string) *exec.Cmd { return exec.Command(bin, f...) },
			func(p *os.Process) error { return p.Signal(syscall.SIGTERM) }, 0},
		{"SIGTERM of a parent that does not forward it (go run, an IDE)",
			func(f []string) *exec.Cmd {
				return exec.Command("sh", append([]string{"-c", `"$0" "$@"; echo devstack exited $?`, bin}, f...)...)
			},
			func(p *os.Process) error { return p.Signal(syscall.SIGTERM) }, -1},
		{"SIGTERM of make dev-go",
			func(f []string) *exec.Cmd {
				return exec.Command("make", "--no-print-directory", "dev-go", "ARGS="+strings.Join(f[:len(f)-1], " "))
			},
			func(p *os.Process) error { return p.Signal(syscall.SIGTERM) }, -1},
		{"Ctrl-C of make dev-go: no make error",
			func(f []string) *exec.Cmd {
				return exec.Command("make", "--no-print-directory", "dev-go", "ARGS="+strings.Join(f[:len(f)-1], " "))
			},
			func(p *os.Process) error { return syscall.Kill(-p.Pid, syscall.SIGINT) }, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ports := freePorts(t)
			cmd := tt.cmd(ports.flags(t, false))
			out, exited := start(t, cmd, 3*time.Minute)
			if err := tt.stop(cmd.Process); err != nil {
				t.Fatal(err)
			}
			err := waitExit(t, exited, out, 30*time.Second)
			portsFreed(t, ports.all(false), 10*time.Second)
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantExit {
				t.Errorf("exit code %d, want %d:\n%s", code, tt.wantExit, out)
			}
			if s := out.String(); strings.Contains(s, "make: ***") || strings.Contains(s, "Error 1") {
				t.Errorf("make reported an error:\n%s", s)
			}
		})
	}
}

func TestPortInUseFailsFastNamingTheHolder(t *testing.T) {
	bin := devstackBin(t)
	ports := freePorts(t)
	holder, err := os.StartProcess(bin, append([]string{bin}, ports.flags(t, false)...), &os.ProcAttr{Dir: repoRoot(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = holder.Kill(); _, _ = holder.Wait() })
	// The holder's banner is not read here; wait for its proxy port instead.
	deadline := time.Now().Add(time.Minute)
	for stack.CheckPortFree(ports.proxy) == nil {
		if time.Now().After(deadline) {
			t.Fatal("holder never listened")
		}
		time.Sleep(100 * time.Millisecond)
	}
	other := freePorts(t)
	startedAt := time.Now()
	out, err := exec.Command(bin, "-no-worker", "-issuer-addr", other.issuer, "-proxy-addr", ports.proxy, "-dir", t.TempDir()).CombinedOutput()
	if err == nil {
		t.Fatalf("second stack started on a taken port:\n%s", out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("held by pid %d", holder.Pid)) {
		t.Errorf("error does not name the holder (pid %d):\n%s", holder.Pid, out)
	}
	if d := time.Since(startedAt); d > 20*time.Second {
		t.Errorf("took %v to fail", d)
	}
}

// kill -9 gives devstack no chance to stop wrangler: the kernel's parent-death signal must.
func TestKill9LeavesNoWrangler(t *testing.T) {
	bin := devstackBin(t)
	ports := freePorts(t)
	cmd := exec.Command(bin, ports.flags(t, true)...)
	out, exited := start(t, cmd, 4*time.Minute)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = waitExit(t, exited, out, 10*time.Second)
	portsFreed(t, ports.all(true), 30*time.Second)
	// And a new stack on the same ports comes up against its own Worker.
	cmd2 := exec.Command(bin, ports.flags(t, true)...)
	out2, exited2 := start(t, cmd2, 4*time.Minute)
	_ = cmd2.Process.Signal(syscall.SIGINT)
	if err := waitExit(t, exited2, out2, time.Minute); err != nil {
		t.Errorf("second stack: %v\n%s", err, out2)
	}
	portsFreed(t, ports.all(true), 30*time.Second)
}

// make dev ORIGINS=… reaches the stack: the banner lists the origin and the issuer's CORS
// pre-flight admits it, next to the dev default http://localhost:*; other origins stay out.
func TestMakeDevOrigins(t *testing.T) {
	ports := freePorts(t)
	f := ports.flags(t, false)
	cmd := exec.Command("make", "--no-print-directory", "dev-go", "ORIGINS=http://app.test:3000,https://*.example.com",
		"ARGS="+strings.Join(f[:len(f)-1], " "))
	out, exited := start(t, cmd, 3*time.Minute)
	if !strings.Contains(out.String(), "origins      http://"+ports.issuer+", http://localhost:*, http://127.0.0.1:*, http://app.test:3000, https://*.example.com") {
		t.Errorf("banner:\n%s", out)
	}
	for origin, want := range map[string]int{
		"http://app.test:3000": 204, "https://a.example.com": 204, "http://localhost:5173": 204,
		"http://other.test:3000": 403, "https://example.com": 403,
	} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodOptions, "http://"+ports.issuer+"/api/v1/cloudflare/request-access", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("pre-flight from %s = %d, want %d", origin, resp.StatusCode, want)
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = waitExit(t, exited, out, 30*time.Second)
	portsFreed(t, ports.all(false), 10*time.Second)
}
