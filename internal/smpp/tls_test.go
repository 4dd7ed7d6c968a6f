package smpp_test

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"testing"
	"time"

	"switchboard/internal/config"
	"switchboard/internal/smpp"
	"switchboard/internal/smpp/pdu"
	"switchboard/internal/testcert"
)

// TestTLS: a peer binds over the TLS listener, and the uplink binds over
// TLS to another switchboard's TLS listener.
func TestTLS(t *testing.T) {
	certFile, keyFile, pool := testcert.SelfSigned(t)
	up := startWorld(t, func(c *config.Config) {
		c.SMPP.TLSListen, c.SMPP.TLSCert, c.SMPP.TLSKey = "127.0.0.1:0", certFile, keyFile
	})
	tlsAddr := up.srv.SMPPAddrs()[1].String()

	conn, err := tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	s := smpp.NewSession(conn, smpp.SessionConfig{}, nil, nil, nil)
	ran := make(chan struct{})
	go func() { defer close(ran); s.Run() }()
	defer func() { s.Close(); <-ran }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.Call(ctx, &pdu.Bind{Cmd: pdu.BindTransmitter, SystemID: "pa", Password: "secret", InterfaceVersion: 0x34})
	if err != nil || resp.Header.Status != pdu.StatusOK {
		t.Fatalf("bind over TLS: %v %v", err, resp.Header.Status)
	}

	_, port, _ := net.SplitHostPort(tlsAddr)
	p, _ := strconv.Atoi(port)
	down := startWorld(t, func(c *config.Config) {
		c.Uplink.Host, c.Uplink.Port = "127.0.0.1", p
		c.Uplink.SystemID, c.Uplink.Password = "pb", "secret"
		c.Uplink.TLS, c.Uplink.TLSInsecure = true, true
	})
	if err := down.srv.Uplink().WaitBound(ctx); err != nil {
		t.Fatalf("uplink over TLS: %v", err)
	}
}
