package proxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/qubital/office-router/proxy"
)

// TestMetricsArePrivateAndTenantFree: /metrics is not on the public handler, and what the
// private handler serves names no org (issue 13, item 3).
func TestMetricsArePrivateAndTenantFree(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	e.dial("alice", "acme-secret-tenant").next()
	e.dial("bob", "globex").next()
	if status, _, _ := e.get("/metrics", nil); status != http.StatusNotFound {
		t.Fatalf("public /metrics answered %d, want 404", status)
	}
	private := httptest.NewServer(e.p.MetricsHandler())
	t.Cleanup(private.Close)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, private.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := string(b)
	if !strings.Contains(m, "\nedgeproxy_connections 2\n") {
		t.Errorf("metrics lack edgeproxy_connections 2:\n%s", m)
	}
	for _, leak := range []string{"acme-secret-tenant", "globex", `org="`} {
		if strings.Contains(m, leak) {
			t.Errorf("metrics expose %q", leak)
		}
	}
}
