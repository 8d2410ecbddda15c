// Command tlsload drives SIP over TLS at an entVoice listener for
// bench/tls.sh: "handshake" mode opens a new TLS connection (a full
// handshake, no session resumption) for each REGISTER and closes it after
// the 401; "register" mode keeps one connection per worker and registers
// with digest authentication over it (REGISTER, 401, REGISTER, 200). It
// prints what it completed per second; the script measures entvoice's CPU.
//
//	tlsload -addr 127.0.0.1:5061 -ca sip.crt -mode handshake|register [-conns 16] [-secs 10] [-users 1000]
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/icholy/digest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5061", "TLS listener")
	caFile := flag.String("ca", "", "PEM certificate the listener's is checked against")
	mode := flag.String("mode", "handshake", "handshake or register")
	conns := flag.Int("conns", 16, "concurrent workers")
	secs := flag.Int("secs", 10, "how long")
	users := flag.Int("users", 1000, "users u0.. with secrets s0..")
	flag.Parse()
	pem, err := os.ReadFile(*caFile)
	if err != nil {
		fail(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	cfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	var done, errs atomic.Int64
	deadline := time.Now().Add(time.Duration(*secs) * time.Second)
	var wg sync.WaitGroup
	for w := range *conns {
		wg.Go(func() {
			user := "u" + strconv.Itoa(w%*users)
			pass := "s" + strconv.Itoa(w%*users)
			var c *tls.Conn
			var r *bufio.Reader
			for seq := 1; time.Now().Before(deadline); seq++ {
				if c == nil || *mode == "handshake" {
					if c != nil {
						c.Close()
					}
					c, err = tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", *addr, cfg)
					if err != nil {
						errs.Add(1)
						c = nil
						time.Sleep(10 * time.Millisecond)
						continue
					}
					r = bufio.NewReader(c)
				}
				res, err := exchange(c, r, register(c, user, seq, ""))
				if err != nil || !strings.HasPrefix(res, "SIP/2.0 401") {
					errs.Add(1)
					c.Close()
					c = nil
					continue
				}
				if *mode == "handshake" {
					done.Add(1)
					continue
				}
				auth, err := authorization(res, user, pass)
				if err != nil {
					fail(err)
				}
				seq++
				res, err = exchange(c, r, register(c, user, seq, auth))
				if err != nil || !strings.HasPrefix(res, "SIP/2.0 200") {
					errs.Add(1)
					c.Close()
					c = nil
					continue
				}
				done.Add(1)
			}
			if c != nil {
				c.Close()
			}
		})
	}
	wg.Wait()
	fmt.Printf("mode=%s completed=%d rate=%.1f/s errors=%d conns=%d\n", *mode, done.Load(), float64(done.Load())/float64(*secs), errs.Load(), *conns)
}

func register(c net.Conn, user string, seq int, auth string) string {
	la := c.LocalAddr().String()
	return fmt.Sprintf("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS %s;branch=z9hG4bK-%d-%d;rport\r\nMax-Forwards: 70\r\n"+
		"From: <sip:%s@127.0.0.1>;tag=t%d\r\nTo: <sip:%s@127.0.0.1>\r\nCall-ID: tlsload-%s-%s\r\nCSeq: %d REGISTER\r\n"+
		"Contact: <sip:%s@%s;transport=tls>\r\nExpires: 600\r\n%sContent-Length: 0\r\n\r\n",
		la, seq, time.Now().UnixNano(), user, seq, user, user, la, seq, user, la, auth)
}

// exchange writes a request and reads the first final response.
func exchange(c net.Conn, r *bufio.Reader, req string) (string, error) {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		return "", err
	}
	for {
		var b strings.Builder
		length := 0
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return "", err
			}
			b.WriteString(line)
			if line == "\r\n" {
				break
			}
			if v, ok := strings.CutPrefix(strings.ToLower(line), "content-length:"); ok {
				length, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		if _, err := io.CopyN(io.Discard, r, int64(length)); err != nil {
			return "", err
		}
		if s := b.String(); !strings.HasPrefix(s, "SIP/2.0 1") {
			return s, nil
		}
	}
}

func authorization(res, user, pass string) (string, error) {
	for _, l := range strings.Split(res, "\r\n") {
		if v, ok := strings.CutPrefix(l, "WWW-Authenticate: "); ok {
			ch, err := digest.ParseChallenge(v)
			if err != nil {
				return "", err
			}
			cr, err := digest.Digest(ch, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1", Username: user, Password: pass})
			if err != nil {
				return "", err
			}
			return "Authorization: " + cr.String() + "\r\n", nil
		}
	}
	return "", fmt.Errorf("no challenge in %q", res)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tlsload:", err)
	os.Exit(1)
}
