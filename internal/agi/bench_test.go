package agi

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
)

// ivr10 is a FastAGI script of 10 commands ending in HANGUP.
var ivr10 = []string{"ANSWER", `SET VARIABLE CUSTOMER "42 b"`, "GET VARIABLE CUSTOMER", "GET VARIABLE CALLERID(num)",
	"CHANNEL STATUS", "NOOP", `VERBOSE "step" 3`, "GET FULL VARIABLE ${CUSTOMER}-${EXTEN}", "NOOP", "HANGUP"}

// BenchmarkFastAGICalls: calls that each open a FastAGI session, answer,
// run 10 commands and hang up, many at once (calls/s is the figure).
func BenchmarkFastAGICalls(b *testing.B) {
	var bad atomic.Int64
	srv := newFastAGI(b, func(c *agiConn) {
		for _, cmd := range ivr10 {
			if r := c.cmd(cmd); !strings.HasPrefix(r, "200 ") {
				bad.Add(1)
				return
			}
		}
	})
	p := newTestPBX(b, planFor("agi://"+srv.addr), Options{})
	ring := func(o *channel.Options) { o.State = channel.StateRing }
	b.ReportAllocs()
	b.SetParallelism(16)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ch, _, done := p.start("1", ring)
			<-done
			if agistatus(ch) != "HANGUP" {
				bad.Add(1)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
	if n := bad.Load(); n > 0 {
		b.Fatalf("%d calls went wrong", n)
	}
}

// BenchmarkNOOP: NOOP round trips within one FastAGI session, the script
// waiting for each reply as AGI libraries do.
func BenchmarkNOOP(b *testing.B) {
	release := make(chan struct{})
	srv := newFastAGI(b, func(c *agiConn) {
		<-release
		for i := 0; i < b.N; i++ {
			if c.cmd("NOOP") != "200 result=0\n" {
				b.Error("bad reply")
				return
			}
		}
	})
	p := newTestPBX(b, planFor("agi://"+srv.addr), Options{})
	b.ReportAllocs()
	_, _, done := p.start("1", nil)
	time.Sleep(50 * time.Millisecond) // let the session start
	b.ResetTimer()
	start := time.Now()
	close(release)
	<-done
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "NOOP/s")
}
