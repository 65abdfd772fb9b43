package verifier

// SetJWKSWaitHook makes every handshake that is about to wait for an unknown-kid fetch call f,
// so tests can hold the JWKS response until the handshakes they started are all waiting.
func SetJWKSWaitHook(v *Verifier, f func()) {
	v.keys.(*jwksKeys).set.SetWaitHook(f)
}
