// Command amiload connects N AMI clients to an AMI server, logs them in
// and reads events until SIGTERM/SIGINT or -duration, then prints one
// result line: events received per second (all clients together, over the
// window from the first to the last event), and the delay from each event's
// Timestamp (set when the channel changed; the server needs timestampevents)
// to its arrival on the client socket: p50, p99, max. Used by
// bench/ami/fanout.sh.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type stats struct {
	events      int
	delays      []float64 // ms
	first, last time.Time
	err         error
}

func client(addr, user, secret string, st *stats, stop <-chan struct{}, ready *sync.WaitGroup) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		st.err = err
		ready.Done()
		return
	}
	go func() { <-stop; c.Close() }()
	r := bufio.NewReaderSize(c, 256<<10)
	fmt.Fprintf(c, "Action: Login\r\nUsername: %s\r\nSecret: %s\r\n\r\n", user, secret)
	logged := false
	isEvent := false
	for {
		l, err := r.ReadSlice('\n')
		if err != nil {
			if !logged {
				st.err = fmt.Errorf("login: %w", err)
				ready.Done()
			}
			return
		}
		now := time.Now()
		switch {
		case !logged && strings.HasPrefix(string(l), "Message: Authentication accepted"):
			logged = true
			ready.Done()
		case len(l) > 7 && string(l[:7]) == "Event: ":
			isEvent = true
			st.events++
			if st.first.IsZero() {
				st.first = now
			}
			st.last = now
		case isEvent && len(l) > 11 && string(l[:11]) == "Timestamp: ":
			if ts, err := strconv.ParseFloat(strings.TrimSpace(string(l[11:])), 64); err == nil {
				sec := int64(ts)
				t := time.Unix(sec, int64((ts-float64(sec))*1e9))
				st.delays = append(st.delays, float64(now.Sub(t).Microseconds())/1000)
			}
		case len(l) <= 2:
			isEvent = false
		}
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:5038", "AMI address")
	n := flag.Int("n", 10, "clients")
	user := flag.String("user", "admin", "AMI user")
	secret := flag.String("secret", "secret", "AMI secret")
	dur := flag.Duration("duration", 0, "stop after this long (0: at SIGTERM)")
	ready := flag.String("ready", "", "file to create once every client is logged in")
	flag.Parse()
	sts := make([]*stats, *n)
	stop := make(chan struct{})
	var wg, logged sync.WaitGroup
	logged.Add(*n)
	for i := range sts {
		sts[i] = &stats{}
		wg.Add(1)
		go func(st *stats) { defer wg.Done(); client(*addr, *user, *secret, st, stop, &logged) }(sts[i])
	}
	logged.Wait()
	for _, st := range sts {
		if st.err != nil {
			fmt.Fprintln(os.Stderr, "amiload:", st.err)
			os.Exit(1)
		}
	}
	if *ready != "" {
		_ = os.WriteFile(*ready, nil, 0o644)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	if *dur > 0 {
		select {
		case <-sig:
		case <-time.After(*dur):
		}
	} else {
		<-sig
	}
	close(stop)
	wg.Wait()
	var all []float64
	total := 0
	var first, last time.Time
	for _, st := range sts {
		total += st.events
		all = append(all, st.delays...)
		if !st.first.IsZero() && (first.IsZero() || st.first.Before(first)) {
			first = st.first
		}
		if st.last.After(last) {
			last = st.last
		}
	}
	slices.Sort(all)
	q := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(p*float64(len(all))))]
	}
	rate := 0.0
	if w := last.Sub(first).Seconds(); w > 0 {
		rate = float64(total) / w
	}
	fmt.Printf("clients=%d events=%d events_per_s=%.0f delay_p50_ms=%.2f delay_p99_ms=%.2f delay_max_ms=%.2f\n",
		*n, total, rate, q(0.50), q(0.99), q(1))
}
