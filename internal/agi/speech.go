package agi

import (
	"fmt"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/apps"
	"github.com/entvoice/entvoice/internal/speech"
)

// The SPEECH commands of res_agi.c (handle_speech*): the session has one
// speech object of its own (agi->speech, not the dialplan's), destroyed
// with the session. Every command answers "200 result=0" when there is no
// object or the engine refused, "200 result=1" when it worked.

// destroySpeech is run_agi's ast_speech_destroy at the end of a session.
func (s *session) destroySpeech() {
	if s.speech != nil {
		_ = s.speech.Close()
		s.speech = nil
	}
}

// SPEECH CREATE <engine>: result=1 with a new object; result=0 when one
// exists already or the engine is unknown or unavailable (logged, with
// the reason: a missing model names what is missing).
func cmdSpeechCreate(s *session, argv []string) cmdResult {
	if s.speech != nil {
		s.reply("0")
		return resultSuccess
	}
	r, err := s.a.opts.Speech.Create(s.e, argAt(argv, 2))
	if err != nil {
		s.log.Warn("SPEECH CREATE failed", "engine", argAt(argv, 2), "err", err)
		s.reply("0")
		return resultSuccess
	}
	s.speech = r
	s.reply("1")
	return resultSuccess
}

// SPEECH SET <name> <value>: result=1 whenever there is an object, as
// ast_speech_change's result is not looked at; a bad setting is logged.
func cmdSpeechSet(s *session, argv []string) cmdResult {
	if len(argv) != 4 {
		return resultShowUsage
	}
	if s.speech == nil {
		s.reply("0")
		return resultSuccess
	}
	if err := s.speech.Set(argv[2], argv[3]); err != nil {
		s.log.Warn("SPEECH SET refused", "name", argv[2], "value", argv[3], "err", err)
	}
	s.reply("1")
	return resultSuccess
}

func cmdSpeechDestroy(s *session, _ []string) cmdResult {
	if s.speech == nil {
		s.reply("0")
		return resultSuccess
	}
	s.destroySpeech()
	s.reply("1")
	return resultSuccess
}

// speechGrammar is the four grammar commands: argc words, then the
// recognizer call; its error (a syntax error with file:line, an unknown
// grammar) is logged and answered result=0.
func speechGrammar(argc int, what string, do func(s *session, argv []string) error) func(*session, []string) cmdResult {
	return func(s *session, argv []string) cmdResult {
		if len(argv) != argc {
			return resultShowUsage
		}
		if s.speech == nil {
			s.reply("0")
			return resultSuccess
		}
		if err := do(s, argv); err != nil {
			s.log.Warn("SPEECH "+what+" failed", "grammar", argv[3], "err", err)
			s.reply("0")
			return resultSuccess
		}
		s.reply("1")
		return resultSuccess
	}
}

var (
	cmdSpeechLoadGrammar = speechGrammar(5, "LOAD GRAMMAR", func(s *session, argv []string) error {
		return s.a.opts.Speech.LoadGrammar(s.e, s.speech, argv[3], argv[4])
	})
	cmdSpeechUnloadGrammar = speechGrammar(4, "UNLOAD GRAMMAR", func(s *session, argv []string) error {
		return s.speech.UnloadGrammar(argv[3])
	})
	cmdSpeechActivateGrammar = speechGrammar(4, "ACTIVATE GRAMMAR", func(s *session, argv []string) error {
		return s.speech.ActivateGrammar(argv[3])
	})
	cmdSpeechDeactivateGrammar = speechGrammar(4, "DEACTIVATE GRAMMAR", func(s *session, argv []string) error {
		return s.speech.DeactivateGrammar(argv[3])
	})
)

// SPEECH RECOGNIZE <prompt> <timeout> [<offset>] plays prompt (from sample
// offset) while listening, as handle_speechrecognize does:
//
//   - speech stops the prompt (endpos is where it stopped, in samples;
//     0 when it was not interrupted);
//   - timeout, in seconds, counts from the end of the prompt (0: none) and
//     ends the command even while the caller speaks, as in Asterisk;
//   - any DTMF digit ends it.
//
// Replies, byte for byte as res_agi.c builds them:
//
//	200 result=1 (speech) endpos=N results=K score0=S text0="T" grammar0=G ...
//	200 result=1 (digit) digit=D endpos=N
//	200 result=1 (timeout) endpos=N
//	200 result=1 (hangup) endpos=N
//	200 result=0            no speech object
//
// A recognition that ends without speech (no input, no match, engine
// error such as every decoder busy) is "(speech)" with results=0.
func cmdSpeechRecognize(s *session, argv []string) cmdResult {
	if len(argv) < 4 {
		return resultShowUsage
	}
	r := s.speech
	if r == nil {
		s.reply("0")
		return resultSuccess
	}
	prompt := argv[2]
	timeout := time.Duration(atoi(argv[3])) * time.Second
	offset := int64(0)
	if len(argv) == 5 {
		offset = int64(atoi(argv[4]))
	}
	m, err := s.mediaSession()
	if err != nil {
		s.reply("1", "(hangup)", "endpos=0")
		return resultSuccess
	}
	listening := true
	if st := r.State(); st == speech.StateNotReady || st == speech.StateDone {
		if err := r.Start(); err != nil {
			// ast_speech_start cannot fail. Here, with no active
			// grammar, nothing is recognised: the prompt plays and the
			// answer is (speech) with no results, never a wait forever.
			s.log.Warn("SPEECH RECOGNIZE: recognition not started", "err", err)
			listening = false
		}
	}
	l := apps.NewListener(s.e, m, r, s.a.opts.Sounds)
	defer s.restoreEAGISink()
	defer l.Close()
	l.Play(prompt, offset)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()

	var (
		reason  string
		digit   rune
		endpos  int64
		started time.Time
		results []speech.Result
	)
	for reason == "" {
		select {
		case <-s.e.Ctx.Done():
			reason = "hangup"
			continue
		case d, ok := <-m.DTMF():
			if !ok {
				reason = "hangup"
				continue
			}
			reason, digit = "dtmf", d.Digit
			continue
		case <-l.Wake():
		case <-l.Played():
		case <-r.Done():
		case <-tick.C:
		}
		if timeout > 0 && !started.IsZero() && time.Since(started) >= timeout {
			reason = "timeout"
			continue
		}
		if l.TakeQuiet() && l.Playing() {
			endpos = l.Stop()
		}
		if !listening {
			if !l.Playing() && timeout <= 0 {
				reason = "speech"
			}
		}
		switch r.State() {
		case speech.StateReady, speech.StateNotReady:
			if timeout > 0 && started.IsZero() && !l.Playing() {
				started = time.Now()
				r.StartInputTimers()
			}
		case speech.StateDone:
			results = r.Results()
			reason = "speech"
		}
	}
	l.Close()
	if reason == "dtmf" || reason == "timeout" || reason == "hangup" {
		r.Stop()
	}
	switch reason {
	case "speech":
		var b strings.Builder
		for i, res := range results {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "score%d=%d text%d=\"%s\" grammar%d=%s", i, res.Score, i, res.Text, i, res.Grammar)
		}
		s.reply("1", "(speech)", fmt.Sprintf("endpos=%d", endpos), fmt.Sprintf("results=%d", len(results)), b.String())
	case "dtmf":
		s.reply("1", "(digit)", "digit="+string(digit), fmt.Sprintf("endpos=%d", endpos))
	default:
		s.reply("1", "("+reason+")", fmt.Sprintf("endpos=%d", endpos))
	}
	return resultSuccess
}
