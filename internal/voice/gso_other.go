//go:build !linux

package voice

import "net"

// gsoSupported is false where UDP_SEGMENT does not exist: every forward
// is its own message.
func gsoSupported(*net.UDPConn) bool { return false }

var gsoControl []byte

func gsoRefused(error) bool { return false }
