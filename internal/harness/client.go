// Package harness is the logic behind cmd/wsharness and the e2e tests: getting dev tokens from
// an issuer, crafting tokens, opening sockets, the handshake conformance suite (check) and the
// load test (load). It talks real HTTP and real WebSockets only.
package harness

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/base64"
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

// Issuer talks to an issuer running in dev mode.
type Issuer struct {
	URL    string
	Client *http.Client
}

// Access is the issuer's answer to request-access.
type Access struct {
	Token     string `json:"token"`
	URL       string `json:"url"`
	ExpiresAt int64  `json:"expiresAt"`
}

func (i *Issuer) client() *http.Client {
	if i.Client != nil {
		return i.Client
	}
	return &http.Client{Timeout: 10 * time.Second}
}

func (i *Issuer) post(ctx context.Context, path, bearer string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	u := strings.TrimRight(i.URL, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, rd)
	if err != nil {
		return fmt.Errorf("issuer URL %q: %w", i.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := i.client().Do(req)
	if err != nil {
		return fmt.Errorf("issuer unreachable at %s: %w (is it running? `make dev` starts it)", u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("issuer %s answered %d %s", u, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	return json.Unmarshal(raw, out)
}

// DevSession gets a dev-mode access token (POST /dev/session).
func (i *Issuer) DevSession(ctx context.Context, user, org, role string) (string, error) {
	var out struct {
		AccessToken string `json:"accessToken"`
	}
	err := i.post(ctx, "/dev/session", "", map[string]string{"userId": user, "orgId": org, "role": role}, &out)
	return out.AccessToken, err
}

// RequestAccess exchanges an access token for a handshake token and socket URL.
func (i *Issuer) RequestAccess(ctx context.Context, accessToken string) (Access, error) {
	var out Access
	err := i.post(ctx, "/api/v1/cloudflare/request-access", accessToken, nil, &out)
	return out, err
}

// Handshake is DevSession + RequestAccess.
func (i *Issuer) Handshake(ctx context.Context, user, org, role string) (Access, error) {
	at, err := i.DevSession(ctx, user, org, role)
	if err != nil {
		return Access{}, err
	}
	return i.RequestAccess(ctx, at)
}

// Craft signs arbitrary header and claims with key (RS256 signature whatever the header says).
func Craft(key *rsa.PrivateKey, header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sig, _ := rsakey.SignRS256(key, in) // fails only for a broken key, which then fails the check
	return in + "." + sig
}

// RS256Header is the header the issuer writes for key.
func RS256Header(key *rsa.PrivateKey) map[string]any {
	return map[string]any{"alg": "RS256", "typ": "JWT", "kid": rsakey.Thumbprint(&key.PublicKey)}
}

// Claims decodes a token's payload without verifying it (to learn iss/aud from the issuer).
func Claims(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// TokenPosition says where a socket carries its token.
type TokenPosition int

const (
	InHeader TokenPosition = iota
	InSubprotocol
)

// DialResult is a handshake's outcome: a socket, or the HTTP answer and its reason code.
type DialResult struct {
	Conn        *websocket.Conn
	Status      int
	Reason      string
	Subprotocol string
}

// Dial opens wsURL with token in the given position and extra headers.
func Dial(ctx context.Context, wsURL, token string, pos TokenPosition, extra http.Header) (DialResult, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	hdr := http.Header{}
	for k, v := range extra {
		hdr[k] = v
	}
	switch {
	case token == "":
	case pos == InHeader:
		hdr.Set("Authorization", "Bearer "+token)
	default:
		d.Subprotocols = []string{contract.Subprotocol, contract.BearerSubprotocolPrefix + token}
	}
	conn, resp, err := d.DialContext(ctx, wsURL, hdr)
	if err == nil {
		return DialResult{Conn: conn, Status: http.StatusSwitchingProtocols, Subprotocol: conn.Subprotocol()}, nil
	}
	if resp == nil {
		return DialResult{}, fmt.Errorf("router unreachable at %s: %w", wsURL, err)
	}
	defer resp.Body.Close()
	var body struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	return DialResult{Status: resp.StatusCode, Reason: body.Error}, nil
}

// OrgURL is routerBase + /orgs/{org}/ws (routerBase http(s) or ws(s)).
func OrgURL(routerBase, org string) string {
	b := strings.TrimRight(routerBase, "/")
	if strings.HasPrefix(b, "http") {
		b = "ws" + strings.TrimPrefix(b, "http")
	}
	return b + "/orgs/" + url.PathEscape(org) + "/ws"
}

// HTTPBase turns a ws(s) router base into http(s).
func HTTPBase(routerBase string) string {
	b := strings.TrimRight(routerBase, "/")
	if strings.HasPrefix(b, "ws") {
		b = "http" + strings.TrimPrefix(b, "ws")
	}
	return b
}

// ReadJSON reads the next frame (with a deadline) as a JSON object.
func ReadJSON(conn *websocket.Conn, timeout time.Duration) (map[string]any, error) {
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	_, data, err := conn.ReadMessage()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return map[string]any{"raw": string(data)}, nil
	}
	return m, nil
}
