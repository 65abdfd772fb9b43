package proxy_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/qubital/office-router/internal/httpx/httpxtest"
	"github.com/qubital/office-router/proxy"
)

// rawAnswer is e's answer to one raw request, as one comparable line (httpxtest.RawAnswer).
func rawAnswer(t *testing.T, e *env, method, target string, hdr map[string]string) string {
	t.Helper()
	return httpxtest.RawAnswer(t, e.srv.Listener.Addr().String(), "router.test", method, target, hdr)
}

// The answers every route gives, pinned byte for byte (status, headers, body) so that a change of
// router (a regexp before, ServeMux patterns after) cannot change one. Common header sets:
const (
	notFound  = "404 Cache-Control=no-store Content-Length=22 Content-Type=application/json X-Content-Type-Options=nosniff {\"error\":\"not_found\"}"
	noToken   = "401 Cache-Control=no-store Content-Length=26 Content-Type=application/json X-Content-Type-Options=nosniff {\"error\":\"missing_token\"}"
	wsMethod  = "405 Allow=GET, OPTIONS Cache-Control=no-store Content-Length=31 Content-Type=application/json X-Content-Type-Options=nosniff {\"error\":\"method_not_allowed\"}"
	getMethod = "405 Allow=GET Cache-Control=no-store Content-Length=31 Content-Type=application/json X-Content-Type-Options=nosniff {\"error\":\"method_not_allowed\"}"
	pubMethod = "405 Allow=POST Cache-Control=no-store Content-Length=31 Content-Type=application/json X-Content-Type-Options=nosniff {\"error\":\"method_not_allowed\"}"
	healthy   = "200 Cache-Control=no-store Content-Length=16 Content-Type=application/json X-Content-Type-Options=nosniff {\"status\":\"ok\"}"
)

func TestRouteAnswers(t *testing.T) {
	e := newEnv(t, proxy.Config{AllowedOrigins: []string{"https://app.test"}, FailureBurst: 1 << 20})
	app := map[string]string{"Origin": "https://app.test"}
	evil := map[string]string{"Origin": "https://evil.test"}
	preflight := func(origin string) map[string]string {
		h := map[string]string{"Access-Control-Request-Method": "GET"}
		if origin != "" {
			h["Origin"] = origin
		}
		return h
	}
	upgrade := map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
	const (
		corsOK   = "204 Access-Control-Allow-Headers=Authorization, Content-Type Access-Control-Allow-Methods=GET, POST, OPTIONS Access-Control-Allow-Origin=https://app.test Access-Control-Max-Age=600 Vary=Origin "
		noOrigin = "403 Cache-Control=no-store Content-Length=31 Content-Type=application/json X-Content-Type-Options=nosniff {\"error\":\"origin_not_allowed\"}"
	)
	for _, tc := range []struct {
		name, method, target string
		hdr                  map[string]string
		want                 string
	}{
		// /healthz answers every method, and nothing under it exists.
		{"healthz", "GET", "/healthz", nil, healthy},
		{"healthz POST", "POST", "/healthz", nil, healthy},
		{"healthz HEAD", "HEAD", "/healthz", nil, strings.TrimSuffix(healthy, `{"status":"ok"}`)},
		{"healthz OPTIONS pre-flight", "OPTIONS", "/healthz", preflight("https://app.test"), healthy},
		{"healthz via dot segment", "GET", "/x/../healthz", nil, healthy},
		{"healthz trailing slash", "GET", "/healthz/", nil, notFound},
		{"healthz double slash", "GET", "//healthz", nil, notFound},

		// Unknown routes: 404 JSON, never a redirect to a cleaned path.
		{"root", "GET", "/", nil, notFound},
		{"root POST", "POST", "/", nil, notFound},
		{"orgs", "GET", "/orgs", nil, notFound},
		{"orgs slash", "GET", "/orgs/", nil, notFound},
		{"org only", "GET", "/orgs/acme", nil, notFound},
		{"org slash", "GET", "/orgs/acme/", nil, notFound},
		{"unknown kind", "GET", "/orgs/acme/other", nil, notFound},
		{"capital Orgs", "GET", "/Orgs/acme/ws", nil, notFound},
		{"capital WS", "GET", "/orgs/acme/WS", nil, notFound},
		{"ws trailing slash", "GET", "/orgs/acme/ws/", nil, notFound},
		{"publish trailing slash", "POST", "/orgs/acme/publish/", nil, notFound},
		{"ws below", "GET", "/orgs/acme/ws/x", nil, notFound},
		{"leading double slash", "GET", "//orgs/acme/ws", nil, notFound},
		{"empty org", "GET", "/orgs//ws", nil, notFound},
		{"double slash before kind", "GET", "/orgs/acme//ws", nil, notFound},
		{"double slash after kind", "GET", "/orgs/acme/ws//", nil, notFound},
		{"double slash publish", "POST", "//orgs/acme/publish", nil, notFound},
		{"dot in org", "GET", "/orgs/ac.me/ws", nil, notFound},
		{"org too long", "GET", "/orgs/" + strings.Repeat("a", 129) + "/ws", nil, notFound},
		{"encoded slash in org", "GET", "/orgs/a%2Fb/ws", nil, notFound},
		{"encoded slash after kind", "GET", "/orgs/acme/ws%2F", nil, notFound},
		{"encoded space in org", "GET", "/orgs/a%20b/ws", nil, notFound},
		{"dot segment after kind", "GET", "/orgs/acme/ws/..", nil, notFound},
		{"dot after kind", "GET", "/orgs/acme/ws/.", nil, notFound},
		// net/http's server answers "OPTIONS *" itself, before any handler.
		{"asterisk", "OPTIONS", "*", nil, "200 Content-Length=0 "},
		{"asterisk GET", "GET", "*", nil, notFound},
		{"CONNECT authority", "CONNECT", "router.test:443", nil, notFound},
		{"unknown route keeps no CORS", "GET", "/nope", app, notFound},
		{"unknown route pre-flight", "OPTIONS", "/nope", preflight("https://app.test"), notFound},

		// The socket route: paths the Worker routes to it too, decoded and dot-resolved.
		{"ws", "GET", "/orgs/acme/ws", nil, noToken},
		{"ws query", "GET", "/orgs/acme/ws?x=1", nil, noToken},
		{"ws encoded org", "GET", "/orgs/%61cme/ws", nil, noToken},
		// Only the org segment is decoded; every other segment must be literal, as the Worker's
		// route pattern runs on the encoded pathname.
		{"ws encoded kind", "GET", "/orgs/acme/%77s", nil, notFound},
		{"encoded orgs segment", "GET", "/%6Frgs/acme/ws", nil, notFound},
		{"healthz encoded", "GET", "/health%7A", nil, notFound},
		{"ws dot segments", "GET", "/orgs/x/../acme/ws", nil, noToken},
		{"ws encoded dot segments", "GET", "/orgs/x/%2e%2E/acme/ws", nil, noToken},
		{"ws single dots", "GET", "/orgs/./acme/./ws", nil, noToken},
		{"ws climbing above root", "GET", "/../../orgs/acme/ws", nil, noToken},
		{"ws absolute-form target", "GET", "http://other.test/orgs/acme/ws", nil, noToken},
		// An encoded slash is no segment boundary: /orgs/{"acme/ws"} is no route (both twins).
		{"ws encoded slash between segments", "GET", "/orgs/acme%2Fws", nil, notFound},
		// The WHATWG URL parser the Worker's request.url comes from reads a "\" as a "/" (http
		// is a special scheme) and a "#" as the fragment's start; answers taken from wrangler dev.
		{"ws backslashes", "GET", `/orgs\acme\ws`, nil, noToken},
		{"ws backslash dot segments", "GET", `/orgs/x\..\acme/ws`, nil, noToken},
		{"ws encoded dots, backslash", "GET", `/orgs/x/%2e%2e\acme/ws`, nil, noToken},
		{"ws backslash in the org", "GET", `/orgs/ac\me/ws`, nil, notFound},
		{"ws backslash then slash", "GET", `/orgs/acme\/ws`, nil, notFound},
		{"ws encoded backslash", "GET", "/orgs/acme%5Cws", nil, notFound},
		{"ws fragment", "GET", "/orgs/acme/ws#x", nil, noToken},
		{"ws fragment with dot segments", "GET", "/orgs/acme/ws#/../x", nil, noToken},
		{"ws fragment inside the kind", "GET", "/orgs/acme/w#s", nil, notFound},
		{"ws fragment after the query", "GET", "/orgs/acme/ws?a#b", nil, noToken},
		{"publish fragment GET", "GET", "/orgs/acme/publish#", nil, pubMethod},
		{"ws allowed origin", "GET", "/orgs/acme/ws", app,
			"401 Access-Control-Allow-Origin=https://app.test Cache-Control=no-store Content-Length=26 Content-Type=application/json Vary=Origin X-Content-Type-Options=nosniff {\"error\":\"missing_token\"}"},
		{"ws refused origin", "GET", "/orgs/acme/ws", evil, noOrigin},
		{"ws HEAD", "HEAD", "/orgs/acme/ws", nil, strings.TrimSuffix(wsMethod, `{"error":"method_not_allowed"}`)},
		{"ws POST", "POST", "/orgs/acme/ws", nil, wsMethod},
		{"ws PUT", "PUT", "/orgs/acme/ws", nil, wsMethod},
		{"ws DELETE", "DELETE", "/orgs/acme/ws", nil, wsMethod},
		{"ws PATCH", "PATCH", "/orgs/acme/ws", nil, wsMethod},
		{"ws CONNECT", "CONNECT", "/orgs/acme/ws", nil, wsMethod},
		{"ws made-up method", "BREW", "/orgs/acme/ws", nil, wsMethod},
		{"ws POST upgrade", "POST", "/orgs/acme/ws", upgrade, wsMethod},
		{"ws OPTIONS without pre-flight", "OPTIONS", "/orgs/acme/ws", nil, wsMethod},
		{"ws OPTIONS allowed origin", "OPTIONS", "/orgs/acme/ws", app,
			"405 Access-Control-Allow-Origin=https://app.test Allow=GET, OPTIONS Cache-Control=no-store Content-Length=31 Content-Type=application/json Vary=Origin X-Content-Type-Options=nosniff {\"error\":\"method_not_allowed\"}"},
		{"ws pre-flight", "OPTIONS", "/orgs/acme/ws", preflight("https://app.test"), corsOK},
		{"ws pre-flight dot segments", "OPTIONS", "/orgs/x/../acme/ws", preflight("https://app.test"), corsOK},
		{"ws pre-flight refused origin", "OPTIONS", "/orgs/acme/ws", preflight("https://evil.test"), noOrigin},
		{"ws pre-flight no origin", "OPTIONS", "/orgs/acme/ws", preflight(""), noOrigin},
		{"ws pre-flight bad org", "OPTIONS", "/orgs/ac.me/ws", preflight("https://app.test"), notFound},

		// The publish route.
		{"publish", "POST", "/orgs/acme/publish", nil, noToken},
		{"publish encoded kind", "POST", "/orgs/acme/%70ublish", nil, notFound},
		{"publish dot segments", "POST", "/orgs/x/../acme/publish", nil, noToken},
		{"publish GET", "GET", "/orgs/acme/publish", nil, pubMethod},
		{"publish HEAD", "HEAD", "/orgs/acme/publish", nil, strings.TrimSuffix(pubMethod, `{"error":"method_not_allowed"}`)},
		{"publish PUT", "PUT", "/orgs/acme/publish", nil, pubMethod},
		{"publish CONNECT", "CONNECT", "/orgs/acme/publish", nil, pubMethod},
		{"publish GET upgrade", "GET", "/orgs/acme/publish", upgrade, pubMethod},
		{"publish OPTIONS without pre-flight", "OPTIONS", "/orgs/acme/publish", nil, pubMethod},
		{"publish GET allowed origin", "GET", "/orgs/acme/publish", app,
			"405 Access-Control-Allow-Origin=https://app.test Allow=POST Cache-Control=no-store Content-Length=31 Content-Type=application/json Vary=Origin X-Content-Type-Options=nosniff {\"error\":\"method_not_allowed\"}"},
		{"publish pre-flight", "OPTIONS", "/orgs/acme/publish", preflight("https://app.test"), corsOK},
		{"publish pre-flight refused origin", "OPTIONS", "/orgs/acme/publish", preflight("https://evil.test"), noOrigin},
		{"publish bad org", "POST", "/orgs/ac.me/publish", nil, notFound},

		// The control routes (issue 16), each its method only; answers compared with the Worker's
		// by r16 against wrangler dev (HEAD on presence included: ServeMux gives it the GET pattern).
		{"presence", "GET", "/orgs/acme/presence", nil, noToken},
		{"presence HEAD", "HEAD", "/orgs/acme/presence", nil, strings.TrimSuffix(getMethod, `{"error":"method_not_allowed"}`)},
		{"presence POST", "POST", "/orgs/acme/presence", nil, getMethod},
		{"presence OPTIONS without pre-flight", "OPTIONS", "/orgs/acme/presence", nil, getMethod},
		{"presence pre-flight", "OPTIONS", "/orgs/acme/presence", preflight("https://app.test"), corsOK},
		{"presence trailing slash", "GET", "/orgs/acme/presence/", nil, notFound},
		{"presence encoded kind", "GET", "/orgs/acme/%70resence", nil, notFound},
		{"disconnect", "POST", "/orgs/acme/disconnect", nil, noToken},
		{"disconnect GET", "GET", "/orgs/acme/disconnect", nil, pubMethod},
		{"disconnect HEAD", "HEAD", "/orgs/acme/disconnect", nil, strings.TrimSuffix(pubMethod, `{"error":"method_not_allowed"}`)},
		{"disconnect GET upgrade", "GET", "/orgs/acme/disconnect", upgrade, pubMethod},
		{"disconnect pre-flight", "OPTIONS", "/orgs/acme/disconnect", preflight("https://app.test"), corsOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rawAnswer(t, e, tc.method, tc.target, tc.hdr); got != tc.want {
				t.Errorf("%s %s\n got: %s\nwant: %s", tc.method, tc.target, got, tc.want)
			}
		})
	}
}

// TestRouteOrderAgainstTheLimiter pins which answers come before the failed-address limiter and
// which spend it: the socket route limits every method (a wrong method is a refused handshake),
// the publish route answers a wrong method before the limiter and charges nothing for it.
func TestRouteOrderAgainstTheLimiter(t *testing.T) {
	e := newEnv(t, proxy.Config{FailureBurst: 1, FailuresPerSecond: 0.001})
	limited := "429 Cache-Control=no-store Content-Length=25 Content-Type=application/json Retry-After=%s X-Content-Type-Options=nosniff {\"error\":\"rate_limited\"}"
	steps := []struct{ method, target, want string }{
		{"GET", "/orgs/acme/publish", pubMethod}, // not charged
		{"GET", "/orgs/acme/publish", pubMethod},
		{"GET", "/nope", notFound}, // not charged
		{"GET", "/nope", notFound},
		{"POST", "/orgs/acme/ws", wsMethod}, // charged: the one failure the burst allows
		{"POST", "/orgs/acme/ws", limited},
		{"GET", "/orgs/acme/ws", limited},
		{"POST", "/orgs/acme/publish", limited},
		{"GET", "/orgs/acme/publish", pubMethod}, // still answered before the limiter
		{"GET", "/healthz", healthy},
	}
	for i, s := range steps {
		got := rawAnswer(t, e, s.method, s.target, nil)
		want := s.want
		if strings.Contains(want, "%s") {
			// Retry-After counts down from the limiter's refill time; only its presence is pinned.
			at := strings.Index(got, "Retry-After=")
			end := strings.Index(got[max(at, 0):], " ")
			if at < 0 || end < 0 {
				t.Fatalf("step %d %s %s: no Retry-After in %s", i, s.method, s.target, got)
			}
			want = fmt.Sprintf(want, got[at+len("Retry-After="):at+end])
		}
		if got != want {
			t.Errorf("step %d %s %s\n got: %s\nwant: %s", i, s.method, s.target, got, want)
		}
	}
}
