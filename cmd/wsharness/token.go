package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/qubital/office-router/internal/harness"
)

// tokenCmd is `wsharness token`: a handshake token from the issuer, printed as JSON (or bare
// with -quiet).
func tokenCmd(ctx context.Context, inv *invocation) error {
	quiet := inv.fs.Bool("quiet", false, "print only the handshake token")
	if done, err := inv.parse(); done || err != nil {
		return err
	}
	at, a, err := inv.access(ctx)
	if err != nil {
		return err
	}
	if *quiet {
		fmt.Fprintln(inv.stdout, a.Token)
		return nil
	}
	return json.NewEncoder(inv.stdout).Encode(map[string]any{"accessToken": at, "token": a.Token, "url": a.URL, "expiresAt": a.ExpiresAt})
}

// access gets a handshake token: from a real issuer with -access-token, else a dev session.
func (inv *invocation) access(ctx context.Context) (string, harness.Access, error) {
	i := harness.Issuer{URL: inv.issuerURL}
	at := inv.accessToken
	if at == "" {
		var err error
		if at, err = i.DevSession(ctx, inv.user, inv.org, inv.role); err != nil {
			return "", harness.Access{}, fmt.Errorf("%w (a real issuer has no dev sessions: pass -access-token)", err)
		}
	}
	a, err := i.RequestAccess(ctx, at)
	return at, a, err
}
