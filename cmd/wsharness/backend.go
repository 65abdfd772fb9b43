package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/qubital/office-router/issuer"
)

// backendFlags are the flags of the commands that act as a backend (publish, presence,
// disconnect): the claims of the service token each call mints from -key.
type backendFlags struct {
	iss, aud, subject *string
}

func addBackendFlags(fs *flag.FlagSet) backendFlags {
	return backendFlags{
		iss:     fs.String("iss", issuer.DevIssuer, "iss of the service token: the router's JWT_ISSUER"),
		aud:     fs.String("aud", issuer.DevAudience, "aud of the service token: the router's JWT_AUDIENCE"),
		subject: fs.String("subject", "wsharness", "sub of the service token: names the calling service"),
	}
}

// client is the backend client of inv's router (http(s) or ws(s)), minting with inv's -key.
func (bf backendFlags) client(inv *invocation) (*issuer.Publisher, error) {
	key, err := readKey(inv.keyFile)
	if err != nil {
		return nil, err
	}
	m, err := issuer.NewMinter(key, *bf.iss, *bf.aud, time.Now)
	if err != nil {
		return nil, err
	}
	base := strings.Replace(strings.Replace(inv.router, "ws://", "http://", 1), "wss://", "https://", 1)
	return issuer.NewPublisher(m, base, *bf.subject, nil)
}

// explainRefusal adds the likely cause to a router's unknown_kid.
func explainRefusal(err error) error {
	var re *issuer.RouterError
	if errors.As(err, &re) && re.Reason == "unknown_kid" {
		return fmt.Errorf("%w (-key is not the key of the router's CONN_JWT_PUBLIC_KEY)", err)
	}
	return err
}
