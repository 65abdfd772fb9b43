package proxy

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// The failed-handshake limiter keys on the client's address. Behind Cloudflare or a load
// balancer the TCP peer is the balancer, shared by every client: keying on it would let 101 bad
// handshakes lock out everyone behind it. So, only when the peer is one of TrustedProxies, the
// address comes from CF-Connecting-IP, else from the right-most X-Forwarded-For entry that is
// not itself trusted (entries to its left were written by the client and prove nothing). From
// any other peer these headers are ignored: a client cannot choose its own address.

// ParseTrustedProxies parses TRUSTED_PROXIES, a comma list of CIDRs (a bare address is a /32 or
// /128). Empty means none. An IPv4-mapped entry (::ffff:10.0.0.0/104) means its IPv4 range:
// peers are compared in their unmapped form, so a mapped prefix would otherwise match no one.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if pfx, err := netip.ParsePrefix(f); err == nil {
			if a := pfx.Addr(); a.Is4In6() && pfx.Bits() >= 96 {
				pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
			}
			out = append(out, pfx.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("TRUSTED_PROXIES: %q is not a CIDR like 10.0.0.0/8", f)
		}
		a = a.Unmap().WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (p *Proxy) trusted(a netip.Addr) bool {
	for _, pfx := range p.cfg.TrustedProxies {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// key is the limiter's key for a forwarded address: unmapped and without a zone, so that neither
// spelling makes one client look like several.
func key(a netip.Addr) string { return a.Unmap().WithZone("").String() }

// clientIP is the address the failed-handshake limiter counts against.
func (p *Proxy) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !p.trusted(peer.Unmap().WithZone("")) {
		return host
	}
	if a, err := netip.ParseAddr(strings.TrimSpace(r.Header.Get("CF-Connecting-IP"))); err == nil {
		return key(a)
	}
	xff := r.Header.Values("X-Forwarded-For")
	for i := len(xff) - 1; i >= 0; i-- {
		parts := strings.Split(xff[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return host // unparseable: nothing to its left can be trusted either
			}
			if a = a.Unmap().WithZone(""); !p.trusted(a) {
				return key(a)
			}
		}
	}
	return host // every hop is trusted: the request came from the proxies themselves
}
