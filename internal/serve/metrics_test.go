package serve_test

import (
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/qubital/office-router/internal/serve"
)

func TestMetrics(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	if srv, err := serve.Metrics(serve.MetricsOff, http.NotFoundHandler(), logger); srv != nil || err != nil {
		t.Fatalf(`"off": %v %v, want no server`, srv, err)
	}
	if _, err := serve.Metrics("", http.NotFoundHandler(), logger); err == nil {
		t.Fatal("empty address accepted")
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "m 1\n") })
	srv, err := serve.Metrics("127.0.0.1:0", h, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	for _, c := range []struct {
		path string
		want int
	}{{"/metrics", 200}, {"/", 404}, {"/orgs/acme/ws", 404}} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+srv.Addr+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET %s: %d, want %d", c.path, resp.StatusCode, c.want)
		}
	}
}
