// Command genvectors writes testdata/vectors/handshake.json from the throwaway keys in
// testdata/keys. Run it through `go generate ./verifier`.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/qubital/office-router/internal/vectors"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "genvectors:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("genvectors", flag.ContinueOnError)
	keys := fs.String("keys", "testdata/keys", "directory of the test keys")
	out := fs.String("out", "testdata/vectors/handshake.json", "output file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := vectors.Generate(*keys)
	if err != nil {
		return err
	}
	b, err := vectors.Marshal(f)
	if err != nil {
		return err
	}
	return os.WriteFile(*out, b, 0o644)
}
