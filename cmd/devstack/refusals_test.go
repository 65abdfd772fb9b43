package main

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestRefusalLogOneLinePerRefusalWithoutTheToken(t *testing.T) {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"userId":"alice","orgId":"acme"}`))
	token := "eyJhbGciOiJSUzI1NiJ9." + payload + ".c2lnbmF0dXJl"
	tests := []struct {
		name     string
		status   int
		body     string
		path     string
		header   http.Header
		wantLine string // regexp; "" = no line
	}{
		{"refused socket, token in the subprotocol", 401, `{"error":"expired"}`, "/orgs/acme/ws",
			http.Header{"Sec-Websocket-Protocol": {"office-router.v1, bearer." + token}},
			`^\d\d:\d\d:\d\d refused  proxy  GET /orgs/acme/ws → 401 expired claimed-user=alice org=acme\n$`},
		{"origin refused, token in the header", 403, `{"error":"origin_not_allowed"}`, "/orgs/acme/ws",
			http.Header{"Authorization": {"Bearer " + token}, "Origin": {"http://evil.test"}},
			`refused  proxy  GET /orgs/acme/ws → 403 origin_not_allowed claimed-user=alice org=acme origin="http://evil.test"\n$`},
		{"a garbage token names no user", 401, `{"error":"malformed"}`, "/orgs/acme/ws",
			http.Header{"Authorization": {"Bearer x.y!.z"}}, `→ 401 malformed org=acme\n$`},
		{"a non-JSON body", 404, "nope", "/nowhere", nil, `→ 404 -\n$`},
		// The path is the client's: it must not forge a second line, nor carry a token to the log.
		{"a newline in the path stays on one line", 404, `{"error":"not_found"}`,
			"/x%0A23:59:59%20refused%20%20proxy%20GET%20/orgs/acme/ws", nil,
			`^\d\d:\d\d:\d\d refused  proxy  GET "/x\\n23:59:59 refused  proxy GET /orgs/acme/ws" → 404 not_found\n$`},
		{"a token in the path is not logged", 404, `{"error":"not_found"}`, "/orgs/acme/ws/" + token, nil,
			`^\d\d:\d\d:\d\d refused  proxy  GET /orgs/acme/ws/<token> → 404 not_found\n$`},
		{"success is silent", 200, `{"ok":true}`, "/orgs/acme/ws", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			l := &refusalLog{out: &out}
			h := l.wrap("proxy", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			for k, v := range tt.header {
				req.Header[k] = v
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if tt.wantLine == "" {
				if out.Len() != 0 {
					t.Fatalf("logged %q", out.String())
				}
				return
			}
			if !regexp.MustCompile(tt.wantLine).MatchString(out.String()) {
				t.Fatalf("logged %q, want %s", out.String(), tt.wantLine)
			}
			if strings.Contains(out.String(), payload) || strings.Contains(out.String(), "c2lnbmF0dXJl") {
				t.Fatalf("the token reached the log: %q", out.String())
			}
		})
	}
}

func TestWorkerRefusalsAreFilteredFromWranglerOutput(t *testing.T) {
	var out strings.Builder
	w := &workerRefusals{log: &refusalLog{out: &out}}
	chunks := []string{
		"⎔ Starting local server...\n[wrangler:info] Ready on http://127.0.0.1:8787\n\x1b[2m{\"event\":\"handshake_refused\",\"org\":\"acme\",",
		"\"status\":403,\"reason\":\"origin_not_allowed\"}\x1b[0m\nsome other log\n{\"event\":\"connected\",\"org\":\"acme\"}\n",
		"{\"event\":\"publish_refused\",\"status\":401,\"reason\":\"wrong_scope\"}\n",
	}
	for _, c := range chunks {
		if _, err := w.Write([]byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	want := regexp.MustCompile(`^\d\d:\d\d:\d\d refused  worker /orgs/acme/ws → 403 origin_not_allowed org=acme\n` +
		`\d\d:\d\d:\d\d refused  worker publish → 401 wrong_scope\n$`)
	if !want.MatchString(out.String()) {
		t.Fatalf("got %q", out.String())
	}
}
