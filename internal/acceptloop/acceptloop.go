// Package acceptloop is the accept loop every TCP service of switchboard
// runs: accept until told to stop, and survive failing accepts.
package acceptloop

import (
	"errors"
	"net"
	"time"
)

// ErrStopped is returned by Run once quit is closed.
var ErrStopped = errors.New("acceptloop: stopped")

// Run accepts connections on ln and hands each to start until quit is
// closed (ErrStopped) or ln is closed by someone else (that error). A
// failing accept (no file descriptors left during a connection flood) is
// retried with backoff from 5 ms to 1 s, as net/http does, rather than
// ending the listener; failed is told about each one and the wait.
func Run(ln net.Listener, quit <-chan struct{}, start func(net.Conn), failed func(err error, retryIn time.Duration)) error {
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err == nil {
			delay = 0
			start(nc)
			continue
		}
		select {
		case <-quit:
			return ErrStopped
		default:
		}
		if errors.Is(err, net.ErrClosed) {
			return err
		}
		delay = min(max(2*delay, 5*time.Millisecond), time.Second)
		failed(err, delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-quit:
			t.Stop()
			return ErrStopped
		}
	}
}
