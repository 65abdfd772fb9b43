package cli_test

import (
	"flag"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/qubital/office-router/internal/cli"
	"github.com/qubital/office-router/internal/stack"
)

func TestParseHelpVersionAndErrors(t *testing.T) {
	doc := cli.Doc{Synopsis: "usage: x [flags]", Env: []cli.Env{{Name: "X_VAR", Meaning: "the x"}}}
	tests := []struct {
		name      string
		args      []string
		wantDone  bool
		wantUsage bool
		stdout    string
	}{
		{"-h", []string{"-h"}, true, false, "X_VAR"},
		{"--help", []string{"--help"}, true, false, "-addr"},
		{"help", []string{"help"}, true, false, "usage: x"},
		{"-version", []string{"-version"}, true, false, "x "},
		{"bad flag", []string{"-nope"}, false, true, ""},
		{"normal", []string{"-addr", ":1"}, false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.String("addr", ":8080", "listen address")
			var out, errOut strings.Builder
			done, err := cli.Parse(fs, tt.args, doc, &out, &errOut)
			if done != tt.wantDone || (err != nil) != tt.wantUsage {
				t.Fatalf("done=%v err=%v", done, err)
			}
			if tt.wantUsage && !strings.Contains(errOut.String(), "X_VAR") {
				t.Errorf("a usage error prints the usage to stderr:\n%s", errOut.String())
			}
			if !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, out.String())
			}
		})
	}
}

func TestHealthCheck(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	defer ok.Close()
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"misconfigured"}`, http.StatusServiceUnavailable)
	}))
	defer sick.Close()
	dead, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	port := func(u string) string { return ":" + u[strings.LastIndex(u, ":")+1:] }
	tests := []struct {
		name, addr string
		wantErr    bool
	}{
		{"healthy, :port means 127.0.0.1", port(ok.URL), false},
		{"503", port(sick.URL), true},
		{"nothing listening", ":" + strconv.Itoa(dead), true},
		{"bad addr", "nope", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := cli.HealthCheck(t.Context(), tt.addr); (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

// The Dockerfile's build has no VCS information: scripts/build.sh stamps VERSION into -version.
func TestBuildScriptStampsTheVersion(t *testing.T) {
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command(filepath.Join(root, "scripts", "build.sh"), out, "wsharness")
	cmd.Env = append(cmd.Environ(), "VERSION=v9.8.7-test")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, b)
	}
	got, err := exec.Command(filepath.Join(out, "wsharness"), "-version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(got)) != "wsharness v9.8.7-test" {
		t.Fatalf("-version = %q", got)
	}
	if matches, _ := filepath.Glob(filepath.Join(out, "*")); len(matches) != 1 {
		t.Fatalf("built %v, want only wsharness", matches)
	}
}
