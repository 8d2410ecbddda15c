package moh

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/media/mediatest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func writeWAV(t *testing.T, path string, pcm []int16) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := media.NewWAVWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(pcm); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "musiconhold.conf")
	writeFile(t, conf, `[general]
cachertclasses = yes
preferchannelclass = no

[default]
mode = files
directory = moh

[queue](!)
mode = files
directory = /srv/moh/queue
sort = random

[sales](queue)
loop_last = yes
announcement = queue-thankyou
digit = #
answeredonly = yes
kill_method = process

[list]
mode = playlist
entry = /srv/moh/a
entry => /srv/moh/b.wav
`)
	cfg, err := LoadConfig(conf, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PreferChannelClass || len(cfg.Classes) != 3 {
		t.Fatalf("config %+v", cfg)
	}
	def, sales, list := cfg.Classes[0], cfg.Classes[1], cfg.Classes[2]
	if def.Name != "default" || def.Directory != filepath.Join(dir, "moh") || def.Sort != SortAlpha || def.Line != 5 {
		t.Errorf("default %+v", def)
	}
	if sales.Directory != "/srv/moh/queue" || sales.Sort != SortRandom || !sales.LoopLast || sales.Announcement != "queue-thankyou" ||
		sales.Digit != "#" || !sales.AnsweredOnly {
		t.Errorf("sales %+v", sales)
	}
	if list.Mode != ModePlaylist || strings.Join(list.Entries, ",") != "/srv/moh/a,/srv/moh/b.wav" {
		t.Errorf("list %+v", list)
	}
	if cfg, err := LoadConfig(conf, "/var/lib/asterisk"); err != nil || cfg.Classes[0].Directory != "/var/lib/asterisk/moh" {
		t.Errorf("base dir: %v %+v", err, cfg)
	}

	for _, tc := range []struct{ text, want string }{
		{"[c]\nmode=custom\napplication=/usr/bin/mpg123\n", "bad.conf:2: mode=custom runs an external decoder"},
		{"[c]\nmode=quietmp3\n", "bad.conf:2: mode=quietmp3"},
		{"[c]\nmode=radio\n", "bad.conf:2: unknown mode"},
		{"[c]\ndirectory=x\napplication=/bin/x\n", "bad.conf:3: application= belongs to mode=custom"},
		{"[c]\ndirectory=x\nformat=ulaw\n", "bad.conf:3: format= belongs"},
		{"[c]\nmode=playlist\nentry=http://example.com/a.ulaw\n", "bad.conf:3: playlist entry \"http://example.com/a.ulaw\": URLs"},
		{"[c]\nmode=playlist\nentry=relative/a\n", "bad.conf:3: playlist entry \"relative/a\" must be an absolute path"},
		{"[c]\nmode=playlist\n", "bad.conf:1: class [c]: mode=playlist needs at least one entry="},
		{"[c]\nmode=files\n", "bad.conf:1: class [c]: mode=files needs a directory="},
		{"[c]\ndirectory=x\nsort=size\n", "bad.conf:3: unknown sort \"size\""},
		{"[c]\ndirectory=x\ndigit=12\n", "bad.conf:3: digit \"12\""},
		{"[c]\ndirectory=x\nloop_last=perhaps\n", "bad.conf:3: loop_last: \"perhaps\" is not a boolean"},
		{"[c]\ndirectory=x\nvolume=3\n", "bad.conf:3: unknown key \"volume\" in class [c]"},
		{"[general]\nfoo=1\n", "bad.conf:2: unknown [general] key \"foo\""},
		{"[c]\ndirectory=x\n[c]\ndirectory=y\n", "bad.conf:3: class [c] defined twice"},
	} {
		bad := filepath.Join(dir, "bad.conf")
		writeFile(t, bad, tc.text)
		if _, err := LoadConfig(bad, ""); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.text, err, tc.want)
		}
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b.sln", "a.ulaw", "a.wav", "c.gsm", ".hidden.wav", "notes.txt", "C.alaw"} {
		writeFile(t, filepath.Join(dir, name), "")
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.wav"), 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := ClassConfig{Name: "x", Mode: ModeFiles, Directory: dir}.files()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	if got := strings.Join(names, ","); got != "C.alaw,a.wav,b.sln" {
		t.Fatalf("files %s", got)
	}
	pl, err := ClassConfig{Mode: ModePlaylist, Entries: []string{filepath.Join(dir, "a"), filepath.Join(dir, "b.sln"), filepath.Join(dir, "c")}}.files()
	if err != nil || len(pl) != 2 || filepath.Base(pl[0]) != "a.wav" || filepath.Base(pl[1]) != "b.sln" {
		t.Fatalf("playlist %v %v", pl, err)
	}
	if _, err := (ClassConfig{Name: "x", Mode: ModeFiles, Directory: filepath.Join(dir, "none")}).files(); err == nil {
		t.Fatal("missing directory accepted")
	}
}

func TestOrder(t *testing.T) {
	c := &Class{files: []string{"a", "b", "c"}, cfg: ClassConfig{Sort: SortAlpha}}
	if c.first() != 0 || c.after(0) != 1 || c.after(2) != 0 {
		t.Fatal("alpha order")
	}
	c.cfg.LoopLast = true
	if c.after(1) != 2 || c.after(2) != 2 {
		t.Fatal("loop_last")
	}
	c.cfg = ClassConfig{Sort: SortRandom}
	for range 100 {
		if c.after(1) == 1 {
			t.Fatal("random repeats a file")
		}
	}
	c.cfg.Sort = SortRandStart
	starts := map[int]bool{}
	for range 100 {
		starts[c.first()] = true
	}
	if len(starts) != 3 || c.after(0) != 1 {
		t.Fatalf("randstart starts %v", starts)
	}
}

// heardSequence returns the dominant of freqs in each 100 ms of pcm,
// collapsing repeats and ignoring silence.
func heardSequence(pcm []int16, freqs ...float64) []float64 {
	var seq []float64
	for off := 0; off+800 <= len(pcm); off += 800 {
		blk := pcm[off : off+800]
		if media.Energy(blk) < 500 {
			continue
		}
		for _, f := range freqs {
			if media.DetectTone(blk, media.SampleRate, f) > 0.8 && (len(seq) == 0 || seq[len(seq)-1] != f) {
				seq = append(seq, f)
			}
		}
	}
	return seq
}

// TestClassStream: listeners of a class hear its files in order, looped,
// the same stream whatever their codec; a class without listeners stops.
func TestClassStream(t *testing.T) {
	env := mediatest.NewEnv(t)
	dir := t.TempDir()
	writeWAV(t, filepath.Join(dir, "1.wav"), mediatest.Tone(500, 8000, 4000)) // 500 ms each
	writeWAV(t, filepath.Join(dir, "2.wav"), mediatest.Tone(900, 8000, 4000))
	writeWAV(t, filepath.Join(dir, "3.wav"), mediatest.Tone(1300, 8000, 4000))
	p, err := New(env.Pacer, &Config{Classes: []ClassConfig{{Name: "tones", Mode: ModeFiles, Directory: dir, Sort: SortAlpha}}}, Options{Logger: env.Log})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got := strings.Join(p.Classes(), ","); got != "tones,default" {
		t.Fatalf("classes %s", got)
	}
	c, _ := p.Class("tones")
	var heard [2]mediatest.Collector
	var ls [2]*Listener
	for i, codec := range []media.Codec{media.PCMU, media.PCMA} {
		phone, pbx := env.Pair(t, codec)
		phone.SetSink(heard[i].Sink)
		if ls[i], err = c.Attach(pbx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Attach(pbx); err != ErrAttached {
			t.Fatalf("second attach: %v", err)
		}
	}
	pcm := heard[0].WaitFor(t, 8000*3, 5*time.Second)
	seq := heardSequence(pcm, 500, 900, 1300)
	want := []float64{500, 900, 1300, 500, 900, 1300}
	if len(seq) < 5 || fmt.Sprint(seq[:5]) != fmt.Sprint(want[:5]) && fmt.Sprint(seq[:5]) != fmt.Sprint(want[1:6]) {
		t.Fatalf("heard %v, want the files in order, looped", seq)
	}
	alaw := heardSequence(heard[1].Samples(), 500, 900, 1300)
	t.Logf("PCMU listener heard %v, PCMA %v", seq, alaw)
	if len(alaw) < 4 || fmt.Sprint(alaw[:4]) != fmt.Sprint(seq[:4]) {
		t.Fatalf("PCMA listener heard %v, PCMU %v", alaw, seq)
	}
	if st := c.Stats(); st.Listeners != 2 || st.Sent < 100 {
		t.Fatalf("stats %+v", st)
	}
	ls[0].Stop()
	ls[0].Stop()
	ls[1].Stop()
	<-ls[1].Done()
	time.Sleep(300 * time.Millisecond) // the task ends at its next tick
	sent := c.Stats().Sent
	c.mu.Lock()
	running := c.run != nil
	c.mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	if running || c.Stats().Sent != sent {
		t.Fatal("class still streaming without listeners")
	}
	// It resumes where it stopped.
	phone, pbx := env.Pair(t, media.PCMU)
	var again mediatest.Collector
	phone.SetSink(again.Sink)
	if _, err := c.Attach(pbx); err != nil {
		t.Fatal(err)
	}
	again.WaitFor(t, 1600, 2*time.Second)
}

// TestSpreadAndClose: listeners are spread over the 20 slots; a closed
// session leaves; Close ends everything.
func TestSpreadAndClose(t *testing.T) {
	env := mediatest.NewEnv(t)
	p, err := New(env.Pacer, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := p.Class("default")
	if !ok || len(c.Files()) != 0 {
		t.Fatal("no synthesised default class")
	}
	var ls []*Listener
	var heard mediatest.Collector
	for i := range 40 {
		phone, pbx := env.Pair(t, media.PCMA)
		if i == 0 {
			phone.SetSink(heard.Sink)
		}
		l, err := c.Attach(pbx)
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	c.mu.Lock()
	for g := range c.groups {
		if len(c.groups[g]) != 2 {
			t.Errorf("slot %d has %d listeners", g, len(c.groups[g]))
		}
	}
	c.mu.Unlock()
	pcm := heard.WaitFor(t, 8000, 3*time.Second)
	if e := media.Energy(pcm); e < 300 {
		t.Fatalf("synthesised tune too quiet: rms %.0f", e)
	}
	_ = ls[5].sess.Close()
	select {
	case <-ls[5].Done():
	case <-time.After(time.Second):
		t.Fatal("listener of a closed session not dropped")
	}
	if n := c.Stats().Listeners; n != 39 {
		t.Fatalf("%d listeners", n)
	}
	p.Close()
	for _, l := range ls {
		<-l.Done()
	}
	if _, err := c.Attach(env.Session(t)); err != ErrClosed {
		t.Fatalf("attach after close: %v", err)
	}
}

// TestAttachRace: listeners come and go at any time (run under -race).
func TestAttachRace(t *testing.T) {
	env := mediatest.NewEnv(t)
	dir := t.TempDir()
	writeWAV(t, filepath.Join(dir, "a.wav"), mediatest.Tone(600, 6000, 1200))
	writeWAV(t, filepath.Join(dir, "b.wav"), mediatest.Tone(800, 6000, 900))
	p, err := New(env.Pacer, &Config{Classes: []ClassConfig{{Name: "x", Mode: ModeFiles, Directory: dir, Sort: SortRandom}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, _ := p.Class("x")
	var wg sync.WaitGroup
	for g := range 8 {
		_, s := env.Pair(t, []media.Codec{media.PCMU, media.PCMA}[g%2])
		wg.Go(func() {
			for i := range 40 {
				l, err := c.Attach(s)
				if err != nil {
					t.Error(err)
					return
				}
				time.Sleep(time.Duration(i%7) * time.Millisecond)
				l.Stop()
			}
		})
	}
	wg.Wait()
	if n := c.Stats().Listeners; n != 0 {
		t.Fatalf("%d listeners left", n)
	}
}

func TestTune(t *testing.T) {
	pcm := Tune()
	if len(pcm) != 16*media.SampleRate {
		t.Fatalf("%d samples", len(pcm))
	}
	peak := 0
	for _, v := range pcm {
		peak = max(peak, int(v), -int(v))
	}
	if peak < 6000 || peak > 30000 {
		t.Fatalf("peak %d", peak)
	}
	// Seamless loop: it ends and starts near silence.
	if abs(int(pcm[0])) > 200 || abs(int(pcm[len(pcm)-1])) > 200 {
		t.Fatalf("edges %d %d", pcm[0], pcm[len(pcm)-1])
	}
}

func abs(x int) int { return max(x, -x) }

// TestDefaultScript: scripts/moh-default.sh makes a class the player
// accepts.
func TestDefaultScript(t *testing.T) {
	if _, err := exec.LookPath("sox"); err != nil {
		t.Skip("sox not installed: scripts/moh-default.sh not tried")
	}
	dir := filepath.Join(t.TempDir(), "moh")
	out, err := exec.Command("../../../scripts/moh-default.sh", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("moh-default.sh: %v\n%s", err, out)
	}
	env := mediatest.NewEnv(t)
	p, err := New(env.Pacer, DefaultConfig(dir), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, _ := p.Class("default")
	if len(c.Files()) != 3 {
		t.Fatalf("files %v", c.Files())
	}
	for _, f := range c.Files() {
		pcm, err := media.LoadFile(f)
		if err != nil || len(pcm) != 16*media.SampleRate || media.Energy(pcm) < 100 {
			t.Fatalf("%s: %d samples, %v", f, len(pcm), err)
		}
	}
}
