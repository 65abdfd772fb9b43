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
)

// Publisher pushes backend events to an org's sockets through a router's
// POST /orgs/{orgId}/publish, authenticated with a fresh publish token per call.
type Publisher struct {
	minter  *Minter
	base    string
	subject string
	client  *http.Client
}

// NewPublisher targets routerURL (http:// or https://, e.g. the Worker's origin). subject names
// the publishing service in the token's `sub`. client defaults to http.DefaultClient.
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

// PublishError is a router's refusal: its status and reason code.
type PublishError struct {
	Status int
	Reason string
}

func (e *PublishError) Error() string {
	return fmt.Sprintf("publish refused: %d %s", e.Status, e.Reason)
}

// Publish sends data to every socket of orgID, or only to user `to` when it is not empty, and
// returns how many connections received it.
func (p *Publisher) Publish(ctx context.Context, orgID, to string, data any) (int, error) {
	tok, err := p.minter.MintPublish(orgID, p.subject)
	if err != nil {
		return 0, err
	}
	body := map[string]any{"data": data}
	if to != "" {
		body["to"] = to
	}
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/orgs/"+url.PathEscape(orgID)+"/publish", bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Delivered int    `json:"delivered"`
		Error     string `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&out)
	if resp.StatusCode != http.StatusOK {
		return 0, &PublishError{Status: resp.StatusCode, Reason: out.Error}
	}
	return out.Delivered, nil
}
