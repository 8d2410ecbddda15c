// Command agiserver is the FastAGI server of bench/agi.sh: for every
// connection it reads the agi_* environment, runs a 10-command IVR
// (ANSWER ... HANGUP), checks each reply is a 200 and closes. On SIGTERM
// or SIGINT it prints its tally and exits.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

var commands = []string{"ANSWER", `SET VARIABLE CUSTOMER "42 b"`, "GET VARIABLE CUSTOMER", "GET VARIABLE CALLERID(num)",
	"CHANNEL STATUS", "NOOP", `VERBOSE "step" 3`, "GET FULL VARIABLE ${CUSTOMER}-${EXTEN}", "NOOP", "HANGUP"}

func main() {
	addr := flag.String("listen", "127.0.0.1:4573", "address to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	var sessions, ok, bad atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sessions.Add(1)
			go func() {
				if serve(c) {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}()
		}
	}()
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	ln.Close()
	fmt.Printf("agiserver: sessions=%d ok=%d bad=%d\n", sessions.Load(), ok.Load(), bad.Load())
}

func serve(c net.Conn) bool {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	r := bufio.NewReader(c)
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return false
		}
		if l == "\n" {
			break
		}
	}
	for _, cmd := range commands {
		if _, err := c.Write([]byte(cmd + "\n")); err != nil {
			return false
		}
		l, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(l, "200 ") {
			return false
		}
	}
	return true
}
