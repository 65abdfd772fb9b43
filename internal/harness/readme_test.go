package harness

import (
	"crypto/rand"
	"crypto/rsa"
	"os"
	"regexp"
	"strconv"
	"testing"
)

// The README's walkthrough shows `wsharness check` against the dev stack; its "N passed" line
// must be the suite's size (issue 14: the text said 35 when the suite had 36, then 55 for 56).
func TestREADMECheckCountIsTheSuites(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^(\d+) passed, 0 failed$`).FindSubmatch(readme)
	if m == nil {
		t.Fatal(`README.md has no "N passed, 0 failed" line in its walkthrough`)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// As `wsharness check` runs it: -origin defaults to the dev issuer's origin.
	c := &checker{cfg: CheckConfig{Key: key, Origin: "http://127.0.0.1:8080"}, foreign: key, run: "readme"}
	if got, _ := strconv.Atoi(string(m[1])); got != len(c.cases()) {
		t.Fatalf("README.md says %d passed; the suite has %d cases", got, len(c.cases()))
	}
}
