package ami

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/events"
)

// BenchmarkFanOut measures event fan-out to 10 logged-in AMI clients
// reading over loopback TCP: one op is one event published on the bus
// (formatted once, written to 10 sockets). events/s is the rate of events
// the clients received.
func BenchmarkFanOut(b *testing.B) {
	const clients = 10
	bus := events.New()
	s, err := New(Options{Listen: "127.0.0.1:0", Bus: bus, Users: StaticUsers{"admin": {Name: "admin", Secret: "s", Read: ClassAll, Write: ClassAll, Events: -1, MultiLogin: true}}, QueueSize: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var got atomic.Int64
	var wg sync.WaitGroup
	var conns []net.Conn
	for i := 0; i < clients; i++ {
		c, err := net.Dial("tcp", s.Addrs()[0].String())
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		r := bufio.NewReaderSize(c, 64<<10)
		if _, err := c.Write([]byte("Action: Login\r\nUsername: admin\r\nSecret: s\r\nEvents: call\r\n\r\n")); err != nil {
			b.Fatal(err)
		}
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				b.Fatal(err)
			}
			if strings.HasPrefix(l, "Message: Authentication accepted") {
				break
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				l, err := r.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(l) > 6 && string(l[:6]) == "Event:" {
					got.Add(1)
				}
			}
		}()
	}
	// Wait until every session is registered for events.
	for len(*s.sessions.Load()) < clients {
		time.Sleep(time.Millisecond)
	}
	snap := &events.Snapshot{Channel: "PJSIP/1001-00000001", State: 6, StateDesc: "Up", CallerIDNum: "1001",
		CallerIDName: "Alice", Language: "en", Context: "from-internal", Exten: "100", Priority: 1,
		UniqueID: "1700000000.1", LinkedID: "1700000000.1"}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		bus.Publish(events.Event{Kind: events.Newstate, Channel: snap})
		if i%1024 == 1023 {
			// Keep the clients within 4,000 events: the benchmark measures
			// fan-out, not drops.
			for int64(i+1)*clients-got.Load() > 4000*clients {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}
	want := int64(b.N) * clients
	deadline := time.Now().Add(30 * time.Second)
	for got.Load() < want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	b.StopTimer()
	if got.Load() < want {
		b.Fatalf("clients got %d of %d events (kicked %d)", got.Load(), want, s.Kicked.Load())
	}
	b.ReportMetric(float64(got.Load())/el.Seconds(), "events/s")
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
}
