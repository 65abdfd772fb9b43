package proxy_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/issuer"
	"github.com/qubital/office-router/proxy"
	"github.com/qubital/office-router/verifier"
)

const (
	testIssuer   = "https://issuer.test"
	testAudience = "office-router"
)

var (
	keyOnce sync.Once
	keyA    *rsa.PrivateKey
	keyB    *rsa.PrivateKey
)

func keys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		if keyA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if keyB, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return keyA, keyB
}

type env struct {
	t      testing.TB
	p      *proxy.Proxy
	srv    *httptest.Server
	minter *issuer.Minter
	wsURL  string
}

func newVerifier(t testing.TB, opts ...verifier.Option) *verifier.Verifier {
	t.Helper()
	a, _ := keys(t)
	pemA, _ := rsakey.EncodePublicKeyPEM(&a.PublicKey)
	v, err := verifier.New(verifier.Config{PublicKeysPEM: string(pemA), Issuer: testIssuer, Audience: testAudience}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newEnv(t testing.TB, cfg proxy.Config) *env {
	t.Helper()
	return newEnvAt(t, cfg, nil)
}

// newEnvAt is newEnv with one clock for the minter, the verifier and the proxy (nil: the real
// one), so a test can step past an expiry with tokens that are still valid.
func newEnvAt(t testing.TB, cfg proxy.Config, now func() time.Time) *env {
	t.Helper()
	a, _ := keys(t)
	var vopts []verifier.Option
	var popts []proxy.Option
	if now != nil {
		vopts, popts = append(vopts, verifier.WithClock(now)), append(popts, proxy.WithClock(now))
	}
	p, err := proxy.New(cfg, newVerifier(t, vopts...), popts...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
		srv.Close()
	})
	m, err := issuer.NewMinter(a, testIssuer, testAudience, now)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, p: p, srv: srv, minter: m, wsURL: "ws" + strings.TrimPrefix(srv.URL, "http")}
}

func (e *env) token(user, org, role string) string {
	e.t.Helper()
	tok, err := e.minter.MintHandshake(issuer.Identity{UserID: user, OrgID: org, Role: role})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok.Token
}

type wsClient struct {
	t    testing.TB
	conn *websocket.Conn
	resp *http.Response
}

// dial opens a socket with the token in the Authorization header.
func (e *env) dial(user, org string) *wsClient {
	e.t.Helper()
	c, resp, err := e.dialWith(org, http.Header{"Authorization": {"Bearer " + e.token(user, org, "member")}})
	if err != nil {
		e.t.Fatalf("dial %s/%s: %v (status %v)", org, user, err, statusOf(resp))
	}
	return c
}

func (e *env) dialWith(org string, hdr http.Header) (*wsClient, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	if p := hdr.Get("Sec-WebSocket-Protocol"); p != "" {
		d.Subprotocols = strings.Split(p, ", ")
		hdr.Del("Sec-WebSocket-Protocol")
	}
	conn, resp, err := d.DialContext(e.t.Context(), e.wsURL+"/orgs/"+org+"/ws", hdr)
	if err != nil {
		return nil, resp, err
	}
	c := &wsClient{t: e.t, conn: conn, resp: resp}
	e.t.Cleanup(func() { conn.Close() })
	return c, resp, nil
}

func statusOf(r *http.Response) int {
	if r == nil {
		return 0
	}
	return r.StatusCode
}

// next reads the next JSON frame (5 s deadline, so a missing frame fails instead of hanging).
func (c *wsClient) next() map[string]any {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := c.conn.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return map[string]any{"raw": string(data)}
	}
	return m
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	var data []byte
	if s, ok := v.(string); ok {
		data = []byte(s)
	} else {
		data, _ = json.Marshal(v)
	}
	if err := c.conn.WriteMessage(websocket.TextMessage, data); err != nil {
		c.t.Fatal(err)
	}
}

// closeCode reads until the server closes and returns the close code.
func (c *wsClient) closeCode() int {
	c.t.Helper()
	code, _ := c.closeCodeReason()
	return code
}

// closeCodeReason reads until the server closes and returns the close code and reason.
func (c *wsClient) closeCodeReason() (int, string) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := c.conn.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		c.t.Fatalf("no close frame: %v", err)
	}
}

func (e *env) get(path string, hdr http.Header) (int, http.Header, map[string]any) {
	e.t.Helper()
	return e.do(http.MethodGet, path, hdr, "")
}

func (e *env) do(method, path string, hdr http.Header, body string) (int, http.Header, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, strings.NewReader(body))
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, resp.Header, m
}

func upgradeHeader(extra map[string]string) http.Header {
	h := http.Header{
		"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="},
	}
	for k, v := range extra {
		h.Set(k, v)
	}
	return h
}

func newMinterFor(t testing.TB, key *rsa.PrivateKey) (string, error) {
	t.Helper()
	m, err := issuer.NewMinter(key, testIssuer, testAudience, nil)
	if err != nil {
		return "", err
	}
	tok, err := m.MintHandshake(issuer.Identity{UserID: "alice", OrgID: "acme", Role: "member"})
	return tok.Token, err
}

type statusRecorder struct {
	header http.Header
	status int
	body   strings.Builder
}

func (r *statusRecorder) Header() http.Header { return r.header }
func (r *statusRecorder) WriteHeader(s int)   { r.status = s }
func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.body.Write(b)
}
func (r *statusRecorder) errorCode() string {
	var m map[string]any
	_ = json.Unmarshal([]byte(r.body.String()), &m)
	s, _ := m["error"].(string)
	return s
}

func httpRequestFrom(t testing.TB, e *env, remote string) *http.Request {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", "/orgs/acme/ws", nil)
	req.RemoteAddr = remote
	req.Header.Set("Authorization", "Bearer "+e.token("b", "acme", "member"))
	return req
}

func identity(user, org string) issuer.Identity {
	return issuer.Identity{UserID: user, OrgID: org, Role: "member"}
}
