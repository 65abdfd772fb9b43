package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/internal/cli"
	"github.com/qubital/office-router/issuer"
)

// presenceCmd is `wsharness presence`: GET /orgs/{org}/presence with a presence token minted
// from -key, printed as a table (or the router's JSON with -json).
func presenceCmd(ctx context.Context, inv *invocation) error {
	bf := addBackendFlags(inv.fs)
	inv.doc.Synopsis = "usage: wsharness presence -router URL -org ORG -key FILE [-json]"
	if done, err := inv.parse(); done || err != nil {
		return err
	}
	if inv.router == "" || inv.fs.NArg() != 0 {
		return fmt.Errorf("%w: wsharness presence -router URL -org ORG -key FILE", cli.ErrUsage)
	}
	p, err := bf.client(inv)
	if err != nil {
		return err
	}
	users, err := p.Presence(ctx, inv.org)
	if err != nil {
		return explainRefusal(err)
	}
	if inv.asJSON {
		if users == nil {
			users = []issuer.PresenceUser{}
		}
		return json.NewEncoder(inv.stdout).Encode(map[string]any{"users": users})
	}
	tw := tabwriter.NewWriter(inv.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tROLE\tCONNECTIONS")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%d\n", u.UserID, u.Role, u.Connections)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(inv.stdout, "%d user(s) online in %s\n", len(users), inv.org)
	return nil
}

// disconnectCmd is `wsharness disconnect`: POST /orgs/{org}/disconnect with a disconnect token
// minted from -key.
func disconnectCmd(ctx context.Context, inv *invocation) error {
	code := inv.fs.Int("code", contract.CloseReauthRequired, "4001 (reauth_required: the client reconnects with a fresh token) or 4003 (revoked: it stops)")
	block := inv.fs.Int("block", 0, "refuse the user's new handshakes in the org for this many seconds (0-3600; >= 65 stops a token minted just before)")
	bf := addBackendFlags(inv.fs)
	inv.doc.Synopsis = "usage: wsharness disconnect -router URL -org ORG -key FILE [-code 4001|4003] [-block SECONDS] USER"
	if done, err := inv.parse(); done || err != nil {
		return err
	}
	if inv.router == "" || inv.fs.NArg() != 1 {
		return fmt.Errorf("%w: wsharness disconnect -router URL -org ORG -key FILE [-code 4001|4003] [-block SECONDS] USER", cli.ErrUsage)
	}
	p, err := bf.client(inv)
	if err != nil {
		return err
	}
	user := inv.fs.Arg(0)
	n, err := p.Disconnect(ctx, inv.org, issuer.Disconnect{UserID: user, Code: *code, BlockSeconds: *block})
	if err != nil {
		return explainRefusal(err)
	}
	if inv.asJSON {
		return json.NewEncoder(inv.stdout).Encode(map[string]any{"disconnected": n})
	}
	fmt.Fprintf(inv.stdout, "closed %d connection(s) of %s in %s with %d %s\n", n, user, inv.org, *code, contract.CloseReason(*code))
	return nil
}
