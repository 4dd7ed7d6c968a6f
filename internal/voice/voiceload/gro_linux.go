package voiceload

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// enableGRO turns UDP_GRO on for conn: the kernel then queues a GSO send
// of the relay as one coalesced datagram instead of cutting it into its
// segments, and one read takes them all.
func enableGRO(conn *net.UDPConn) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("voiceload: UDP_GRO: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1)
	}); err != nil {
		return fmt.Errorf("voiceload: UDP_GRO: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("voiceload: UDP_GRO: %w", serr)
	}
	return nil
}
