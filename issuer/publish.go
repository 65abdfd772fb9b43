package issuer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/qubital/office-router/contract"
)

// Publisher is a backend's client of a router's service routes (docs/protocol.md): Publish
// (POST /orgs/{orgId}/publish), Presence (GET /orgs/{orgId}/presence) and Disconnect
// (POST /orgs/{orgId}/disconnect). Each call is authenticated with a fresh single-use service
// token that carries only that route's scope. It is safe for concurrent use.
type Publisher struct {
	minter  *Minter
	base    string
	subject string
	client  *http.Client
}

// NewPublisher targets routerURL (http:// or https://, e.g. the Worker's origin). subject names
// the calling service in the token's `sub`. client defaults to http.DefaultClient.
func NewPublisher(m *Minter, routerURL, subject string, client *http.Client) (*Publisher, error) {
	u, err := url.Parse(routerURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("router URL must be http(s), got %q", routerURL)
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &Publisher{minter: m, base: strings.TrimRight(routerURL, "/"), subject: subject, client: client}, nil
}

// RouterError is a router's refusal of a service call: its status and reason code
// (docs/reason-codes.md).
type RouterError struct {
	Status int
	Reason string
}

func (e *RouterError) Error() string {
	return fmt.Sprintf("router refused: %d %s", e.Status, e.Reason)
}

// PublishError is the name RouterError had when publish was the only service route.
type PublishError = RouterError

// maxAnswerBytes bounds what is read of a router's answer. A presence list of a large org is
// the longest: some 200 bytes per user.
const maxAnswerBytes = 16 << 20

// Publish sends data to every socket of orgID, or only to user `to` when it is not empty, and
// returns how many connections received it.
func (p *Publisher) Publish(ctx context.Context, orgID, to string, data any) (int, error) {
	body := map[string]any{"data": data}
	if to != "" {
		body["to"] = to
	}
	var out struct {
		Delivered int `json:"delivered"`
	}
	err := p.call(ctx, http.MethodPost, orgID, contract.ScopePublish, body, &out)
	return out.Delivered, err
}

// PresenceUser is one online user of an org: their role and how many sockets they hold.
type PresenceUser struct {
	UserID      string `json:"userId"`
	Role        string `json:"role"`
	Connections int    `json:"connections"`
}

// Presence returns who is online in orgID, sorted by user id: the list a socket connecting
// now would get in its welcome.
func (p *Publisher) Presence(ctx context.Context, orgID string) ([]PresenceUser, error) {
	var out struct {
		Users []PresenceUser `json:"users"`
	}
	if err := p.call(ctx, http.MethodGet, orgID, contract.ScopePresence, nil, &out); err != nil {
		return nil, err
	}
	return out.Users, nil
}

// Disconnect is a POST /orgs/{orgId}/disconnect request.
type Disconnect struct {
	UserID string
	// Code is contract.CloseReauthRequired (4001: the user's rights changed; their clients
	// reconnect at once with a fresh token) or contract.CloseRevoked (4003: terminal).
	Code int
	// BlockSeconds, when above 0, refuses the user's new handshakes in the org with 403 revoked
	// for that long (at most 3600; a block is never shortened). Use at least 65 to stop a token
	// minted just before the call (60 s TTL plus leeway). 0 blocks nothing.
	BlockSeconds int
}

// Disconnect closes every socket of d.UserID in orgID with d.Code and returns how many it
// closed.
func (p *Publisher) Disconnect(ctx context.Context, orgID string, d Disconnect) (int, error) {
	body := map[string]any{"userId": d.UserID, "code": d.Code}
	if d.BlockSeconds != 0 {
		body["blockSeconds"] = d.BlockSeconds
	}
	var out struct {
		Disconnected int `json:"disconnected"`
	}
	err := p.call(ctx, http.MethodPost, orgID, contract.ScopeDisconnect, body, &out)
	return out.Disconnected, err
}

// call sends one service request to /orgs/{orgID}/{route} with a fresh token for that route
// and decodes a 200 answer into out; any other status is a *RouterError.
func (p *Publisher) call(ctx context.Context, method, orgID, route string, body, out any) error {
	tok, err := p.minter.MintService(orgID, p.subject, route)
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+"/orgs/"+url.PathEscape(orgID)+"/"+route, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	// The token is single-use, so sending this request twice can never act twice: a second copy
	// is refused as replayed. Saying so lets net/http retry it once on a fresh connection when a
	// pooled keep-alive connection turns out closed by the router (its idle timeout racing our
	// reuse), which otherwise fails a POST with a bare EOF.
	req.Header.Set("Idempotency-Key", newJTI())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxAnswerBytes))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = dec.Decode(&e)
		return &RouterError{Status: resp.StatusCode, Reason: e.Error}
	}
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s answer: %w", route, err)
	}
	return nil
}
