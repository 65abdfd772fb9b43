package proxy

import (
	"net/http"
	"net/url"
	"strings"
)

// withDotSegmentsResolved returns r with the dot segments of its path resolved the way the
// WHATWG URL parser does, so that the Go proxy routes a path such as /orgs/x/../y/ws where the
// Worker does: the Workers runtime hands the Worker a request.url already parsed, /orgs/y/ws,
// and the Worker cannot see the raw path. "." and ".." segments, and their percent-encoded
// spellings (%2e, .%2e, %2E%2E…), are resolved; ".." never climbs above the root. A path
// without dot segments is returned unchanged (r itself).
func withDotSegmentsResolved(r *http.Request) *http.Request {
	raw := r.URL.EscapedPath()
	if !strings.Contains(raw, ".") && !strings.Contains(strings.ToLower(raw), "%2e") {
		return r
	}
	segs := strings.Split(raw, "/")[1:] // raw starts with "/"
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch strings.ReplaceAll(strings.ToLower(s), "%2e", ".") {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	resolved := "/" + strings.Join(out, "/")
	if resolved == raw {
		return r
	}
	path, err := url.PathUnescape(resolved)
	if err != nil {
		return r
	}
	u := *r.URL
	u.Path, u.RawPath = path, resolved
	r2 := *r
	r2.URL = &u
	return &r2
}

// withWHATWGPath returns r with the path of its request target read as the WHATWG URL parser
// reads it, before dot segments are resolved: for an http URL a "\" is a "/", and a "#" starts
// the fragment, which is no part of the path (nor is what follows it part of the query). The
// Worker routes request.url, parsed that way, so /orgs\acme\ws and /orgs/acme/ws#x are its
// /orgs/acme/ws; Go's request parser keeps both characters in the path. A target that is not a
// path (absolute-form, "*"), or has neither character before its query, is returned unchanged.
func withWHATWGPath(r *http.Request) *http.Request {
	target := r.RequestURI
	if !strings.HasPrefix(target, "/") {
		return r
	}
	end := strings.IndexAny(target, "?#")
	if end < 0 {
		end = len(target)
	}
	path := target[:end]
	fragment := end < len(target) && target[end] == '#'
	if !fragment && !strings.Contains(path, `\`) {
		return r
	}
	parsed, err := url.Parse(strings.ReplaceAll(path, `\`, "/"))
	if err != nil || parsed.Path == "" {
		return r
	}
	u := *r.URL
	u.Path, u.RawPath = parsed.Path, parsed.RawPath
	if fragment {
		u.RawQuery, u.ForceQuery = "", false
	}
	r2 := *r
	r2.URL = &u
	return &r2
}
