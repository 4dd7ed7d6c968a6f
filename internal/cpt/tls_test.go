package cpt_test

import (
	"bufio"
	"crypto/tls"
	"net/netip"
	"path/filepath"
	"testing"

	"switchboard/internal/accounts"
	"switchboard/internal/credential"
	"switchboard/internal/testcert"
)

// Over the TLS listener, an account with a password needs it as CONNECT's
// second token; locks and address ranges give their own reasons.
func TestTLSAndAccounts(t *testing.T) {
	defer credential.SetIterationsForTest(1000)()
	certFile, keyFile, pool := testcert.SelfSigned(t)
	c := testConfig(t)
	c.CPT.TLSListen = "127.0.0.1:0"
	c.CPT.TLSCert, c.CPT.TLSKey = certFile, keyFile
	db, err := accounts.Open(filepath.Join(c.DataDir, accounts.FileName))
	if err != nil {
		t.Fatal(err)
	}
	hash, err := accounts.HashPassword("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []accounts.Account{
		{Name: "alice", PasswordHash: hash},
		{Name: "locked", Locked: true},
		{Name: "faraway", AllowIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}},
	} {
		if err := db.Add(a); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	w := startWorld(t, c)
	tlsAddr := w.srv.CPTAddrs()[1].String()
	dialTLS := func() *client {
		nc, err := tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return &client{t: t, c: nc, r: bufio.NewReader(nc)}
	}
	for _, tc := range []struct{ line, want string }{
		{"CONNECT alice", "DECLINE bad_credentials"},
		{"CONNECT alice wrong", "DECLINE bad_credentials"},
		{"CONNECT locked", "DECLINE account_locked"},
		{"CONNECT faraway", "DECLINE ip_invalid"},
		{"CONNECT alice s3cret", "ACCEPT"},
	} {
		cl := dialTLS()
		cl.send(tc.line)
		cl.expect(tc.want)
		if tc.want == "ACCEPT" {
			cl.send("SEND g over tls")
			cl.expect("ACK")
		}
	}
	// Plain TCP reaches the same world.
	plain := w.login(t, "bob")
	if got := plain.sync("g 0"); len(got) != 1 {
		t.Fatalf("SYNC over TCP after a TLS post: %q", got)
	}
}
