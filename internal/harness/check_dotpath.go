package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// dotPathCases pin one answer for paths with dot segments (docs/protocol.md#routes): the Workers
// runtime resolves "." and ".." (also %2e-encoded) before the Worker sees the URL, so
// /orgs/zz/../<org>/ws is /orgs/<org>/ws; the Go proxy resolves them the same way (dotpath.go).
// The request-target is sent exactly as written: a browser would have resolved it already.
func (c *checker) dotPathCases() []checkCase {
	x := c.org("x")
	return []checkCase{
		{"dot_segments_resolved", "200 ok", c.preflightPath("/orgs/zz/../" + x + "/ws")},
		{"encoded_dot_segments_resolved", "200 ok", c.preflightPath("/orgs/zz/%2e%2E/" + x + "/./ws")},
		{"dot_segments_above_root", "200 ok", c.preflightPath("/../../orgs/" + x + "/ws")},
		{"dot_segments_leave_route", "404 not_found", c.preflightPath("/orgs/" + x + "/ws/..")},
	}
}

// preflightPath GETs path (without upgrade) with a valid token for org x.
func (c *checker) preflightPath(path string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		base, err := url.Parse(c.httpBase)
		if err != nil {
			return "", err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.httpBase, nil)
		if err != nil {
			return "", err
		}
		req.URL = &url.URL{Scheme: base.Scheme, Host: base.Host, Opaque: path}
		req.Header.Set("Authorization", "Bearer "+c.craft())
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return "", fmt.Errorf("router unreachable at %s: %w", c.httpBase, err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
		if resp.StatusCode == 200 && body["ok"] == true {
			return "200 ok", nil
		}
		return fmt.Sprintf("%d %v", resp.StatusCode, body["error"]), nil
	}
}
