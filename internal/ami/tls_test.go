package ami

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ami-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestTLS: the TLS listener speaks the same protocol; security events
// name the transport TLS.
func TestTLS(t *testing.T) {
	s := testServer(t, Options{TLSListen: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}})
	addrs := s.Addrs()
	if len(addrs) != 2 {
		t.Fatalf("listeners %v", addrs)
	}
	c, err := tls.Dial("tcp", addrs[1].String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl := &client{t: t, c: c, r: bufio.NewReader(c)}
	if got := cl.login("admin", "secret"); got != "Response: Success\r\nMessage: Authentication accepted\r\n\r\n" {
		t.Fatalf("TLS login: %q", got)
	}
	sa := cl.until("Event: SuccessfulAuth")
	if !strings.HasPrefix(header(sa, "LocalAddress"), "IPV4/TLS/127.0.0.1/") {
		t.Errorf("SuccessfulAuth over TLS: %q", sa)
	}
	cl.send("Action: Logoff")
	if got := cl.read(); got != "Response: Goodbye\r\nMessage: Thanks for all the fish.\r\n\r\n" {
		t.Errorf("logoff %q", got)
	}
}
