package voice

import (
	"encoding/binary"
	"errors"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// gsoSupported reports whether the kernel knows UDP_SEGMENT on conn's
// socket (Linux 4.18 and later). Reading the option changes nothing: the
// segment size is given per send in a control message, so that a datagram
// sent without one (announcements) stays a plain datagram.
func gsoSupported(conn *net.UDPConn) bool {
	rc, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		_, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
	}); err != nil {
		return false
	}
	return serr == nil
}

// gsoControl is the control message of a GSO send: UDP_SEGMENT with the
// segment size, so that the kernel cuts the message's payload into
// datagrams of PacketSize bytes. It is built once and only read.
var gsoControl = func() []byte {
	b := make([]byte, unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.IPPROTO_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[unix.CmsgLen(0):], PacketSize)
	return b
}()

// gsoRefused reports whether a send error means that the kernel (or the
// route's device) cannot do UDP GSO: EIO when the device has no checksum
// offload for it, EINVAL for a control message it does not accept.
func gsoRefused(err error) bool {
	return errors.Is(err, unix.EIO) || errors.Is(err, unix.EINVAL)
}
