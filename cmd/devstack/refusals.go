package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/qubital/office-router/contract"
)

// refusalLog prints one line per refused request of a Go server (router, reason, user and org
// when known), which is what a frontend developer needs to see by default; -v shows the servers'
// own logs. The token is never printed: only the userId claim of its payload, read without
// verifying (this is a dev tool) and only when it is a well-formed ID.
type refusalLog struct {
	mu  sync.Mutex
	out io.Writer
}

func (l *refusalLog) wrap(name string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status < 400 || r.URL.Path == "/favicon.ico" {
			return
		}
		var body struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(rec.body, &body)
		reason := body.Error
		if !contract.IsValidID(reason) {
			reason = "-"
		}
		line := fmt.Sprintf("%s refused  %-6s %s %s → %d %s", time.Now().Format("15:04:05"), name, r.Method, logPath(r.URL.Path), rec.status, reason)
		if u := userOf(r); u != "" {
			line += " claimed-user=" + u // read from the token unverified: a forged token names anyone
		}
		if org := orgOf(r.URL.Path); org != "" {
			line += " org=" + org
		}
		if o := r.Header.Get("Origin"); o != "" {
			line += fmt.Sprintf(" origin=%q", o)
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		fmt.Fprintln(l.out, line)
	})
}

var (
	ansi    = regexp.MustCompile(`\x1b\[[0-9;]*m`) // wrangler colours warnings
	orgPath = regexp.MustCompile(`^/orgs/([A-Za-z0-9_-]{1,128})/(ws|publish)$`)
)

// jwtLike is three base64url runs joined by dots: what a token looks like wherever it appears.
var jwtLike = regexp.MustCompile(`[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`)

// logPath is the request path as the refusal line shows it. The path is the client's: a token
// pasted into it is replaced by <token>, a long one is cut, and one with anything but plain
// characters is quoted, so that a decoded %0A cannot forge a second log line.
func logPath(p string) string {
	p = jwtLike.ReplaceAllString(p, "<token>")
	if len(p) > 160 {
		p = p[:160] + "…"
	}
	for _, c := range p {
		if !unicode.IsPrint(c) || c == ' ' || c == '"' || c == utf8.RuneError {
			return strconv.Quote(p)
		}
	}
	return p
}

func orgOf(path string) string {
	if m := orgPath.FindStringSubmatch(path); m != nil {
		return m[1]
	}
	return ""
}

// userOf reads the userId (or sub) claim of the bearer token without verifying it.
func userOf(r *http.Request) string {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	for _, p := range strings.Split(r.Header.Get("Sec-WebSocket-Protocol"), ",") {
		if t, ok := strings.CutPrefix(strings.TrimSpace(p), contract.BearerSubprotocolPrefix); ok {
			tok = t
		}
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || len(parts[1]) > 4096 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		UserID string `json:"userId"`
		Sub    string `json:"sub"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ""
	}
	for _, u := range []string{c.UserID, c.Sub} {
		if contract.IsValidID(u) {
			return u
		}
	}
	return ""
}

// recorder keeps the status and the start of an error body; it passes Hijack through for
// WebSocket upgrades.
type recorder struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.status >= 400 && len(r.body) < 512 {
		r.body = append(r.body, b[:min(len(b), 512-len(r.body))]...)
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	r.status = http.StatusSwitchingProtocols
	return http.NewResponseController(r.ResponseWriter).Hijack()
}

func (r *recorder) Flush() { _ = http.NewResponseController(r.ResponseWriter).Flush() }

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// workerRefusals passes on the Worker's refusal events from wrangler's output (the JSON lines
// worker/src/index.ts logs: {"event":"handshake_refused","org","status","reason"}) as the same
// one-line shape the Go servers get, and drops the rest.
type workerRefusals struct {
	log  *refusalLog
	mu   sync.Mutex
	part []byte
}

func (w *workerRefusals) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.part = append(w.part, p...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			break
		}
		line := ansi.ReplaceAllString(string(w.part[:i]), "")
		w.part = w.part[i+1:]
		if l := workerRefusalLine(line); l != "" {
			w.log.mu.Lock()
			fmt.Fprintf(w.log.out, "%s %s\n", time.Now().Format("15:04:05"), l)
			w.log.mu.Unlock()
		}
	}
	if len(w.part) > 64<<10 { // a runaway line without a newline: drop it
		w.part = w.part[:0]
	}
	return len(p), nil
}

func workerRefusalLine(line string) string {
	start, end := strings.IndexByte(line, '{'), strings.LastIndexByte(line, '}')
	if start < 0 || end < start {
		return ""
	}
	var ev struct {
		Event  string `json:"event"`
		Org    string `json:"org"`
		Status int    `json:"status"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal([]byte(line[start:end+1]), &ev) != nil {
		return ""
	}
	var what string
	switch ev.Event {
	case "handshake_refused":
		what = "ws"
	case "publish_refused":
		what = "publish"
	default:
		return ""
	}
	if !contract.IsValidID(ev.Reason) {
		ev.Reason = "-"
	}
	out := fmt.Sprintf("refused  worker /orgs/%s/%s → %d %s", ev.Org, what, ev.Status, ev.Reason)
	if contract.IsValidID(ev.Org) {
		out += " org=" + ev.Org
	} else {
		out = fmt.Sprintf("refused  worker %s → %d %s", what, ev.Status, ev.Reason)
	}
	return out
}
