package main

import (
	"flag"
	"fmt"
	"math"
	"strconv"

	"github.com/qubital/office-router/internal/cli"
)

// limitFlags are the numeric limits; proxy.Config turns a value <= 0 into the default, so a
// typo such as -failed-handshakes-burst=0 or =-1 would silently run with the default. Here any
// value that is not a finite number > 0 stops start-up with one line naming the flag (the first
// bad one; exit 2 like any bad command line).
var limitFlags = []string{
	"max-message-bytes", "max-conns-per-org", "max-conns-per-user", "send-queue",
	"failed-handshakes-per-sec", "failed-handshakes-burst",
}

func checkLimitFlags(fs *flag.FlagSet) error {
	for _, name := range limitFlags {
		f := fs.Lookup(name)
		v, err := strconv.ParseFloat(f.Value.String(), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			return fmt.Errorf("%w: -%s must be a positive number", cli.ErrUsage, name)
		}
	}
	return nil
}
