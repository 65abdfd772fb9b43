package e2e

import (
	"testing"

	"github.com/qubital/office-router/internal/harness"
)

// TestCheckAllRouters runs the harness's conformance suite against the Worker under wrangler
// dev, the Go proxy in hub mode and the Go proxy forwarding to the Worker, and requires every
// case to pass and all three to give identical verdicts.
func TestCheckAllRouters(t *testing.T) {
	routers := []struct{ name, url string }{{"worker", workerURL}, {"proxy-hub", hubURL}, {"proxy-forward", fwdURL}}
	verdicts := map[string]map[string]string{}
	for _, r := range routers {
		t.Run(r.name, func(t *testing.T) {
			results, err := harness.Check(t.Context(), harness.CheckConfig{Router: r.url, Issuer: issuerURL, Key: devKey, Origin: allowedOrigin})
			if err != nil {
				t.Fatal(err)
			}
			if len(results) < 30 {
				t.Fatalf("only %d cases", len(results))
			}
			verdicts[r.name] = map[string]string{}
			for _, res := range results {
				verdicts[r.name][res.Name] = res.Got
				if !res.Pass {
					t.Errorf("%-32s expected %-32q got %q", res.Name, res.Expected, res.Got)
				}
			}
		})
	}
	for name, got := range verdicts["worker"] {
		for _, r := range routers[1:] {
			if v, ok := verdicts[r.name]; ok && v[name] != got {
				t.Errorf("%s: worker says %q, %s says %q", name, got, r.name, v[name])
			}
		}
	}
}
