package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/internal/harness"
	"github.com/qubital/office-router/internal/rsakey"
)

// rotateCheck is `wsharness rotate-check`: between the steps of a key rotation
// (docs/operations.md), it signs one handshake token with each key and tells whether the router
// trusts it. Keys under -trusted must be accepted (step 2: the next key is live), keys under
// -retired must be refused with unknown_kid (step 4, or a leaked key). With -wait it retries
// every second until both hold, for waiting out a refresh interval or a deploy.
func rotateCheck(ctx context.Context, inv *invocation) error {
	fs, stdout := inv.fs, inv.stdout
	router, org, user, role := &inv.router, &inv.org, &inv.user, &inv.role
	trusted := fs.String("trusted", "", "comma list of private key files whose tokens the router must accept")
	retired := fs.String("retired", "", "comma list of private key files whose tokens the router must refuse (unknown_kid)")
	iss := fs.String("iss", "office-router-dev", "`iss` of the tokens: the router's JWT_ISSUER")
	aud := fs.String("aud", "office-router", "`aud` of the tokens: the router's JWT_AUDIENCE")
	wait := fs.Duration("wait", 0, "retry every second, an unreachable router included, until every expectation holds or this much time passed (0: check once)")
	inv.doc.Synopsis = "usage: wsharness rotate-check -router URL [-trusted KEYS] [-retired KEYS] [flags]"
	if done, err := inv.parse(); done || err != nil {
		return err
	}
	if *router == "" {
		return errors.New("rotate-check needs -router")
	}
	var checks []rotationExpectation
	for _, list := range []struct {
		files  string
		accept bool
	}{{*trusted, true}, {*retired, false}} {
		for _, f := range strings.Split(list.files, ",") {
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			k, err := rsakey.ReadPrivateKeyFile(f)
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			checks = append(checks, rotationExpectation{file: f, key: k, accept: list.accept})
		}
	}
	if len(checks) == 0 {
		return errors.New("rotate-check needs -trusted and/or -retired key files")
	}
	deadline := time.Now().Add(*wait)
	for {
		failed := 0
		for _, c := range checks {
			got, ok, err := c.run(ctx, router, org, user, role, iss, aud)
			if err != nil {
				if *wait <= 0 || ctx.Err() != nil {
					return err
				}
				// A router being redeployed (a restart, a deploy going live) is not yet what
				// -wait waits for: report it and try again.
				got = "unreachable"
				fmt.Fprintf(stdout, "%v\n", err)
			}
			mark := "ok"
			if !ok {
				mark, failed = "NOT YET", failed+1
			}
			fmt.Fprintf(stdout, "%-8s kid %s… %-28s want %-20s got %-24s %s\n",
				map[bool]string{true: "trusted", false: "retired"}[c.accept], c.kid()[:12], c.file, c.want(), got, mark)
		}
		if failed == 0 {
			return nil
		}
		if !time.Now().Before(deadline) {
			return errFailed
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

type rotationExpectation struct {
	file   string
	key    *rsa.PrivateKey
	accept bool
}

func (c rotationExpectation) kid() string { return rsakey.Thumbprint(&c.key.PublicKey) }

func (c rotationExpectation) want() string {
	if c.accept {
		return "101"
	}
	return "401 unknown_kid"
}

// run signs a fresh single-use token with the key and opens (then closes) one socket.
func (c rotationExpectation) run(ctx context.Context, router, org, user, role, iss, aud *string) (got string, ok bool, err error) {
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	now := time.Now()
	claims := contract.HandshakeClaims{Issuer: *iss, Audience: *aud, UserID: *user, OrgID: *org, Role: *role,
		JTI: hex.EncodeToString(jti), IssuedAt: now.Unix(), NotBefore: now.Unix(), ExpiresAt: now.Add(time.Minute).Unix()}
	token := harness.Craft(c.key, harness.RS256Header(c.key), claims.Map())
	res, err := harness.Dial(ctx, harness.OrgURL(*router, *org), token, harness.InHeader, nil)
	if err != nil {
		return "", false, err
	}
	if res.Conn != nil {
		_ = res.Conn.Close()
		return "101", c.accept, nil
	}
	got = fmt.Sprintf("%d %s", res.Status, res.Reason)
	return got, !c.accept && res.Reason == "unknown_kid", nil
}
