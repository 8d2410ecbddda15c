// Package amd is answering-machine detection: the state machine of
// Asterisk's app_amd.c (Asterisk 22), re-implemented from its documented
// behaviour, as a pure analyser fed 8 kHz linear frames (Analyzer) plus
// Run, which drives it from a media.Session's received audio with
// app_amd.c's timing rules. LoadConfig reads amd.conf.
//
// The verdict and its cause are formatted exactly as Asterisk sets the
// AMDSTATUS and AMDCAUSE channel variables, e.g. MACHINE with
// "INITIALSILENCE-2500-2500", "MAXWORDS-3-2", "LONGGREETING-1500-1500" or
// "MAXWORDLENGTH-5000"; HUMAN with "HUMAN-800-800"; NOTSURE with
// "TOOLONG-5000" or "NOAUDIODATA-0"; HANGUP with an empty cause.
package amd

import (
	"fmt"
	"time"

	"github.com/entvoice/entvoice/internal/media"
)

// Status is the AMDSTATUS value.
type Status string

// AMDSTATUS values (app_amd.c).
const (
	Machine Status = "MACHINE"
	Human   Status = "HUMAN"
	NotSure Status = "NOTSURE"
	Hangup  Status = "HANGUP"
)

// Result is a verdict: AMDSTATUS and AMDCAUSE.
type Result struct {
	Status Status
	Cause  string
}

// Params are AMD()'s arguments, in milliseconds except MaximumNumberOfWords
// (a count) and SilenceThreshold (a mean absolute sample value, 0..32767,
// as Asterisk's dsp.c compares it).
type Params struct {
	InitialSilence       int // silence before the greeting longer than this: MACHINE
	Greeting             int // voice in the greeting longer than this: MACHINE
	AfterGreetingSilence int // silence after the greeting longer than this: HUMAN
	TotalAnalysisTime    int // no verdict within this: NOTSURE
	MinimumWordLength    int // voice this long is a word
	BetweenWordsSilence  int // silence this long separates words
	MaximumNumberOfWords int // more words than this: MACHINE
	SilenceThreshold     int // a frame whose mean |sample| is below this is silence
	MaximumWordLength    int // one word longer than this: MACHINE
}

// DefaultParams are app_amd.c's built-in defaults (Asterisk 22; before
// Asterisk 16 maximumNumberOfWords was 3 and compared with >=).
func DefaultParams() Params {
	return Params{
		InitialSilence:       2500,
		Greeting:             1500,
		AfterGreetingSilence: 800,
		TotalAnalysisTime:    5000,
		MinimumWordLength:    100,
		BetweenWordsSilence:  50,
		MaximumNumberOfWords: 2,
		SilenceThreshold:     256,
		MaximumWordLength:    5000,
	}
}

// MaxWait is how long app_amd.c waits for a frame before it accounts for
// the wait without audio: twice the smallest of the timing parameters, at
// most 2 x 50 ms (dfltMaxWaitTimeForFrame).
func (p Params) MaxWait() time.Duration {
	m := 50
	for _, v := range []int{p.InitialSilence, p.Greeting, p.AfterGreetingSilence, p.TotalAnalysisTime, p.MinimumWordLength, p.BetweenWordsSilence} {
		m = min(m, v)
	}
	return time.Duration(2*max(m, 0)) * time.Millisecond
}

// word states of app_amd.c.
const (
	inWord = iota
	inSilence
)

// Analyzer is app_amd.c's isAnsweringMachine loop body for one call. Feed
// it every received audio frame with Frame, and the waits in which no
// frame came with NoFrame; the first call that returns done=true gives the
// verdict, and later calls return it again. Not safe for concurrent use.
type Analyzer struct {
	p Params

	totalSilence int // dsp.c's running silence (ms), reset by any loud frame

	inInitialSilence bool
	inGreeting       bool
	voiceDuration    int
	silenceDuration  int
	totalTime        int
	words            int
	state            int
	consecutiveVoice int
	audioFrames      int

	done bool
	res  Result
}

// New returns an analyser with parameters p.
func New(p Params) *Analyzer {
	return &Analyzer{p: p, inInitialSilence: true, state: inWord}
}

// Result returns the verdict and whether there is one yet.
func (a *Analyzer) Result() (Result, bool) { return a.res, a.done }

func (a *Analyzer) finish(s Status, format string, args ...any) (Result, bool) {
	a.done = true
	a.res = Result{Status: s, Cause: fmt.Sprintf(format, args...)}
	return a.res, true
}

// Frame analyses one frame of 8 kHz linear audio (normally 160 samples,
// 20 ms). Its length in ms counts towards TotalAnalysisTime.
func (a *Analyzer) Frame(pcm []int16) (Result, bool) {
	if a.done {
		return a.res, true
	}
	p := &a.p
	a.audioFrames++
	frameMs := len(pcm) / (media.SampleRate / 1000)
	a.totalTime += frameMs
	if a.totalTime >= p.TotalAnalysisTime {
		return a.finish(NotSure, "TOOLONG-%d", a.totalTime)
	}
	// dsp.c __ast_dsp_silence_noise: the frame is silent when its mean
	// absolute sample value is below the threshold; silence accumulates
	// over consecutive silent frames and any loud frame resets it.
	dspSilence := 0
	if media.AverageAmplitude(pcm) < p.SilenceThreshold {
		a.totalSilence += frameMs
		dspSilence = a.totalSilence
	} else {
		a.totalSilence = 0
	}
	if dspSilence > 0 {
		a.silenceDuration = dspSilence
		if a.silenceDuration >= p.BetweenWordsSilence {
			a.state = inSilence
			a.consecutiveVoice = 0
		}
		if a.inInitialSilence && a.silenceDuration >= p.InitialSilence {
			return a.finish(Machine, "INITIALSILENCE-%d-%d", a.silenceDuration, p.InitialSilence)
		}
		if a.inGreeting && a.silenceDuration >= p.AfterGreetingSilence {
			return a.finish(Human, "HUMAN-%d-%d", a.silenceDuration, p.AfterGreetingSilence)
		}
		return Result{}, false
	}
	a.consecutiveVoice += frameMs
	a.voiceDuration += frameMs
	// A word starts when enough voice follows a silence between words.
	if a.consecutiveVoice >= p.MinimumWordLength && a.state == inSilence {
		a.words++
		a.state = inWord
	}
	if a.consecutiveVoice >= p.MaximumWordLength {
		return a.finish(Machine, "MAXWORDLENGTH-%d", a.consecutiveVoice)
	}
	if a.words > p.MaximumNumberOfWords {
		return a.finish(Machine, "MAXWORDS-%d-%d", a.words, p.MaximumNumberOfWords)
	}
	if a.inGreeting && a.voiceDuration >= p.Greeting {
		return a.finish(Machine, "LONGGREETING-%d-%d", a.voiceDuration, p.Greeting)
	}
	if a.voiceDuration >= p.MinimumWordLength {
		a.silenceDuration = 0
	}
	if a.consecutiveVoice >= p.MinimumWordLength && !a.inGreeting {
		// The first word: the greeting has begun.
		a.inInitialSilence = false
		a.inGreeting = true
	}
	return Result{}, false
}

// NoFrame accounts for a wait of waited in which no audio frame came
// (app_amd.c adds the time ast_waitfor waited to the analysis time when
// it returns no voice frame). Silence suppression by the peer lands here.
func (a *Analyzer) NoFrame(waited time.Duration) (Result, bool) {
	if a.done {
		return a.res, true
	}
	a.totalTime += int(waited / time.Millisecond)
	if a.totalTime >= a.p.TotalAnalysisTime {
		return a.finish(NotSure, "TOOLONG-%d", a.totalTime)
	}
	return Result{}, false
}

// Expire gives the verdict when TotalAnalysisTime of wall-clock time has
// passed (app_amd.c checks it before each frame, in case frames stall):
// NOTSURE, with NOAUDIODATA when no audio frame ever came.
func (a *Analyzer) Expire() Result {
	if a.done {
		return a.res
	}
	if a.audioFrames == 0 {
		a.finish(NotSure, "NOAUDIODATA-%d", a.totalTime)
	} else {
		a.finish(NotSure, "TOOLONG-%d", a.totalTime)
	}
	return a.res
}
