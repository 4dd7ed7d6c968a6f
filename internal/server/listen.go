package server

import (
	"crypto/tls"
	"fmt"
	"net"
)

// openListeners opens a service's plain and TLS listeners (either address
// may be empty: that listener is off). Errors name the config key, which
// is section + ".listen" and so on. On an error nothing stays open.
func openListeners(section, listen, tlsListen, certFile, keyFile string) ([]net.Listener, error) {
	var lns []net.Listener
	fail := func(err error) ([]net.Listener, error) {
		for _, ln := range lns {
			ln.Close()
		}
		return nil, err
	}
	if listen != "" {
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return fail(fmt.Errorf("%s.listen %s: %w", section, listen, err))
		}
		lns = append(lns, ln)
	}
	if tlsListen != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return fail(fmt.Errorf("%s.tls_cert %s: %w", section, certFile, err))
		}
		ln, err := tls.Listen("tcp", tlsListen, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		if err != nil {
			return fail(fmt.Errorf("%s.tls_listen %s: %w", section, tlsListen, err))
		}
		lns = append(lns, ln)
	}
	return lns, nil
}
