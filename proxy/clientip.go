package proxy

import (
	"net/http"
	"net/netip"

	"github.com/qubital/office-router/internal/clientaddr"
)

// The failed-handshake limiter keys on the client's address: internal/clientaddr, shared with
// the issuer's failed-access-token limiter. Behind Cloudflare or a load balancer (TRUSTED_PROXIES)
// the address comes from CF-Connecting-IP or X-Forwarded-For; IPv4 counts per address, IPv6 per
// /64.

// ParseTrustedProxies parses TRUSTED_PROXIES, a comma list of CIDRs (clientaddr.ParseTrusted).
func ParseTrustedProxies(s string) ([]netip.Prefix, error) { return clientaddr.ParseTrusted(s) }

// clientIP is the key the failed-handshake limiter counts against.
func (p *Proxy) clientIP(r *http.Request) string {
	return clientaddr.RequestKey(r, p.cfg.TrustedProxies)
}
