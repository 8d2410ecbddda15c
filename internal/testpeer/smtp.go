package testpeer

import (
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// SMTPMessage is one message an SMTPSink accepted.
type SMTPMessage struct {
	From string
	To   []string
	Data string // the message as sent, dot-unstuffed, LF line ends
}

// SMTPSink is a small SMTP server on loopback that accepts every message
// (EHLO or HELO, MAIL, RCPT, DATA, QUIT of RFC 5321; no TLS, no AUTH), for
// the tests of e-mail notifications. It stops at t.Cleanup.
type SMTPSink struct {
	// Addr is its "127.0.0.1:port".
	Addr string
	// Messages receives each accepted message.
	Messages chan SMTPMessage

	ln net.Listener
	wg sync.WaitGroup
}

// StartSMTPSink starts a sink on a free loopback port.
func StartSMTPSink(t testing.TB) *SMTPSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SMTPSink{Addr: ln.Addr().String(), Messages: make(chan SMTPMessage, 16), ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *SMTPSink) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	tp := textproto.NewConn(c)
	_ = tp.PrintfLine("220 sink ESMTP")
	var msg SMTPMessage
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		switch cmd := strings.ToUpper(line); {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			_ = tp.PrintfLine("250 sink")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			msg = SMTPMessage{From: strings.Trim(line[len("MAIL FROM:"):], " <>")}
			_ = tp.PrintfLine("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			msg.To = append(msg.To, strings.Trim(line[len("RCPT TO:"):], " <>"))
			_ = tp.PrintfLine("250 ok")
		case cmd == "DATA":
			_ = tp.PrintfLine("354 go on")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			msg.Data = string(data)
			_ = tp.PrintfLine("250 queued")
			select {
			case s.Messages <- msg:
			default:
			}
		case cmd == "QUIT":
			_ = tp.PrintfLine("221 bye")
			return
		default:
			_ = tp.PrintfLine("502 not implemented")
		}
	}
}
