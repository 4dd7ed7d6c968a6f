package credential

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// ErrInvalidPrefix means an allow-list holds the zero (invalid) prefix.
var ErrInvalidPrefix = errors.New("invalid allowed address prefix")

// Address allow-lists: a list of CIDR prefixes a client may connect from,
// empty meaning any address. SMPP peers and chat accounts share the rules,
// so that an operator's "--allow-ip" means the same everywhere.

// CanonicalPrefixes returns a new, sorted list without duplicates in which
// IPv4-mapped IPv6 prefixes (::ffff:192.0.2.0/120) are stored as IPv4
// (192.0.2.0/24) and host bits are cleared (10.1.2.3/8 becomes 10.0.0.0/8).
// Unmapping lets a rule match however the listener reports the address;
// masking makes equal rules compare equal. An empty list gives nil, so that
// "any address" has one representation. An invalid prefix is
// ErrInvalidPrefix; callers wrap it with their own sentinel.
func CanonicalPrefixes(in []netip.Prefix) ([]netip.Prefix, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]netip.Prefix, len(in))
	for i, pfx := range in {
		if !pfx.IsValid() {
			return nil, fmt.Errorf("%w at position %d", ErrInvalidPrefix, i+1)
		}
		addr := pfx.Addr().WithZone("")
		bits := pfx.Bits()
		if addr.Is4In6() {
			addr = addr.Unmap()
			bits = max(bits-96, 0)
		}
		out[i] = netip.PrefixFrom(addr, bits).Masked()
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Bits(), b.Bits())
	})
	return slices.Compact(out), nil
}

// AddrAllowed reports whether ip is in one of the prefixes; no prefixes
// allows every address. It does not allocate: it runs on every login.
func AddrAllowed(allow []netip.Prefix, ip netip.Addr) bool {
	if len(allow) == 0 {
		return true
	}
	// A zone (fe80::1%eth0) would make every Contains false; the rules
	// are about addresses, not interfaces.
	ip = ip.Unmap().WithZone("")
	for _, pfx := range allow {
		if pfx.Contains(ip) {
			return true
		}
	}
	return false
}
