package harness

import (
	"context"
	"fmt"
	"net/http"
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
		// Only the org segment is percent-decoded; the route's own segments are literal, and an
		// encoded slash is no segment boundary (the Worker's pattern runs on the encoded pathname).
		{"encoded_org_segment_decoded", "200 ok", c.preflightPath("/orgs/" + fmt.Sprintf("%%%02X", x[0]) + x[1:] + "/ws")},
		{"encoded_route_segment_no_route", "404 not_found", c.preflightPath("/orgs/" + x + "/%77s")},
		{"encoded_slash_no_boundary", "404 not_found", c.preflightPath("/orgs/" + x + "%2Fws")},
		// The WHATWG URL parser behind the Worker's request.url reads a "\" as a "/" and a "#"
		// as the start of the fragment, no part of the path; the Go proxy reads the target so too.
		{"backslash_is_slash", "200 ok", c.preflightPath(`/orgs\` + x + `\ws`)},
		{"fragment_not_path", "200 ok", c.preflightPath("/orgs/" + x + "/ws#x")},
	}
}

// preflightPath GETs path (without upgrade) with a valid token for org x.
func (c *checker) preflightPath(path string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		req, err := c.requestTo(ctx, http.MethodGet, path, nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("Authorization", "Bearer "+c.craft())
		status, body, err := c.send(req)
		if err != nil {
			return "", err
		}
		return preflightVerdict(status, body), nil
	}
}
