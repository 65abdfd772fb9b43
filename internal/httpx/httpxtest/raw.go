package httpxtest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

// RawAnswer sends one request to addr with an exact request-target (a client library would clean
// or re-encode the path), Host: host, and hdr in sorted order, and returns the answer as one comparable line:
// the status, every header but Date (sorted, values joined with ","), and the body without its
// trailing newline.
func RawAnswer(t testing.TB, addr, host, method, target string, hdr map[string]string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, target, host)
	for _, k := range sortedKeys(hdr) {
		fmt.Fprintf(&b, "%s: %s\r\n", k, hdr[k])
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprint(resp.StatusCode)
	for _, k := range sortedKeys(resp.Header) {
		if k != "Date" {
			line += " " + k + "=" + strings.Join(resp.Header[k], ",")
		}
	}
	return line + " " + strings.TrimSuffix(string(body), "\n")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
