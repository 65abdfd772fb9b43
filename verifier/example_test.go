package verifier_test

import (
	"context"
	"fmt"
	"time"

	"github.com/qubital/office-router/internal/vectors"
	"github.com/qubital/office-router/verifier"
)

func Example() {
	f, _ := vectors.Load("../testdata/vectors/handshake.json") // throwaway test keys and tokens
	v, err := verifier.New(verifier.Config{
		PublicKeysPEM: f.Config.PublicKeys, // CONN_JWT_PUBLIC_KEY
		Issuer:        f.Config.Issuer,     // JWT_ISSUER
		Audience:      f.Config.Audience,   // JWT_AUDIENCE
	}, verifier.WithClock(func() time.Time { return time.Unix(f.Cases[0].Now, 0) }))
	if err != nil {
		panic(err)
	}
	id, err := v.Verify(context.Background(), f.Cases[0].Token)
	fmt.Println(id.UserID, id.OrgID, id.Role, err)

	_, err = v.Verify(context.Background(), "not.a.token")
	fmt.Println(verifier.Reason(err))
	// Output:
	// user_01 org_01 member <nil>
	// malformed
}
