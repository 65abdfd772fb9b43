package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/qubital/office-router/internal/cli"
	"github.com/qubital/office-router/internal/rsakey"
	"github.com/qubital/office-router/issuer"
)

// publishFlags are publish's own flags.
type publishFlags struct {
	to, iss, aud, subject *string
}

// publishCmd is `wsharness publish`: its flags, then publish.
func publishCmd(ctx context.Context, inv *invocation) error {
	fs := inv.fs
	pf := publishFlags{
		to:      fs.String("to", "", "only this user's sockets (default: the whole org)"),
		iss:     fs.String("iss", issuer.DevIssuer, "iss of the publish token: the router's JWT_ISSUER"),
		aud:     fs.String("aud", issuer.DevAudience, "aud of the publish token: the router's JWT_AUDIENCE"),
		subject: fs.String("subject", "wsharness", "sub of the publish token: names the publishing service"),
	}
	inv.doc.Synopsis = "usage: wsharness publish -router URL -org ORG [-to USER] -key FILE DATA   (DATA: JSON, else a string)"
	if done, err := inv.parse(); done || err != nil {
		return err
	}
	return publish(ctx, fs, pf, inv.router, inv.org, inv.keyFile, inv.asJSON, inv.stdout)
}

// publish is what a non-Go backend does (docs/protocol.md): mint a 60 s publish token with the
// issuer's key and POST {"to","data"} to /orgs/{org}/publish. DATA is JSON if it parses, else a
// string.
func publish(ctx context.Context, fs *flag.FlagSet, pubFlags publishFlags, router, org, keyFile string, asJSON bool, stdout io.Writer) error {
	if router == "" || fs.NArg() != 1 {
		return fmt.Errorf("%w: wsharness publish -router URL -org ORG [-to USER] -key FILE DATA", cli.ErrUsage)
	}
	raw := fs.Arg(0)
	var data any = raw
	if json.Valid([]byte(raw)) {
		data = json.RawMessage(raw)
	}
	key, err := rsakey.ReadPrivateKeyFile(keyFile)
	if err != nil {
		return fmt.Errorf("-key %s: %w", keyFile, err)
	}
	m, err := issuer.NewMinter(key, *pubFlags.iss, *pubFlags.aud, time.Now)
	if err != nil {
		return err
	}
	base := strings.Replace(strings.Replace(router, "ws://", "http://", 1), "wss://", "https://", 1)
	p, err := issuer.NewPublisher(m, base, *pubFlags.subject, nil)
	if err != nil {
		return err
	}
	n, err := p.Publish(ctx, org, *pubFlags.to, data)
	var pe *issuer.PublishError
	if errors.As(err, &pe) && pe.Reason == "unknown_kid" {
		return fmt.Errorf("%w (-key is not the key of the router's CONN_JWT_PUBLIC_KEY)", err)
	}
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"delivered": n})
	}
	fmt.Fprintf(stdout, "delivered to %d connection(s)\n", n)
	return nil
}
