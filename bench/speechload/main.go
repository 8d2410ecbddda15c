//go:build pocketsphinx && cgo

// Command speechload measures the speech engine under load, in one
// process, without SIP: N callers each feed a recognizer 20 ms frames of
// 8 kHz G.711-decoded audio in real time (espeak-ng menu words between
// silences, as a caller answering prompts). It reports the real-time
// factor of the decodes (decode time over utterance audio); the latency
// from the end-of-speech event (the frame on which the endpointer decided,
// EndSilence after the last word) to the result, p50/p95/p99/max; the CPU
// the process used on all cores, and so recognitions per core; the
// accuracy and the number of errors (busy decoders, cancellations).
//
// Usage: speechload [-streams 40] [-duration 30s] [-decoders 0] [-end-silence 600ms]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/speech"
	"github.com/entvoice/entvoice/internal/speech/pocketsphinx"
	"github.com/entvoice/entvoice/internal/tts"
)

var words = []string{"sales", "support", "billing", "operator", "two"}

type sample struct {
	latency time.Duration
	ok      bool
	err     error
}

func main() {
	streams := flag.Int("streams", 40, "concurrent callers")
	duration := flag.Duration("duration", 30*time.Second, "load duration")
	decoders := flag.Int("decoders", 0, "decoders (0: one per core)")
	endSilence := flag.Duration("end-silence", speech.DefaultEndSilence, "endpointer end silence")
	rtfRuns := flag.Int("rtf-runs", 20, "decodes per phrase for the single-thread RTF")
	flag.Parse()
	if err := run(*streams, *duration, *decoders, *endSilence, *rtfRuns); err != nil {
		fmt.Fprintln(os.Stderr, "speechload:", err)
		os.Exit(1)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// phone is a G.711 mu-law round trip.
func phone(pcm []int16) []int16 {
	enc := make([]byte, len(pcm))
	media.Encode(media.PCMU, enc, pcm)
	out := make([]int16, len(pcm))
	media.Decode(media.PCMU, out, enc)
	return out
}

func run(streams int, duration time.Duration, decoders int, endSilence time.Duration, rtfRuns int) error {
	log := slog.New(slog.DiscardHandler)
	synth, err := tts.New(tts.Config{Logger: log})
	if err != nil {
		return err
	}
	defer synth.Close()
	voices := []string{"en-us", "en-us+f2", "en-us+m3"}
	type phrase struct {
		word string
		pcm  []int16
	}
	var phrases []phrase
	for _, v := range voices {
		for _, w := range words {
			p, err := synth.Speak(context.Background(), tts.Request{Text: w, Voice: v, Rate: 160})
			if err != nil {
				return err
			}
			phrases = append(phrases, phrase{w, phone(p.PCM)})
		}
	}
	eng, err := pocketsphinx.New(pocketsphinx.Config{Decoders: decoders, Logger: log})
	if err != nil {
		return err
	}
	defer eng.Close()
	menu, err := speech.MenuGrammar(words)
	if err != nil {
		return err
	}
	grammars := []speech.ActiveGrammar{{Name: "menu", Grammar: menu}}
	if decoders <= 0 {
		decoders = runtime.NumCPU()
	}

	// 1. Real-time factor, one decode at a time.
	var audio, busy time.Duration
	for range rtfRuns {
		for _, p := range phrases {
			u := append(append(make([]int16, 2400), p.pcm...), make([]int16, 2400)...)
			t0 := time.Now()
			if _, err := eng.Decode(context.Background(), speech.Utterance{Language: "en", Grammars: grammars, Audio: u}); err != nil {
				return err
			}
			busy += time.Since(t0)
			audio += time.Duration(len(u)) * time.Second / 8000
		}
	}
	fmt.Printf("rtf: %.4f (decode %v for %v of audio, %d utterances of 0.6 s silence + a menu word, one at a time)\n",
		busy.Seconds()/audio.Seconds(), busy.Round(time.Millisecond), audio.Round(time.Millisecond), rtfRuns*len(phrases))

	// 2. N callers in real time.
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var mu sync.Mutex
	var samples []sample
	var wg sync.WaitGroup
	cpu0, wall0 := cpuTime(), time.Now()
	for i := range streams {
		wg.Go(func() {
			r := speech.NewRecognizer(context.Background(), eng, speech.Options{Logger: log,
				Endpoint: speech.EndpointConfig{EndSilence: endSilence}})
			defer r.Close()
			_ = r.LoadGrammar("menu", menu)
			_ = r.ActivateGrammar("menu")
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			// Stagger the callers over the first two seconds.
			select {
			case <-time.After(time.Duration(i) * 2 * time.Second / time.Duration(streams)):
			case <-ctx.Done():
				return
			}
			for n := i; ; n++ {
				p := phrases[n%len(phrases)]
				call := append(append(make([]int16, 8000), p.pcm...), make([]int16, 12000)...)
				if err := r.Start(); err != nil {
					return
				}
				var ended time.Time
				for off := 0; off < len(call) && r.State() == speech.StateReady; off += 160 {
					select {
					case <-tick.C:
					case <-ctx.Done():
						return
					}
					ev, _ := r.Write(call[off:min(off+160, len(call))])
					if ev&speech.EventEndOfSpeech != 0 {
						ended = time.Now()
					}
				}
				if ended.IsZero() {
					continue
				}
				res, _, err := r.Wait(context.Background())
				s := sample{latency: time.Since(ended), err: err, ok: len(res) > 0 && res[0].Text == p.word}
				mu.Lock()
				samples = append(samples, s)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	wall, cpu := time.Since(wall0), cpuTime()-cpu0
	var lats []time.Duration
	okN, errN := 0, 0
	for _, s := range samples {
		lats = append(lats, s.latency)
		if s.ok {
			okN++
		}
		if s.err != nil {
			errN++
		}
	}
	slices.Sort(lats)
	pct := func(p float64) time.Duration {
		if len(lats) == 0 {
			return 0
		}
		return lats[min(len(lats)-1, int(p*float64(len(lats))))].Round(time.Millisecond)
	}
	cores := cpu.Seconds() / wall.Seconds()
	fmt.Printf("load: %d concurrent callers in real time for %v, %d decoders, end silence %v\n", streams, wall.Round(time.Second), decoders, endSilence)
	fmt.Printf("recognitions: %d, correct %d (%.1f%%), errors %d (busy or cancelled)\n", len(samples), okN, 100*float64(okN)/float64(max(len(samples), 1)), errN)
	fmt.Printf("latency end-of-speech event -> result: p50 %v p95 %v p99 %v max %v\n", pct(0.5), pct(0.95), pct(0.99), pct(1))
	fmt.Printf("cpu: %.2f cores of %d used => %.0f concurrent recognitions per core at this load\n", cores, runtime.NumCPU(), float64(streams)/max(cores, 0.01))
	return nil
}
