// Package cli gives every office-router binary the same command-line manners: -h, --help and
// `help` print usage (flags and the environment variables the binary reads) to stdout and exit
// 0; -version prints the version from the module's build info; a bad flag prints the error and
// the usage to stderr.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"
)

// ErrUsage wraps a bad command line; mains exit 2 for it, as the flag package does.
var ErrUsage = errors.New("usage")

// Env is one environment variable a binary reads.
type Env struct {
	Name    string
	Meaning string
}

// Doc describes a command for its usage text.
type Doc struct {
	// Synopsis is the first lines of the usage, e.g. "usage: issuer [flags]".
	Synopsis string
	// Env lists the variables read; they are the real configuration (docs/configuration.md).
	Env []Env
}

// Parse parses args into fs and handles -h/--help/help and -version. done is true when the
// command line only asked for help or the version, which were printed to stdout: the caller
// returns nil. Errors wrap ErrUsage.
func Parse(fs *flag.FlagSet, args []string, doc Doc, stdout, stderr io.Writer) (done bool, err error) {
	version := fs.Bool("version", false, "print the version and exit")
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	if len(args) > 0 && (args[0] == "help" || args[0] == "--help") {
		PrintUsage(stdout, fs, doc)
		return true, nil
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			PrintUsage(stdout, fs, doc)
			return true, nil
		}
		PrintUsage(stderr, fs, doc)
		return false, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if *version {
		fmt.Fprintln(stdout, fs.Name(), Version())
		return true, nil
	}
	return false, nil
}

// PrintUsage writes the synopsis, the flags and the environment variables.
func PrintUsage(w io.Writer, fs *flag.FlagSet, doc Doc) {
	fmt.Fprintln(w, strings.TrimRight(doc.Synopsis, "\n"))
	fmt.Fprintln(w, "\nflags:")
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
	if len(doc.Env) > 0 {
		fmt.Fprintln(w, "\nenvironment:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, e := range doc.Env {
			fmt.Fprintf(tw, "  %s\t%s\n", e.Name, e.Meaning)
		}
		_ = tw.Flush()
	}
}

// stamped is set at link time by builds without VCS info (the Dockerfile):
// -ldflags "-X github.com/qubital/office-router/internal/cli.stamped=v1.2.3".
var stamped string

// Version is the main module's version from the build info: a tag for `go install …@v1.2.3`,
// else the VCS revision (with "+dirty" for uncommitted changes), else the link-time stamp, else
// "devel".
func Version() string {
	if stamped != "" {
		return stamped
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty, at string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		case "vcs.time":
			at = " " + s.Value
		}
	}
	if rev == "" {
		return "devel"
	}
	return "devel-" + rev[:min(12, len(rev))] + dirty + at
}

// Common variables, shared by several binaries' usage.
var (
	EnvAllowedOrigins = Env{"ALLOWED_ORIGINS", "comma list of browser origins: exact, https://*.example.com, http://localhost:*, or *"}
	EnvIssuer         = Env{"JWT_ISSUER", "iss of handshake tokens"}
	EnvAudience       = Env{"JWT_AUDIENCE", "aud of handshake tokens"}
)

// HealthCheck GETs /healthz of a server listening on addr (":8080" means 127.0.0.1:8080) and
// fails unless it answers 200. It is the binary's -healthcheck mode: a distroless image has no
// curl, so the container's HEALTHCHECK runs the binary itself.
func HealthCheck(ctx context.Context, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	u := "http://" + net.JoinHostPort(host, port) + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("healthcheck: %s answered %d %s", u, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}
