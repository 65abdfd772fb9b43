package proxy

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/qubital/office-router/internal/httpx"
)

// Limits and timings; each Config field says its default.
const (
	DefaultMaxMessageBytes  = 64 << 10
	DefaultMaxConnsPerOrg   = 10000
	DefaultMaxConnsPerUser  = 16
	DefaultSendQueue        = 256
	DefaultPingPeriod       = 30 * time.Second
	minPingPeriod           = time.Millisecond
	DefaultWriteWait        = 10 * time.Second
	DefaultMessagesPerSec   = 50
	DefaultMessageBurst     = 100
	DefaultFailuresPerSec   = 10
	DefaultFailureBurst     = 100
	closeGrace              = 2 * time.Second
	readBufferSize          = 320 // > 256, or gorilla allocates its own (idle.go); frames stream through it
	writeBufferSize         = 1024
	maxPublishBodyBytes     = 64 << 10
	maxRateLimitedAddresses = 100000
	// MaxSessionSecondsLimit is the largest MaxSessionSeconds (a day), as the Worker's
	// MAX_SESSION_SECONDS.
	MaxSessionSecondsLimit = 86400
)

// Config holds deploy-time settings. The token rules live in the verifier passed to New.
type Config struct {
	// AllowedOrigins is ALLOWED_ORIGINS: browser origins allowed to open sockets, patterns as in
	// docs/configuration.md#allowed-origins (exact, "https://*.example.com",
	// "http://localhost:*"). Requests without Origin (non-browser clients) pass. This defaults
	// to none.
	AllowedOrigins []string
	// Upstream switches to forward mode: a ws:// or wss:// origin that receives the validated
	// sockets (same path). Empty means hub mode.
	Upstream string
	// ForwardToken re-sends the client's token upstream (Authorization: Bearer) instead of the
	// X-Office-* identity headers. Needed when the upstream validates tokens itself (the Worker).
	ForwardToken bool
	// MaxMessageBytes: larger client messages close the socket with 1009. This defaults to 64 KiB.
	MaxMessageBytes int64
	// MaxConnsPerOrg and MaxConnsPerUser: over them a handshake gets 429 too_many_connections.
	// These default to 10000 and 16.
	MaxConnsPerOrg  int
	MaxConnsPerUser int
	// SendQueue is the per-connection outgoing queue length; overflow closes with 4008.
	// This defaults to 256.
	SendQueue int
	// PingPeriod is how often the server pings; a client that sends nothing, pongs included, for
	// two periods and WriteWait (70 s by default) is dropped. This defaults to 30 s; New refuses
	// less than 1 ms.
	PingPeriod time.Duration
	// WriteWait bounds every write. This defaults to 10 s.
	WriteWait time.Duration
	// MessagesPerSecond and MessageBurst limit each connection's messages; a flood closes the
	// socket with 1008. These default to 50 and 100.
	MessagesPerSecond float64
	MessageBurst      int
	// FailuresPerSecond and FailureBurst limit failed handshakes per client IP (429 with
	// Retry-After); successful handshakes never count. These default to 10 and 100.
	FailuresPerSecond float64
	FailureBurst      int
	// TrustedProxies is TRUSTED_PROXIES (ParseTrustedProxies): the load balancers or Cloudflare
	// ranges whose CF-Connecting-IP / X-Forwarded-For name the client for the failed-handshake
	// limiter (clientip.go). This defaults to none: the TCP peer is the client and those headers
	// are ignored.
	TrustedProxies []netip.Prefix
	// MaxSessionSeconds is MAX_SESSION_SECONDS: a hub socket older than this, ±10% drawn per
	// socket so that sockets opened together do not reconnect together, is closed with 4001
	// reauth_required, and its client reconnects with a fresh token; it bounds how long a role
	// change takes to reach every socket (docs/security.md). 0 to MaxSessionSecondsLimit; 3600 is
	// recommended. In forward mode the upstream closes its sockets and the forwarder passes the
	// 4001 on, so it must be 0 there. This defaults to 0: off, and no per-socket timer.
	MaxSessionSeconds int
}

func (c *Config) validate() error {
	if c.Upstream != "" {
		u, err := url.Parse(c.Upstream)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return fmt.Errorf("proxy: Config.Upstream must be a ws:// or wss:// origin without path, got %q", c.Upstream)
		}
		c.Upstream = strings.TrimRight(c.Upstream, "/")
	}
	if c.MaxSessionSeconds < 0 || c.MaxSessionSeconds > MaxSessionSecondsLimit {
		return fmt.Errorf("proxy: MAX_SESSION_SECONDS must be an integer 0-%d, got %d", MaxSessionSecondsLimit, c.MaxSessionSeconds)
	}
	if c.MaxSessionSeconds != 0 && c.Upstream != "" {
		return fmt.Errorf("proxy: MAX_SESSION_SECONDS is the upstream's in forward mode (it closes with 4001, the forwarder passes that on); set it there")
	}
	if _, err := httpx.ParseSocketOrigins(c.AllowedOrigins); err != nil {
		return err
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxConnsPerOrg, DefaultMaxConnsPerOrg)
	def(&c.MaxConnsPerUser, DefaultMaxConnsPerUser)
	def(&c.SendQueue, DefaultSendQueue)
	def(&c.MessageBurst, DefaultMessageBurst)
	def(&c.FailureBurst, DefaultFailureBurst)
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.PingPeriod <= 0 {
		c.PingPeriod = DefaultPingPeriod
	}
	if c.PingPeriod < minPingPeriod { // the pinger ticks PingPeriod/pingSlots: it must not be zero
		return fmt.Errorf("proxy: Config.PingPeriod must be at least %v, got %v", minPingPeriod, c.PingPeriod)
	}
	if c.WriteWait <= 0 {
		c.WriteWait = DefaultWriteWait
	}
	if c.MessagesPerSecond <= 0 {
		c.MessagesPerSecond = DefaultMessagesPerSec
	}
	if c.FailuresPerSecond <= 0 {
		c.FailuresPerSecond = DefaultFailuresPerSec
	}
	return nil
}
