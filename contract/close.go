package contract

// WebSocket close codes (docs/protocol.md#close-codes). 1xxx are RFC 6455's; 4008 is ours.
const (
	CloseNormal       = 1000
	CloseGoingAway    = 1001
	CloseInvalidUTF8  = 1007
	ClosePolicy       = 1008
	CloseTooBig       = 1009
	CloseInternal     = 1011
	CloseSlowConsumer = 4008
)
