// Package clientaddr is the client address that per-address limits count against, shared by the
// Go proxy's failed-handshake limiter and the issuer's failed-access-token limiter.
//
// Behind Cloudflare or a load balancer the TCP peer is the balancer, shared by every client:
// keying on it would let 101 bad requests lock out everyone behind it. So, only when the peer is
// one of the trusted proxies (TRUSTED_PROXIES), the address comes from CF-Connecting-IP, else
// from the right-most X-Forwarded-For entry that is not itself trusted (entries to its left were
// written by the client and prove nothing). From any other peer these headers are ignored: a
// client cannot choose its own address.
//
// An IPv4 client is counted per address. An IPv6 client is counted per /64: a single host is
// routinely given a whole /64, so per-address keys would give it 2^64 budgets. An IPv4-mapped
// IPv6 address (::ffff:192.0.2.1) is the IPv4 address.
package clientaddr

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrusted parses TRUSTED_PROXIES, a comma list of CIDRs (a bare address is a /32 or /128).
// Empty means none. An IPv4-mapped entry (::ffff:10.0.0.0/104) means its IPv4 range: peers are
// compared in their unmapped form, so a mapped prefix would otherwise match no one.
func ParseTrusted(s string) ([]netip.Prefix, error) {
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

func trusted(ps []netip.Prefix, a netip.Addr) bool {
	for _, pfx := range ps {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// Key is the limiter key of an address: IPv4 (mapped or not) per address, IPv6 per /64, without
// a zone, so that no spelling makes one client look like several.
func Key(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// RequestKey is the limiter key of r's client, given the trusted proxies.
func RequestKey(r *http.Request, trustedProxies []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host // not an IP (a unix socket, a test's pipe): one budget for all of it
	}
	if !trusted(trustedProxies, peer.Unmap().WithZone("")) {
		return Key(peer)
	}
	if a, err := netip.ParseAddr(strings.TrimSpace(r.Header.Get("CF-Connecting-IP"))); err == nil {
		return Key(a)
	}
	xff := r.Header.Values("X-Forwarded-For")
	for i := len(xff) - 1; i >= 0; i-- {
		parts := strings.Split(xff[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return Key(peer) // unparseable: nothing to its left can be trusted either
			}
			if a = a.Unmap().WithZone(""); !trusted(trustedProxies, a) {
				return Key(a)
			}
		}
	}
	return Key(peer) // every hop is trusted: the request came from the proxies themselves
}
