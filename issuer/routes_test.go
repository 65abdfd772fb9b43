package issuer_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/qubital/office-router/internal/httpx/httpxtest"
	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/issuer"
)

var updateRoutes = flag.Bool("update-routes", false, "rewrite testdata/route_answers.golden from the current answers")

// rawAnswer is the answer at addr to one raw request, as one comparable line
// (httpxtest.RawAnswer), with the JWKS (its key is generated per test binary) as <jwks>.
func rawAnswer(t *testing.T, addr, method, target string, hdr map[string]string, jwks string) string {
	t.Helper()
	return strings.ReplaceAll(httpxtest.RawAnswer(t, addr, "issuer.test", method, target, hdr), jwks, "<jwks>")
}

// TestRouteAnswers pins the answer of every route of the issuer, byte for byte (status, headers,
// body), for every method and for the paths a router may treat differently (trailing and double
// slashes, dot segments, percent-encoding, queries, CORS pre-flights), in both modes and with the
// dev stack's demo routes added by Handle: a change of router (a map of paths before, ServeMux
// patterns after) cannot change one. The answers are in testdata/route_answers.golden; a change
// is reviewed there (-update-routes rewrites it).
func TestRouteAnswers(t *testing.T) {
	jwkBytes, err := json.Marshal(map[string]any{"keys": []rsakey.JWK{rsakey.PublicJWK(&testKeys(t)[0].PublicKey)}})
	if err != nil {
		t.Fatal(err)
	}
	jwks := string(jwkBytes)
	limits := func(c *issuer.Config) { c.FailedAuthBurst, c.FailedAuthPerSecond = 1<<20, 1<<20 }
	prod := newTestIssuer(t, limits)
	demo := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, body)
		}
	}
	prod.srv.Handle(http.MethodGet, "/", demo("index"))
	prod.srv.Handle(http.MethodGet, "/demo.js", demo("js"))
	prod.srv.Handle(http.MethodGet, "/demo/two", demo("two get"))
	prod.srv.Handle(http.MethodPost, "/demo/two", demo("two post"))
	prod.srv.Handle(http.MethodGet, "/demo.js", demo("js, again")) // a second Handle replaces the first
	prod.srv.Handle(http.MethodGet, "/healthz", demo("demo health"))
	pemKey, _ := rsakey.EncodePrivateKeyPEM(testKeys(t)[0])
	dev := newTestIssuer(t, func(c *issuer.Config) {
		*c = issuer.Config{Dev: true, DevPrivateKeyPEM: string(pemKey), AllowedOrigins: []string{"https://app.test"}}
		limits(c)
	})

	app := map[string]string{"Origin": "https://app.test"}
	evil := map[string]string{"Origin": "https://evil.test"}
	preflight := func(origin string) map[string]string {
		h := map[string]string{"Access-Control-Request-Method": "POST"}
		if origin != "" {
			h["Origin"] = origin
		}
		return h
	}
	type req struct {
		method, target string
		hdr            map[string]string
	}
	var reqs []req
	methods := []string{"GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "CONNECT", "get"}
	routes := []string{"/api/v1/cloudflare/request-access", "/api/v1/realtime/token", "/.well-known/jwks.json",
		"/healthz", "/readyz", "/dev/session", "/", "/demo.js", "/demo/two", "/nope"}
	for _, p := range routes {
		for _, m := range methods {
			reqs = append(reqs, req{m, p, nil})
		}
		reqs = append(reqs,
			req{"GET", p, app}, req{"POST", p, app}, req{"GET", p, evil},
			req{"OPTIONS", p, preflight("https://app.test")}, req{"OPTIONS", p, preflight("https://evil.test")},
			req{"OPTIONS", p, preflight("")}, req{"OPTIONS", p, app})
	}
	for _, p := range []string{
		// unknown paths
		"/api", "/api/v1", "/api/v1/", "/orgs/acme/ws", "/HEALTHZ", "/healthzz", "/dev", "/dev/session/x",
		// trailing and double slashes
		"/healthz/", "/api/v1/realtime/token/", "/.well-known/jwks.json/", "/dev/session/", "/demo.js/",
		"//healthz", "/healthz//", "/api//v1/realtime/token", "/.well-known//jwks.json", "//", "///demo.js",
		// dot segments, plain and encoded
		"/./healthz", "/x/../healthz", "/healthz/.", "/healthz/..", "/.well-known/./jwks.json", "/..", "/.",
		"/%2e/healthz", "/x/%2e%2e/healthz", "/x/%2E%2E/healthz", "/healthz/%2e", "/api/v1/x/%2e%2e/realtime/token",
		// percent-encoded route segments
		"/heal%74hz", "/%68ealthz", "/api/v1/realtime%2Ftoken", "/api%2Fv1%2Frealtime%2Ftoken", "/.well-known%2Fjwks.json",
		"/%2Ehealthz", "/%2Fhealthz", "/healthz%2F", "/demo%2Ejs", "/dev%2Fsession", "/%64ev/session", "/heal%zzhz", "/%",
		// query strings
		"/healthz?x=1", "/healthz?", "/.well-known/jwks.json?v=2", "/nope?x", "/?a=b", "/demo.js?v=1", "/healthz/?x",
		// other request-target forms
		"*", "http://issuer.test/healthz", "http://issuer.test/.well-known/jwks.json?x", "http://issuer.test/x/../healthz",
	} {
		for _, m := range []string{"GET", "POST", "HEAD", "OPTIONS"} {
			reqs = append(reqs, req{m, p, nil})
		}
		reqs = append(reqs, req{"OPTIONS", p, preflight("https://app.test")}, req{"OPTIONS", p, preflight("https://evil.test")},
			req{"GET", p, app})
	}
	// Authorization headers on the token routes: the answers after routing.
	for _, p := range []string{"/api/v1/cloudflare/request-access", "/api/v1/realtime/token", "/dev/session"} {
		reqs = append(reqs,
			req{"POST", p, map[string]string{"Authorization": "Bearer x.y.z"}},
			req{"POST", p, map[string]string{"Authorization": "Basic eA=="}},
		)
	}

	var got strings.Builder
	for _, mode := range []struct {
		name string
		ti   *testIssuer
	}{{"prod", prod}, {"dev", dev}} {
		addr := mode.ti.http.Listener.Addr().String()
		for _, rq := range reqs {
			hk := make([]string, 0, len(rq.hdr))
			for k, v := range rq.hdr {
				hk = append(hk, k+"="+v)
			}
			sort.Strings(hk)
			fmt.Fprintf(&got, "%s %s %s [%s]\n\t%s\n", mode.name, rq.method, rq.target, strings.Join(hk, " "),
				rawAnswer(t, addr, rq.method, rq.target, rq.hdr, jwks))
		}
		// The metrics' labels: each request's route (its path, or "unknown") and refusal reason.
		rec := httptest.NewRecorder()
		mode.ti.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		for _, l := range strings.Split(rec.Body.String(), "\n") {
			if strings.HasPrefix(l, "issuer_request_duration_seconds_count") || strings.HasPrefix(l, "issuer_auth_failures_total") {
				fmt.Fprintf(&got, "%s metric %s\n", mode.name, l)
			}
		}
	}
	golden := filepath.Join("testdata", "route_answers.golden")
	if *updateRoutes {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		gl, wl := strings.Split(got.String(), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Errorf("line %d:\n got  %s\n want %s", i+1, g, w)
			}
		}
	}
}
