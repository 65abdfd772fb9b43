package harness

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/internal/rsakey"
)

// CheckConfig says what to check.
type CheckConfig struct {
	// Router is the router's base URL (ws(s):// or http(s)://), e.g. http://127.0.0.1:8787.
	Router string
	// Issuer is the dev-mode issuer's URL, e.g. http://127.0.0.1:8080.
	Issuer string
	// Key is the issuer's signing key (the dev key): crafted bad tokens are signed with it so
	// that each fails for exactly the reason under test.
	Key *rsa.PrivateKey
	// Origin is an origin the router allows; empty skips the allowed-origin case.
	Origin string
	// Timeout bounds each wait for a frame. This defaults to 5 s.
	Timeout time.Duration
}

// Result is one case: what the contract expects and what the router did.
type Result struct {
	Name     string `json:"name"`
	Expected string `json:"expected"`
	Got      string `json:"got"`
	Pass     bool   `json:"pass"`
}

type checker struct {
	cfg      CheckConfig
	iss      Issuer
	claims   map[string]any // iss and aud as the issuer writes them
	foreign  *rsa.PrivateKey
	run      string
	counter  int
	base     string
	httpBase string
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Check runs the handshake conformance suite (docs/protocol.md, docs/reason-codes.md) against
// a running router. It returns an error only when it cannot run (issuer unreachable, ...).
func Check(ctx context.Context, cfg CheckConfig) ([]Result, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Key == nil {
		return nil, errors.New("check needs the issuer's signing key (-key)")
	}
	c := &checker{cfg: cfg, iss: Issuer{URL: cfg.Issuer}, run: randHex(4), base: cfg.Router, httpBase: HTTPBase(cfg.Router)}
	if err := probe(ctx, c.httpBase+"/healthz"); err != nil {
		return nil, fmt.Errorf("router unreachable at %s: %w", c.httpBase, err)
	}
	first, err := c.iss.Handshake(ctx, c.user("probe"), c.org("probe"), "member")
	if err != nil {
		return nil, err
	}
	if c.claims, err = Claims(first.Token); err != nil {
		return nil, fmt.Errorf("issuer token: %w", err)
	}
	if c.foreign, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	var out []Result
	for _, tc := range c.cases() {
		got, err := tc.run(ctx)
		if err != nil {
			got = "error: " + err.Error()
		}
		out = append(out, Result{Name: tc.name, Expected: tc.want, Got: got, Pass: got == tc.want})
	}
	return out, nil
}

func (c *checker) user(s string) string { return "u-" + s + "-" + c.run }
func (c *checker) org(s string) string  { return "o-" + s + "-" + c.run }

func (c *checker) jti() string {
	c.counter++
	return fmt.Sprintf("chk-%s-%d-%s", c.run, c.counter, randHex(4))
}

// publishClaims is a valid publish claim set of the service "backend" for org.
func (c *checker) publishClaims(org string) map[string]any {
	now := time.Now().Unix()
	iss, _ := c.claims["iss"].(string)
	aud, _ := c.claims["aud"].(string)
	return contract.PublishClaims{Issuer: iss, Audience: aud, Subject: "backend", OrgID: org, JTI: c.jti(),
		IssuedAt: now, NotBefore: now, ExpiresAt: now + 60}.Map()
}

// claimsFor is a valid handshake claim set for user in org, modified by kv pairs (nil deletes).
func (c *checker) claimsFor(user, org string, kv ...any) map[string]any {
	now := time.Now().Unix()
	iss, _ := c.claims["iss"].(string)
	aud, _ := c.claims["aud"].(string)
	m := contract.HandshakeClaims{Issuer: iss, Audience: aud, UserID: user, OrgID: org, Role: "member",
		JTI: c.jti(), IssuedAt: now, NotBefore: now, ExpiresAt: now + 60}.Map()
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	return m
}

func (c *checker) craft(kv ...any) string {
	return Craft(c.cfg.Key, RS256Header(c.cfg.Key), c.claimsFor(c.user("x"), c.org("x"), kv...))
}

type checkCase struct {
	name, want string
	run        func(context.Context) (string, error)
}

// handshake dials and describes the outcome: "101 welcome", "101 office-router.v1 welcome" or
// "<status> <reason>".
func (c *checker) handshake(ctx context.Context, org, token string, pos TokenPosition, hdr http.Header) (string, error) {
	r, err := Dial(ctx, OrgURL(c.base, org), token, pos, hdr)
	if err != nil {
		return "", err
	}
	if r.Conn == nil {
		return fmt.Sprintf("%d %s", r.Status, r.Reason), nil
	}
	defer r.Conn.Close()
	w, err := ReadJSON(r.Conn, c.cfg.Timeout)
	if err != nil {
		return "", err
	}
	got := "101"
	if r.Subprotocol != "" {
		got += " " + r.Subprotocol
	}
	if w["type"] == "welcome" {
		got += " welcome"
	}
	_ = r.Conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
	return got, nil
}

func (c *checker) reject(org string, tok string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) { return c.handshake(ctx, org, tok, InHeader, nil) }
}

// rawGET sends a plain GET to the socket route (pre-flight, or hand-made upgrade headers).
func (c *checker) rawGET(ctx context.Context, org string, hdr http.Header) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.httpBase+"/orgs/"+org+"/ws", nil)
	if err != nil {
		return "", err
	}
	req.Header = hdr
	status, body, err := c.send(req)
	if err != nil {
		return "", err
	}
	return preflightVerdict(status, body), nil
}

// requestTo builds a request whose target is path exactly as written: url.URL would resolve dot
// segments and refuse a bad escape, which are what some cases send.
func (c *checker) requestTo(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	base, err := url.Parse(c.httpBase)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.httpBase, body)
	if err != nil {
		return nil, err
	}
	req.URL = &url.URL{Scheme: base.Scheme, Host: base.Host, Opaque: path}
	return req, nil
}

// send does req and decodes its JSON body: the answer every plain-HTTP case judges.
func (c *checker) send(req *http.Request) (int, map[string]any, error) {
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("router unreachable at %s: %w", c.httpBase, err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	return resp.StatusCode, body, nil
}

// preflightVerdict reads a pre-flight answer as the table shows it.
func preflightVerdict(status int, body map[string]any) string {
	if status == 200 && body["ok"] == true {
		return "200 ok"
	}
	return fmt.Sprintf("%d %v", status, body["error"])
}

func (c *checker) cases() []checkCase {
	x := c.org("x")
	hs := func(header map[string]any) string {
		h, _ := json.Marshal(header)
		p, _ := json.Marshal(c.claimsFor(c.user("x"), x))
		in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
		pub, _ := rsakey.EncodePublicKeyPEM(&c.cfg.Key.PublicKey)
		m := hmac.New(sha256.New, pub)
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	now := time.Now().Unix()
	upgradeHdr := func(version, key string) http.Header {
		return http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Version": {version},
			"Sec-Websocket-Key": {key}, "Authorization": {"Bearer " + c.craft()}}
	}
	list := []checkCase{
		{"valid_authorization_header", "101 welcome", func(ctx context.Context) (string, error) {
			a, err := c.iss.Handshake(ctx, c.user("h"), c.org("h"), "member")
			if err != nil {
				return "", err
			}
			return c.handshake(ctx, c.org("h"), a.Token, InHeader, nil)
		}},
		{"valid_subprotocol", "101 office-router.v1 welcome", func(ctx context.Context) (string, error) {
			a, err := c.iss.Handshake(ctx, c.user("s"), c.org("s"), "admin")
			if err != nil {
				return "", err
			}
			return c.handshake(ctx, c.org("s"), a.Token, InSubprotocol, nil)
		}},
		{"preflight_ok", "200 ok", func(ctx context.Context) (string, error) {
			return c.rawGET(ctx, x, http.Header{"Authorization": {"Bearer " + c.craft()}})
		}},
		{"preflight_explains_rejection", "401 expired", func(ctx context.Context) (string, error) {
			return c.rawGET(ctx, x, http.Header{"Authorization": {"Bearer " + c.craft("exp", now-30, "iat", now-90, "nbf", now-90)}})
		}},
		{"missing_token", "401 missing_token", c.reject(x, "")},
		{"malformed", "401 malformed", c.reject(x, "a.b.c")},
		{"token_too_large", "401 token_too_large", c.reject(x, c.craft("pad", strings.Repeat("p", 4200)))},
		{"alg_none", "401 alg_not_allowed", c.reject(x, Craft(c.cfg.Key, map[string]any{"alg": "none", "kid": rsakey.Thumbprint(&c.cfg.Key.PublicKey)}, c.claimsFor(c.user("x"), x)))},
		{"alg_hs256_with_public_key", "401 alg_not_allowed", c.reject(x, hs(map[string]any{"alg": "HS256", "kid": rsakey.Thumbprint(&c.cfg.Key.PublicKey)}))},
		{"missing_kid", "401 missing_kid", c.reject(x, Craft(c.cfg.Key, map[string]any{"alg": "RS256"}, c.claimsFor(c.user("x"), x)))},
		{"unknown_kid_foreign_key", "401 unknown_kid", c.reject(x, Craft(c.foreign, RS256Header(c.foreign), c.claimsFor(c.user("x"), x)))},
		{"bad_signature_forged_kid", "401 bad_signature", c.reject(x, Craft(c.foreign, RS256Header(c.cfg.Key), c.claimsFor(c.user("x"), x)))},
		{"jku_header_injection", "401 malformed", c.reject(x, Craft(c.cfg.Key, map[string]any{"alg": "RS256", "kid": rsakey.Thumbprint(&c.cfg.Key.PublicKey), "jku": "https://evil.example/jwks"}, c.claimsFor(c.user("x"), x)))},
		{"expired", "401 expired", c.reject(x, c.craft("exp", now-30, "iat", now-90, "nbf", now-90))},
		{"not_yet_valid", "401 not_yet_valid", c.reject(x, c.craft("nbf", now+120))},
		{"issued_in_future", "401 issued_in_future", c.reject(x, c.craft("iat", now+120, "nbf", nil, "exp", now+150))},
		{"lifetime_exceeded", "401 lifetime_exceeded", c.reject(x, c.craft("exp", now+3600))},
		{"wrong_issuer", "401 wrong_issuer", c.reject(x, c.craft("iss", "https://evil.example"))},
		{"wrong_audience", "401 wrong_audience", c.reject(x, c.craft("aud", "someone-else"))},
		{"wrong_scope_publish_token", "401 wrong_scope", c.reject(x, c.craft("scope", "publish"))},
		{"missing_claim", "401 missing_claim", c.reject(x, c.craft("role", nil))},
		{"invalid_claim", "401 invalid_claim", c.reject(x, c.craft("role", "Admin"))},
		{"claim_mismatch", "401 claim_mismatch", c.reject(x, c.craft("sub", "someone-else"))},
		{"origin_not_allowed", "403 origin_not_allowed", func(ctx context.Context) (string, error) {
			return c.handshake(ctx, x, c.craft(), InSubprotocol, http.Header{"Origin": {"https://evil.example"}})
		}},
		{"org_mismatch", "403 org_mismatch", c.reject(c.org("elsewhere"), c.craft())},
		{"replayed", "401 replayed", func(ctx context.Context) (string, error) {
			tok := c.craft()
			if got, err := c.handshake(ctx, x, tok, InHeader, nil); err != nil || got != "101 welcome" {
				return "first use: " + got, err
			}
			return c.handshake(ctx, x, tok, InHeader, nil)
		}},
		{"preflight_reports_replay", "401 replayed", func(ctx context.Context) (string, error) {
			tok := c.craft()
			if got, err := c.handshake(ctx, x, tok, InHeader, nil); err != nil || got != "101 welcome" {
				return "first use: " + got, err
			}
			return c.rawGET(ctx, x, http.Header{"Authorization": {"Bearer " + tok}})
		}},
		// Malformed upgrades are refused before any token work. Which of 400/426 answers, and
		// with what body, may belong to the runtime in front of the Worker (workerd answers a
		// bad version itself and supplies its own Sec-WebSocket-Key), so only "refused before
		// the upgrade" is compared across routers; each router's unit tests pin the exact answer.
		{"bad_websocket_version", "refused before upgrade", func(ctx context.Context) (string, error) {
			got, err := c.rawGET(ctx, x, upgradeHdr("8", "dGhlIHNhbXBsZSBub25jZQ=="))
			if strings.HasPrefix(got, "400 ") || strings.HasPrefix(got, "426 ") {
				return "refused before upgrade", err
			}
			return got, err
		}},
		{"presence_join_leave", "join leave", c.presence},
		{"broadcast_and_org_isolation", "delivered isolated", c.isolation},
		{"direct_message", "direct", c.direct},
		{"publish", "200 delivered=1 event", c.publish},
		{"publish_with_handshake_token", "401 wrong_scope", func(ctx context.Context) (string, error) {
			return c.post(ctx, x, c.craft(), `{"data":1}`)
		}},
		{"oversized_frame", "close 1009", c.oversized},
		{"bad_message", "error bad_message", c.badMessage},
	}
	list = append(list, c.boundaryCases()...) // issue 13: check_boundary.go
	list = append(list, c.dotPathCases()...)  // check_dotpath.go
	if c.cfg.Origin != "" {
		list = append(list, checkCase{"origin_allowed", "101 office-router.v1 welcome", func(ctx context.Context) (string, error) {
			return c.handshake(ctx, x, c.craft(), InSubprotocol, http.Header{"Origin": {c.cfg.Origin}})
		}})
	}
	return list
}

func probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s answered %d", url, resp.StatusCode)
	}
	return nil
}
