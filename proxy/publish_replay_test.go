package proxy_test

import (
	"net/http"
	"testing"

	"github.com/qubital/office-router/proxy"
)

// TestPublishTokenSingleUse: a publish token delivers once, as on the Worker; a body refused
// with 400 does not spend it.
func TestPublishTokenSingleUse(t *testing.T) {
	e := newEnv(t, proxy.Config{})
	auth := http.Header{"Authorization": {"Bearer " + mustPublish(t, e, "acme")}}
	for _, step := range []struct {
		name, body string
		want       int
		wantErr    string
	}{
		{"refused body", `{"to":null,"data":1}`, 400, "bad_request"},
		{"first use", `{"data":1}`, 200, ""},
		{"replay", `{"data":1}`, 401, "replayed"},
		{"replay with a bad body", `{"DATA":1}`, 400, "bad_request"},
	} {
		status, _, m := e.do("POST", "/orgs/acme/publish", auth, step.body)
		if status != step.want || (step.wantErr != "" && m["error"] != step.wantErr) {
			t.Fatalf("%s: %d %v, want %d %s", step.name, status, m, step.want, step.wantErr)
		}
	}
}
