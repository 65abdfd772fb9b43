package e2e

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/internal/harness"
	"github.com/qubital/office-router/internal/stack"
	"github.com/qubital/office-router/issuer"
)

// TestIssuerURLToWorker follows the frontend's path: dev session → request-access → the URL the
// issuer returns (the Worker) → welcome; then the backend publishes with issuer.Publisher.
func TestIssuerURLToWorker(t *testing.T) {
	iss := harness.Issuer{URL: issuerURL}
	a, err := iss.Handshake(t.Context(), "flow-user", "flow-org", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.URL, "ws"+workerURL[4:]+"/orgs/flow-org/ws") {
		t.Fatalf("issuer URL %q does not point at the Worker", a.URL)
	}
	r, err := harness.Dial(t.Context(), a.URL, a.Token, harness.InSubprotocol, nil)
	if err != nil || r.Conn == nil {
		t.Fatalf("dial: %v %d %s", err, r.Status, r.Reason)
	}
	defer r.Conn.Close()
	if w, err := harness.ReadJSON(r.Conn, 5*time.Second); err != nil || w["role"] != "admin" {
		t.Fatalf("welcome %v %v", w, err)
	}
	m, err := issuer.NewMinter(devKey, jwtIssuer, jwtAudience, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, router := range []string{workerURL, hubURL} {
		pub, err := issuer.NewPublisher(m, router, "e2e-backend", nil)
		if err != nil {
			t.Fatal(err)
		}
		n, err := pub.Publish(t.Context(), "flow-org", "flow-user", map[string]string{"router": router})
		if err != nil {
			t.Fatalf("publish to %s: %v", router, err)
		}
		if router == workerURL {
			if n != 1 {
				t.Fatalf("delivered %d", n)
			}
			ev, err := harness.ReadJSON(r.Conn, 5*time.Second)
			if err != nil || ev["type"] != "event" {
				t.Fatalf("event %v %v", ev, err)
			}
		}
	}
}

// TestEdgeProxySIGTERM: the real binary closes every socket with 1001 and exits 0.
func TestEdgeProxySIGTERM(t *testing.T) {
	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "edgeproxy"), "-addr", fmt.Sprintf("127.0.0.1:%d", port), "-shutdown-grace", "5s", "-metrics-addr", "off")
	cmd.Env = stack.ServerEnv("CONN_JWT_PUBLIC_KEY="+string(pubPEM), "JWT_ISSUER="+jwtIssuer, "JWT_AUDIENCE="+jwtAudience)
	p, err := stack.Start("edgeproxy", cmd, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(5 * time.Second)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := stack.WaitHealthy(t.Context(), base+"/healthz", p); err != nil {
		t.Fatal(err)
	}
	var conns []*websocket.Conn
	for i := range 3 {
		a, err := (&harness.Issuer{URL: issuerURL}).Handshake(t.Context(), fmt.Sprintf("term-%d", i), "term-org", "member")
		if err != nil {
			t.Fatal(err)
		}
		r, err := harness.Dial(t.Context(), harness.OrgURL(base, "term-org"), a.Token, harness.InHeader, nil)
		if err != nil || r.Conn == nil {
			t.Fatalf("dial: %v %+v", err, r)
		}
		defer r.Conn.Close()
		if _, err := harness.ReadJSON(r.Conn, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, r.Conn)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			_, _, err := c.ReadMessage()
			if err == nil {
				continue // presence frames sent before the signal
			}
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
				t.Fatalf("want close 1001, got %v", err)
			}
			break
		}
	}
	select {
	case <-p.Exited():
	case <-time.After(10 * time.Second):
		t.Fatal("edgeproxy did not exit after SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d\n%s", code, p.Output())
	}
}
