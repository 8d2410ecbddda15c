package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/testpeer"
)

const appsPlan = `[apps]
exten => 600,1,Answer()
 same => n,Record(msg.wav,0,2,q)
 same => n,Set(CDR(userfield)=${RECORD_STATUS}:${RECORDED_FILE})
 same => n,Hangup()
exten => 601,1,Answer()
 same => n,Echo()
exten => 603,1,Answer()
 same => n,MusicOnHold(,2)
 same => n,StartMusicOnHold(nosuchclass)
 same => n,Wait(1)
 same => n,StopMusicOnHold()
 same => n,Wait(1)
 same => n,Hangup()
exten => 602,1,Answer()
 same => n,Playback(no-such-prompt)
 same => n,Set(FIRST=${PLAYBACKSTATUS})
 same => n,Playback(beep)
 same => n,Set(CDR(userfield)=${FIRST}-${PLAYBACKSTATUS})
 same => n,Hangup()
`

const appsUsers = `users:
  - {name: "1001", secret: pass1001, context: apps}
shutdown: {grace: 1s}
`

func dialApp(t *testing.T, n *testNode, exten string) (*phone, *call) {
	t.Helper()
	return dialTone(t, n, exten, 1000)
}

// dialTone calls exten as 1001 sending a tone (0: silence) until the
// call is given something to say.
func dialTone(t *testing.T, n *testNode, exten string, tone float64) (*phone, *call) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := n.phone(t, "1001", "pass1001", testpeer.PCMU, tone)
	c, code, err := p.dial(ctx, exten)
	if err != nil || code != 200 {
		t.Fatalf("dial %s: code %d err %v", exten, code, err)
	}
	return p, c
}

// TestRecord: Record stops at its maximum duration with TIMEOUT and the
// file holds the caller's tone.
func TestRecord(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: appsUsers, dialplan: appsPlan})
	dialApp(t, n, "600")
	n.waitIdle(t)
	rows := n.cdrs(t, 1)
	want := "TIMEOUT:" + filepath.Join(n.DataDir, "recordings", "msg")
	if len(rows) != 1 || rows[0].UserField != want {
		t.Fatalf("CDRs %+v, want userfield %q", rows, want)
	}
	f, err := os.Open(filepath.Join(n.DataDir, "recordings", "msg.wav"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pcm, err := media.ReadWAV(f)
	if err != nil {
		t.Fatal(err)
	}
	if secs := float64(len(pcm)) / 8000; secs < 1.5 || secs > 2.5 {
		t.Errorf("recorded %.2f s, want about 2", secs)
	}
	if a := testpeer.Goertzel(pcm[len(pcm)/2:], 8000, 1000); a < 3000 {
		t.Errorf("recording lacks the caller's 1 kHz tone: amplitude %.0f", a)
	}
}

// TestEcho: the caller hears its own tone back.
func TestEcho(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: appsUsers, dialplan: appsPlan})
	p, c := dialApp(t, n, "601")
	time.Sleep(1500 * time.Millisecond)
	if a := p.heardTone(1000); a < 3000 {
		t.Errorf("echo: 1 kHz amplitude %.0f (%d samples heard)", a, p.heardSamples())
	}
	c.hangup(context.Background())
	n.waitIdle(t)
}

// TestMusicOnHold: MusicOnHold plays the default class (with no files in
// data_dir/moh/default, the synthesised tune) for its duration;
// StartMusicOnHold of a class that does not exist plays default until
// StopMusicOnHold, then the caller hears silence.
func TestMusicOnHold(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: appsUsers, dialplan: appsPlan})
	p, _ := dialApp(t, n, "603")
	n.waitIdle(t)
	heard := p.heardPCM()
	level := func(from, to time.Duration) float64 {
		a, b := int(from.Seconds()*8000), int(to.Seconds()*8000)
		if b > len(heard) {
			b = len(heard)
		}
		if a >= b {
			return 0
		}
		return meanAbs(heard[a:b])
	}
	if l := level(500*time.Millisecond, 1800*time.Millisecond); l < 300 {
		t.Errorf("MusicOnHold: level %.0f in its first seconds (%d samples heard)", l, len(heard))
	}
	if l := level(2300*time.Millisecond, 2900*time.Millisecond); l < 300 {
		t.Errorf("StartMusicOnHold: level %.0f", l)
	}
	if l := level(3300*time.Millisecond, 3800*time.Millisecond); l > 100 {
		t.Errorf("after StopMusicOnHold: level %.0f, want silence", l)
	}
}

func meanAbs(pcm []int16) float64 {
	var sum float64
	for _, s := range pcm {
		if s < 0 {
			s = -s
		}
		sum += float64(s)
	}
	return sum / float64(len(pcm))
}

// TestPlaybackStatus: a missing prompt sets PLAYBACKSTATUS=FAILED and the
// call goes on; a present one SUCCESS.
func TestPlaybackStatus(t *testing.T) {
	if _, err := os.Stat("/usr/share/asterisk/sounds"); err != nil {
		t.Skip("Asterisk sounds not installed")
	}
	n := startNode(t, nodeSpec{yaml: appsUsers, dialplan: appsPlan})
	dialApp(t, n, "602")
	n.waitIdle(t)
	rows := n.cdrs(t, 1)
	if len(rows) != 1 || rows[0].UserField != "FAILED-SUCCESS" {
		t.Fatalf("CDRs %+v, want userfield FAILED-SUCCESS", rows)
	}
}

// TestGracefulShutdown: on shutdown new INVITEs get 503, a live call is
// hung up after the grace period, and its CDR is stored.
func TestGracefulShutdown(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: appsUsers, dialplan: appsPlan})
	dialApp(t, n, "601")
	stopped := make(chan struct{})
	go func() {
		n.Shutdown(time.Second)
		close(stopped)
	}()
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	late := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	if _, code, _ := late.dial(ctx, "601"); code != 503 {
		t.Errorf("INVITE while draining: %d, want 503", code)
	}
	<-stopped
	// The store is closed now: read the CDR from the database file.
	st := reopenStore(t, n.DataDir)
	rows := listCDRs(t, st)
	if len(rows) != 1 || rows[0].Disposition != "ANSWERED" || rows[0].LastApp != "Echo" {
		t.Fatalf("CDRs after shutdown %+v", rows)
	}
}
