package smpp_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"switchboard/internal/config"
	"switchboard/internal/smpp"
	"switchboard/internal/smpp/pdu"
)

// selfSigned writes a certificate and key for 127.0.0.1 and returns their
// paths and the pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "switchboard test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLS: a peer binds over the TLS listener, and the uplink binds over
// TLS to another switchboard's TLS listener.
func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
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
