package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/qubital/office-router/internal/harness"
)

// checkCmd is `wsharness check`: the conformance suite (harness.Check) against -router, as a
// table or JSON; errFailed on any mismatch.
func checkCmd(ctx context.Context, inv *invocation) error {
	origin := inv.fs.String("origin", "http://127.0.0.1:8080", "an origin the router allows (\"\" to skip that case)")
	if done, err := inv.parse(); done || err != nil {
		return err
	}
	if inv.router == "" {
		return errors.New("check needs -router")
	}
	key, err := readKey(inv.keyFile)
	if err != nil {
		return err
	}
	results, err := harness.Check(ctx, harness.CheckConfig{Router: inv.router, Issuer: inv.issuerURL, Key: key, Origin: *origin})
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range results {
		if !r.Pass {
			failed++
		}
	}
	if inv.asJSON {
		_ = json.NewEncoder(inv.stdout).Encode(map[string]any{"router": inv.router, "results": results, "failed": failed})
	} else {
		printCheck(inv, results, failed)
	}
	if failed > 0 {
		return errFailed
	}
	return nil
}

// printCheck writes check's table, its tally and, when it applies, keyMismatchHint.
func printCheck(inv *invocation, results []harness.Result, failed int) {
	tw := tabwriter.NewWriter(inv.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tEXPECTED\tGOT\t")
	for _, r := range results {
		mark := "ok"
		if !r.Pass {
			mark = "MISMATCH"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Expected, r.Got, mark)
	}
	_ = tw.Flush()
	fmt.Fprintf(inv.stdout, "%d passed, %d failed\n", len(results)-failed, failed)
	if hint := keyMismatchHint(results); hint != "" {
		fmt.Fprintln(inv.stdout, hint)
	}
}

// keyMismatchHint explains the usual cause of a check where every crafted token is refused: -key
// is not the router's key (the dev stack writes a fresh one each run).
func keyMismatchHint(results []harness.Result) string {
	unknown := 0
	for _, r := range results {
		if !r.Pass && strings.Contains(r.Got, "unknown_kid") {
			unknown++
		}
	}
	if unknown < 2 {
		return ""
	}
	return fmt.Sprintf("hint: %d tokens signed with -key were refused as unknown_kid: -key is not the key of the router's\n"+
		"CONN_JWT_PUBLIC_KEY (the dev stack writes a fresh .dev/dev-private.pem each run; pass the one of the running stack)", unknown)
}
