package contract

// WebSocket close codes (docs/protocol.md#close-codes). 1xxx are RFC 6455's; 4xxx are ours.
const (
	CloseNormal       = 1000
	CloseGoingAway    = 1001
	CloseInvalidUTF8  = 1007
	ClosePolicy       = 1008
	CloseTooBig       = 1009
	CloseInternal     = 1011
	CloseSlowConsumer = 4008

	// CloseReauthRequired: the socket's rights changed (POST /orgs/{orgId}/disconnect with 4001)
	// or its session reached MAX_SESSION_SECONDS. The client fetches a fresh token and reconnects
	// at once.
	CloseReauthRequired = 4001
	// CloseRevoked: the backend revoked the user (disconnect with 4003). Terminal: the client
	// stops and reports "revoked".
	CloseRevoked = 4003
)

// Close reasons sent with CloseReauthRequired and CloseRevoked.
const (
	CloseReasonReauthRequired = "reauth_required"
	CloseReasonRevoked        = "revoked"
)

// CloseReason is the reason text that goes with a disconnect close code: reauth_required for
// 4001, revoked for 4003, "" for any other code.
func CloseReason(code int) string {
	switch code {
	case CloseReauthRequired:
		return CloseReasonReauthRequired
	case CloseRevoked:
		return CloseReasonRevoked
	}
	return ""
}
