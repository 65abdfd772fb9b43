package httpx

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadOrigin is wrapped by ParseOrigins for an ALLOWED_ORIGINS entry that is not an origin
// pattern (docs/configuration.md#allowed-origins).
var ErrBadOrigin = errors.New("not an origin like https://app.example.com, https://*.example.com or http://localhost:*")

// Origins is a parsed ALLOWED_ORIGINS list. The rules are written once in
// docs/configuration.md#allowed-origins and shared with the Worker (worker/src/origins.ts)
// through testdata/vectors/origins.json:
//
//   - "*" matches any origin except "" and "null" (issuer CORS only: the routers refuse it, see
//     ParseSocketOrigins);
//   - "https://app.example.com" matches exactly (scheme, host and port);
//   - "https://*.example.com" matches one or more labels under example.com, never the apex, with
//     the same scheme and port;
//   - "http://localhost:*" matches any port (or none) of that scheme and host.
//
// A trailing slash is ignored; case matters (browsers send lowercase origins).
type Origins []originPattern

type originPattern struct {
	any       bool   // "*"
	scheme    string // "https"
	host      string // "app.example.com", or the suffix "example.com" when sub
	sub       bool   // "*." before host
	port      string // "" = default port
	anyPort   bool   // ":*"
	literally string // the entry as written, for exact matches
}

// NewOrigins parses a list, skipping entries that are not valid patterns; use ParseOrigins to
// refuse them at start-up.
func NewOrigins(list []string) Origins {
	out := make(Origins, 0, len(list))
	for _, s := range list {
		if p, err := parseOriginPattern(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// ParseOrigins parses a list and names the first bad entry in its error (wrapping ErrBadOrigin).
func ParseOrigins(list []string) (Origins, error) {
	out := make(Origins, 0, len(list))
	for _, s := range list {
		p, err := parseOriginPattern(s)
		if err != nil {
			return nil, fmt.Errorf("ALLOWED_ORIGINS: %q: %w", s, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// ErrAnyOriginForSockets is wrapped by ParseSocketOrigins for a bare "*".
var ErrAnyOriginForSockets = errors.New(`"*" would let any website open sockets as its visitors; list the origins (https://*.example.com for subdomains)`)

// ParseSocketOrigins is ParseOrigins for the routers (the Go proxy, like the Worker), which never
// accept a bare "*": an origin check that allows every site is no check.
func ParseSocketOrigins(list []string) (Origins, error) {
	o, err := ParseOrigins(list)
	if err != nil {
		return nil, err
	}
	for _, p := range o {
		if p.any {
			return nil, fmt.Errorf("ALLOWED_ORIGINS: %w", ErrAnyOriginForSockets)
		}
	}
	return o, nil
}

// TrimEntry trims the ASCII space, tab, CR and LF around a list entry, and nothing else: Go's
// strings.TrimSpace and JavaScript's trim() disagree beyond ASCII (U+0085, U+FEFF), and the
// issuer, the proxy and the Worker must judge the same ALLOWED_ORIGINS identically.
func TrimEntry(s string) string { return strings.Trim(s, " \t\r\n") }

func parseOriginPattern(raw string) (originPattern, error) {
	s := strings.TrimRight(TrimEntry(raw), "/")
	if s == "*" {
		return originPattern{any: true}, nil
	}
	scheme, host, port, ok := splitOrigin(s)
	if !ok {
		return originPattern{}, ErrBadOrigin
	}
	p := originPattern{scheme: scheme, literally: s}
	if port == "*" {
		p.anyPort = true
	} else if port != "" && !digits(port) {
		return originPattern{}, ErrBadOrigin
	}
	if !p.anyPort {
		p.port = port
	}
	if rest, found := strings.CutPrefix(host, "*."); found {
		p.sub, host = true, rest
		// "*.com" would allow every site of a TLD: the suffix needs a dot (or is localhost).
		if !strings.Contains(host, ".") && host != "localhost" {
			return originPattern{}, ErrBadOrigin
		}
	}
	if !validHost(host) {
		return originPattern{}, ErrBadOrigin
	}
	p.host = host
	return p, nil
}

// splitOrigin splits "scheme://host[:port]"; port may be "*". No path, query, user or fragment.
func splitOrigin(s string) (scheme, host, port string, ok bool) {
	scheme, rest, found := strings.Cut(s, "://")
	if !found || scheme == "" || rest == "" {
		return "", "", "", false
	}
	for _, c := range scheme {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return "", "", "", false
		}
	}
	if strings.ContainsAny(rest, "/?#@ \\") {
		return "", "", "", false
	}
	host = rest
	hasPort := false
	if strings.HasPrefix(rest, "[") { // IPv6 literal
		end := strings.Index(rest, "]")
		if end < 0 {
			return "", "", "", false
		}
		host, rest = rest[:end+1], rest[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return "", "", "", false
			}
			hasPort, port = true, rest[1:]
		}
	} else if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		hasPort, host, port = true, rest[:i], rest[i+1:]
	}
	if host == "" || (hasPort && port == "") {
		return "", "", "", false
	}
	return scheme, host, port, true
}

func digits(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func validHost(h string) bool {
	if strings.HasPrefix(h, "[") {
		return strings.HasSuffix(h, "]") && len(h) > 2 && !strings.ContainsAny(h[1:len(h)-1], "[]*")
	}
	if h == "" || strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") || strings.Contains(h, "..") {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Allowed reports whether origin matches an entry. "null" and the empty string match only a
// literal entry.
func (o Origins) Allowed(origin string) bool {
	for _, p := range o {
		if p.match(origin) {
			return true
		}
	}
	return false
}

func (p originPattern) match(origin string) bool {
	if p.any {
		return origin != "" && origin != "null"
	}
	if !p.sub && !p.anyPort {
		return origin == p.literally
	}
	scheme, host, port, ok := splitOrigin(origin)
	if !ok || scheme != p.scheme || port == "*" || (port != "" && !digits(port)) || !validHost(host) {
		return false
	}
	if !p.anyPort && port != p.port {
		return false
	}
	if p.sub {
		sub, found := strings.CutSuffix(host, "."+p.host)
		return found && sub != ""
	}
	return host == p.host
}
