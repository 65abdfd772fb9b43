package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/qubital/office-router/internal/cli"
)

// publishCmd is `wsharness publish`: what a non-Go backend does (docs/protocol.md): mint a 60 s
// service token with the issuer's key and POST {"to","data"} to /orgs/{org}/publish. DATA is
// JSON if it parses, else a string.
func publishCmd(ctx context.Context, inv *invocation) error {
	to := inv.fs.String("to", "", "only this user's sockets (default: the whole org)")
	bf := addBackendFlags(inv.fs)
	inv.doc.Synopsis = "usage: wsharness publish -router URL -org ORG [-to USER] -key FILE DATA   (DATA: JSON, else a string)"
	if done, err := inv.parse(); done || err != nil {
		return err
	}
	if inv.router == "" || inv.fs.NArg() != 1 {
		return fmt.Errorf("%w: wsharness publish -router URL -org ORG [-to USER] -key FILE DATA", cli.ErrUsage)
	}
	raw := inv.fs.Arg(0)
	var data any = raw
	if json.Valid([]byte(raw)) {
		data = json.RawMessage(raw)
	}
	p, err := bf.client(inv)
	if err != nil {
		return err
	}
	n, err := p.Publish(ctx, inv.org, *to, data)
	if err != nil {
		return explainRefusal(err)
	}
	if inv.asJSON {
		return json.NewEncoder(inv.stdout).Encode(map[string]any{"delivered": n})
	}
	fmt.Fprintf(inv.stdout, "delivered to %d connection(s)\n", n)
	return nil
}
