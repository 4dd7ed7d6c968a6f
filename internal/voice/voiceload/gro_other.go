//go:build !linux

package voiceload

import (
	"errors"
	"net"
)

func enableGRO(*net.UDPConn) error { return errors.New("voiceload: UDP_GRO needs Linux") }
