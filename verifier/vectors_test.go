package verifier_test

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/internal/vectors"
	"github.com/qubital/office-router/verifier"
)

const vectorsPath = "../testdata/vectors/handshake.json"

func loadVectors(t testing.TB) *vectors.File {
	t.Helper()
	f, err := vectors.Load(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func vectorVerifier(t testing.TB, f *vectors.File, now int64) *verifier.Verifier {
	t.Helper()
	v, err := verifier.New(verifier.Config{
		PublicKeysPEM: f.Config.PublicKeys, Issuer: f.Config.Issuer, Audience: f.Config.Audience,
		Leeway: time.Duration(f.Config.LeewaySeconds) * time.Second, MaxTTL: time.Duration(f.Config.MaxTTLSeconds) * time.Second,
	}, verifier.WithClock(func() time.Time { return time.Unix(now, 0) }))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestVectors runs every shared conformance vector; the Worker runs the same file.
func TestVectors(t *testing.T) {
	f := loadVectors(t)
	if len(f.Cases) < 60 {
		t.Fatalf("only %d vectors; the contract asks for at least 60", len(f.Cases))
	}
	seen := map[string]bool{}
	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			if seen[c.Name] {
				t.Fatalf("duplicate vector name %q", c.Name)
			}
			seen[c.Name] = true
			v := vectorVerifier(t, f, c.Now)
			var got string
			var id vectors.Identity
			switch c.Kind {
			case "handshake":
				ident, err := v.Verify(t.Context(), c.Token)
				got = reasonOrOK(err)
				id = vectors.Identity{UserID: ident.UserID, OrgID: ident.OrgID, Role: ident.Role, Subject: ident.Subject, JTI: ident.JTI, ExpiresAt: ident.ExpiresAt.Unix()}
			case contract.ScopePublish, contract.ScopePresence, contract.ScopeDisconnect:
				ident, err := v.VerifyService(t.Context(), c.Token, c.Kind)
				got = reasonOrOK(err)
				id = vectors.Identity{OrgID: ident.OrgID, Subject: ident.Subject, JTI: ident.JTI, ExpiresAt: ident.ExpiresAt.Unix()}
			default:
				t.Fatalf("unknown kind %q", c.Kind)
			}
			if got != c.Want {
				t.Fatalf("got %q, want %q", got, c.Want)
			}
			if c.Want == "ok" && id != *c.Identity {
				t.Fatalf("identity %+v, want %+v", id, *c.Identity)
			}
		})
	}
	// Every token reason except replay (checked by connection holders) has a vector.
	for _, r := range verifier.Reasons() {
		if r == "replayed" {
			continue
		}
		found := false
		for _, c := range f.Cases {
			found = found || c.Want == r
		}
		if !found {
			t.Errorf("no vector for reason %q", r)
		}
	}
}

func reasonOrOK(err error) string {
	if err == nil {
		return "ok"
	}
	var e *verifier.Error
	if !errors.As(err, &e) {
		return "internal: " + err.Error()
	}
	return verifier.Reason(err)
}

// TestVectorsFrozen proves the committed file is what the generator makes: a stale file would
// let the two implementations agree on the wrong thing.
func TestVectorsFrozen(t *testing.T) {
	f, err := vectors.Generate("../testdata/keys")
	if err != nil {
		t.Fatal(err)
	}
	want, err := vectors.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("testdata/vectors/handshake.json is stale: run `go generate ./verifier`")
	}
}
