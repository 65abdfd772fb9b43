package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// RunFunc is a command's body, the one call of its main: flags from args, settings from getenv,
// output to stdout and stderr, until ctx ends. It never exits; an error wrapping ErrUsage is a
// bad command line.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error

// MainOption changes how Main reports an error.
type MainOption func(*mainOptions)

type mainOptions struct{ listJoined bool }

// ListJoinedErrors prints an error of several lines (errors.Join: every bad variable at once) as
// an indented list under "configuration:".
func ListJoinedErrors(o *mainOptions) { o.listJoined = true }

// Main is a command's main: it runs run with the process's arguments, environment and streams
// and a context that SIGINT and SIGTERM cancel, then exits: 0; 2 for ErrUsage, as the flag
// package does; 1 for any other error, printed on stderr after "name: ".
func Main(name string, run RunFunc, opts ...MainOption) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(os.Stderr, name, err, opts...))
}

// exitCode reports err as Main does and returns the exit code.
func exitCode(stderr io.Writer, name string, err error, opts ...MainOption) int {
	if err == nil {
		return 0
	}
	var o mainOptions
	for _, opt := range opts {
		opt(&o)
	}
	msg := err.Error()
	if o.listJoined && strings.Contains(msg, "\n") {
		msg = "configuration:\n  " + strings.ReplaceAll(msg, "\n", "\n  ")
	}
	fmt.Fprintln(stderr, name+":", msg)
	if errors.Is(err, ErrUsage) {
		return 2
	}
	return 1
}
