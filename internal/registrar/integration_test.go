package registrar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/sipauth"
)

// startServer runs a sipgo server on 127.0.0.1:0 with the stateless
// REGISTER path in front of it, as the PBX wires it. OPTIONS is answered
// by sipgo (through its transaction layer) to show other traffic passes.
func startServer(t *testing.T, reg *Registrar) *net.UDPAddr {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("entvoice-test"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeUDP(WrapPacketConn(pc, reg))
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
		srv.Close()
		ua.Close()
	})
	return pc.LocalAddr().(*net.UDPAddr)
}

// integrationRegistrar builds a registrar for user 1001/pass1001 offering
// algs (nil: the default SHA-256 then MD5).
func integrationRegistrar(algs []string) (*Registrar, *[]int, *sync.Mutex) {
	var mu sync.Mutex
	var changes []int
	reg := NewRegistrar(Options{
		Realm:      realm,
		Challenger: sipauth.NewChallenger(sipauth.Options{Realm: realm, Algorithms: algs}),
		Lookup: func(u string) (Account, bool) {
			if u != "1001" {
				return Account{}, false
			}
			return Account{Username: u, Credentials: sipauth.CredentialsFromPassword(u, realm, "pass1001"), Enabled: true}, true
		},
		Logger: slog.New(slog.DiscardHandler),
		OnChange: func(_ string, _, bs []Binding) {
			mu.Lock()
			changes = append(changes, len(bs))
			mu.Unlock()
		},
	})
	return reg, &changes, &mu
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

func runSIPp(t *testing.T, server *net.UDPAddr, scenario, password string) error {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		t.Skip("sipp not on PATH")
	}
	sf, err := filepath.Abs(filepath.Join("testdata", scenario))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, server.String(), "-sf", sf,
		"-i", "127.0.0.1", "-p", fmt.Sprint(freeUDPPort(t)), "-cp", fmt.Sprint(freeUDPPort(t)),
		"-m", "1", "-nostdin", "-timeout", "10s", "-timeout_error",
		"-au", "1001", "-ap", password, "-s", "1001",
		"-trace_err", "-error_file", filepath.Join(dir, "errors.log"))
	cmd.Dir = dir
	cmd.Cancel = func() error { return cmd.Process.Kill() } // by its PID
	out, err := cmd.CombinedOutput()
	if err != nil {
		errs, _ := os.ReadFile(filepath.Join(dir, "errors.log"))
		t.Logf("sipp output:\n%s\nerrors.log:\n%s", out, errs)
	}
	return err
}

// sippAlgorithms: SIPp 3.6.1 answers the first WWW-Authenticate only and
// aborts unless it is MD5 ("createAuthHeader: authentication must use MD5
// or AKAv1-MD5"), so SIPp-facing deployments offer MD5 alone, which is
// also Asterisk's default (supported_algorithms_uas = MD5).
var sippAlgorithms = []string{"MD5"}

func TestSIPpRegister(t *testing.T) {
	reg, changes, mu := integrationRegistrar(sippAlgorithms)
	addr := startServer(t, reg)
	if err := runSIPp(t, addr, "uac_register.xml", "pass1001"); err != nil {
		t.Fatalf("sipp register scenario failed: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	// Registered (1 binding), then un-registered by ;expires=0 (0).
	if len(*changes) != 2 || (*changes)[0] != 1 || (*changes)[1] != 0 {
		t.Fatalf("binding changes = %v, want [1 0]", *changes)
	}
	if reg.Count() != 0 {
		t.Fatalf("Count = %d after un-REGISTER", reg.Count())
	}
}

func TestSIPpWrongPassword(t *testing.T) {
	reg, changes, mu := integrationRegistrar(sippAlgorithms)
	addr := startServer(t, reg)
	if err := runSIPp(t, addr, "uac_register_wrong_password.xml", "wrong"); err != nil {
		t.Fatalf("sipp wrong-password scenario failed: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(*changes) != 0 || reg.Count() != 0 {
		t.Fatalf("wrong password registered: changes %v", *changes)
	}
}

// TestSipgoClientSHA256 registers with sipgo's own client, which answers
// the first (SHA-256) challenge with github.com/icholy/digest, and checks
// that OPTIONS still reaches sipgo's handlers.
func TestSipgoClientSHA256(t *testing.T) {
	reg, _, _ := integrationRegistrar(nil)
	addr := startServer(t, reg)

	ua, err := sipgo.NewUA(sipgo.WithUserAgent("sipgo-phone"))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	cl, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	recipient := sip.Uri{Scheme: "sip", User: "1001", Host: addr.IP.String(), Port: addr.Port}
	req := sip.NewRequest(sip.REGISTER, recipient)
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1", Port: 5099}})
	req.AppendHeader(sip.NewHeader("Expires", "300"))
	res, err := cl.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, res, 401)
	res, err = cl.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "1001", Password: "pass1001"})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, res, 200)
	auth := req.GetHeader("Authorization")
	if auth == nil || !containsFold(auth.Value(), "algorithm=SHA-256") {
		t.Fatalf("client did not use SHA-256: %v", auth)
	}
	bs := reg.Lookup("1001")
	if len(bs) != 1 || bs[0].Contact != "sip:1001@127.0.0.1:5099" || !bs[0].Source.Addr().IsLoopback() {
		t.Fatalf("bindings = %+v", bs)
	}

	opt := sip.NewRequest(sip.OPTIONS, recipient)
	res, err = cl.Do(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, res, 200)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("timed out")
	}
}

func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if equalFoldASCII(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// TestServeSIPOverTCP registers through sipgo's transaction layer over TCP
// with ServeSIP as the REGISTER handler.
func TestServeSIPOverTCP(t *testing.T) {
	reg, _, _ := integrationRegistrar(nil)
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	srv.OnRegister(reg.ServeSIP)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeTCP(ln)
	}()
	defer func() {
		ln.Close()
		<-done
		srv.Close()
		ua.Close()
	}()
	addr := ln.Addr().(*net.TCPAddr)

	cua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer cua.Close()
	cl, err := sipgo.NewClient(cua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	recipient := sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1", Port: addr.Port, UriParams: sip.HeaderParams{{K: "transport", V: "tcp"}}}
	req := sip.NewRequest(sip.REGISTER, recipient)
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1", Port: 5098, UriParams: sip.HeaderParams{{K: "transport", V: "tcp"}}}})
	res, err := cl.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, res, 401)
	res, err = cl.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "1001", Password: "pass1001"})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, res, 200)
	bs := reg.Lookup("1001")
	if len(bs) != 1 || bs[0].Transport != "TCP" || !bs[0].Source.Addr().IsLoopback() || bs[0].Source.Port() == 0 {
		t.Fatalf("bindings = %+v", bs)
	}
}
