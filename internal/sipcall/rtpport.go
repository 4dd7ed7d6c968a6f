package sipcall

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
)

// listenRTP binds a call's RTP socket on ip: any free port when min and
// max are 0, otherwise an even port in [min, max] (RTP on even ports, RTCP
// on the odd one above, RFC 3550 §11). The search starts at a random even
// port of the range, so that concurrent calls rarely collide.
func listenRTP(ip netip.Addr, min, max int) (*net.UDPConn, error) {
	if min == 0 && max == 0 {
		return net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	}
	first := min + min%2
	n := (max-first)/2 + 1
	start := rand.IntN(n)
	var last error
	for i := range n {
		port := first + 2*((start+i)%n)
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, fmt.Errorf("no free even port in %d-%d: %w", min, max, last)
}
