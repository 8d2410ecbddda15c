package apps

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/prompts"
	"github.com/entvoice/entvoice/internal/q850"
)

// Digit timeouts of Asterisk's pbx loop (pbx.c: rtimeoutms 10 s for the
// first digit, dtimeoutms 5 s between digits).
const (
	responseTimeout = 10 * time.Second
	digitTimeout    = 5 * time.Second
)

const allDigits = "0123456789*#ABCD"

var errNoMedia = errors.New("channel has no media")

// earlyMedia makes sure the caller can hear us: an unanswered channel gets
// 183 Session Progress, as chan_pjsip does when media is written before
// answer.
func earlyMedia(e *pbx.Exec) (*media.Session, error) {
	if e.Ch.IsHungUp() {
		return nil, channel.ErrHangup
	}
	if e.Ch.State() != channel.StateUp {
		_ = e.Ch.Indicate(channel.IndicateProgress)
	}
	s := e.Ch.Media()
	if s == nil {
		return nil, errNoMedia
	}
	return s, nil
}

// streamFile plays one sound by name in the channel's language. It returns
// the escape digit that interrupted it (0 if none), errNotFound for a
// missing file and channel.ErrHangup when the caller hangs up. Digits that
// are not escape digits are read and discarded, as ast_waitstream does.
func (ap *Apps) streamFile(e *pbx.Exec, name, escape string) (rune, error) {
	ap.StopMOH(e.Ch) // a prompt ends music on hold, as Asterisk's streamfile
	src, err := ap.svc.Sounds.Open(name, e.Ch.Language())
	if err != nil {
		if !errors.Is(err, prompts.ErrNoSound) {
			e.Ch.Log().Warn("cannot open sound file", "sound", name, "err", err)
		}
		return 0, errNotFound
	}
	return playSource(e, src, escape)
}

// playSource plays src to the caller until it ends or a digit of escape
// is pressed (returned); other digits are read and discarded.
func playSource(e *pbx.Exec, src media.Source, escape string) (rune, error) {
	s, err := earlyMedia(e)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(e.Ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Play(ctx, src) }()
	for {
		select {
		case err := <-done:
			if e.Ch.IsHungUp() {
				return 0, channel.ErrHangup
			}
			if err != nil && !errors.Is(err, context.Canceled) {
				return 0, err
			}
			return 0, nil
		case d := <-s.DTMF():
			if strings.ContainsRune(escape, d.Digit) {
				cancel()
				<-done
				return d.Digit, nil
			}
		case <-e.Ctx.Done():
			cancel()
			<-done
			return 0, channel.ErrHangup
		}
	}
}

var errNotFound = errors.New("sound file not found")

// streamFiles plays names in order until an escape digit; missing files are
// skipped with a warning and reported through ok=false.
func (ap *Apps) streamFiles(e *pbx.Exec, names []string, escape string) (digit rune, ok bool, err error) {
	ok = true
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		d, err := ap.streamFile(e, n, escape)
		switch {
		case errors.Is(err, errNotFound):
			e.Ch.Log().Warn("Playback failed: file not found", "file", n, "language", e.Ch.Language())
			ok = false
			continue
		case err != nil:
			return 0, false, err
		}
		if d != 0 {
			return d, ok, nil
		}
	}
	return 0, ok, nil
}

// waitDigit waits for one DTMF digit; 0 means timeout.
func waitDigit(e *pbx.Exec, timeout time.Duration) (rune, error) {
	s := e.Ch.Media()
	if s == nil {
		return 0, channel.ErrHangup
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case d := <-s.DTMF():
		return d.Digit, nil
	case <-t.C:
		return 0, nil
	case <-e.Ctx.Done():
		return 0, channel.ErrHangup
	}
}

// drainDTMF discards digits pressed before an application starts to listen.
func drainDTMF(e *pbx.Exec) {
	s := e.Ch.Media()
	if s == nil {
		return
	}
	for {
		select {
		case <-s.DTMF():
		default:
			return
		}
	}
}

func hasOption(opts string, o byte) bool { return strings.IndexByte(opts, o) >= 0 }

// Playback(filename[&filename2...][,options]) with options skip and
// noanswer; sets PLAYBACKSTATUS to SUCCESS or FAILED.
func (ap *Apps) Playback(e *pbx.Exec, data string) error {
	a := args(data)
	files := strings.Split(arg(a, 0), "&")
	opts := strings.ToLower(arg(a, 1))
	if e.Ch.State() != channel.StateUp {
		if strings.Contains(opts, "skip") {
			e.Ch.SetVar("PLAYBACKSTATUS", "SUCCESS")
			return nil
		}
		if !strings.Contains(opts, "noanswer") {
			if err := e.Ch.Answer(e.Ctx); err != nil {
				return channel.ErrHangup
			}
		}
	}
	_, ok, err := ap.streamFiles(e, files, "")
	if err != nil {
		if errors.Is(err, channel.ErrHangup) {
			e.Ch.SetVar("PLAYBACKSTATUS", "FAILED")
			return channel.ErrHangup
		}
		ok = false
	}
	if ok {
		e.Ch.SetVar("PLAYBACKSTATUS", "SUCCESS")
	} else {
		e.Ch.SetVar("PLAYBACKSTATUS", "FAILED")
	}
	return nil
}

// Background(filename[&...][,options[,langoverride[,context]]]) plays while
// listening for an extension; a digit jumps to the extension it starts.
// Options: s (skip if not answered), n (do not answer), m (break only on a
// digit that matches a one-digit extension).
func (ap *Apps) Background(e *pbx.Exec, data string) error {
	a := args(data)
	files := strings.Split(arg(a, 0), "&")
	opts := arg(a, 1)
	if lang := arg(a, 2); lang != "" {
		defer e.Ch.SetLanguage(e.Ch.Language())
		e.Ch.SetLanguage(lang)
	}
	ctxName := arg(a, 3)
	if ctxName == "" {
		ctxName, _, _ = e.Ch.Location()
	} else if q, ok := e.QualifyContext(ctxName); ok {
		ctxName = q
	} else {
		e.Ch.Log().Warn("Background: context not reachable from the channel's tenant", "context", ctxName)
		return channel.ErrHangup
	}
	if e.Ch.State() != channel.StateUp {
		if hasOption(opts, 's') {
			return nil
		}
		if !hasOption(opts, 'n') {
			if err := e.Ch.Answer(e.Ctx); err != nil {
				return channel.ErrHangup
			}
		}
	}
	escape := allDigits
	if hasOption(opts, 'm') {
		escape = oneDigitExtens(e, ctxName)
	}
	d, ok, err := ap.streamFiles(e, files, escape)
	if err != nil {
		return err
	}
	if !ok {
		e.Ch.SetVar("BACKGROUNDSTATUS", "FAILED")
	} else {
		e.Ch.SetVar("BACKGROUNDSTATUS", "SUCCESS")
	}
	if d == 0 {
		return nil
	}
	return collectExten(e, ctxName, string(d))
}

func oneDigitExtens(e *pbx.Exec, ctxName string) string {
	plan := e.PBX.Dialplan()
	var b strings.Builder
	for _, d := range allDigits {
		if plan.Exists(ctxName, string(d), 1) {
			b.WriteRune(d)
		}
	}
	return b.String()
}

// collectExten gathers further digits while they could still match an
// extension, then jumps there, to i, or hangs up (pbx.c collect_digits).
func collectExten(e *pbx.Exec, ctxName, digits string) error {
	plan := e.PBX.Dialplan()
	for plan.MatchMore(ctxName, digits) {
		d, err := waitDigit(e, digitTimeout)
		if err != nil {
			return err
		}
		if d == 0 || d == '#' {
			break
		}
		digits += string(d)
	}
	if plan.Exists(ctxName, digits, 1) {
		return e.Goto(ctxName, digits, "1")
	}
	if plan.Exists(ctxName, "i", 1) {
		e.Ch.SetVar("INVALID_EXTEN", digits)
		return e.Goto(ctxName, "i", "1")
	}
	e.Ch.Log().Info("invalid extension and no i rule, hanging up", "context", ctxName, "exten", digits)
	e.Ch.Hangup(q850.NormalClearing)
	return pbx.ErrStop()
}

// WaitExten([seconds[,options]]) waits for the caller to dial an extension;
// on timeout it goes to t, or hangs up when there is none.
func WaitExten(e *pbx.Exec, data string) error {
	timeout := responseTimeout
	if f, err := strconv.ParseFloat(arg(args(data), 0), 64); err == nil && f > 0 {
		timeout = time.Duration(f * float64(time.Second))
	}
	ctxName, _, _ := e.Ch.Location()
	d, err := waitDigit(e, timeout)
	if err != nil {
		return err
	}
	if d != 0 {
		return collectExten(e, ctxName, string(d))
	}
	if e.PBX.Dialplan().Exists(ctxName, "t", 1) {
		return e.Goto(ctxName, "t", "1")
	}
	e.Ch.Log().Info("WaitExten timeout and no t rule, hanging up", "context", ctxName)
	e.Ch.Hangup(q850.NormalClearing)
	return pbx.ErrStop()
}

// Read(variable[,filename[&...][,maxdigits[,options[,attempts[,timeout]]]]])
// collects digits into variable; sets READSTATUS to OK, ERROR, HANGUP,
// INTERRUPTED, SKIPPED or TIMEOUT (app_read.c).
func (ap *Apps) Read(e *pbx.Exec, data string) error {
	a := args(data)
	variable := arg(a, 0)
	if variable == "" {
		e.Ch.Log().Warn("Read requires an argument (variable)")
		e.Ch.SetVar("READSTATUS", "ERROR")
		return nil
	}
	var files []string
	if f := arg(a, 1); f != "" {
		files = strings.Split(f, "&")
	}
	maxDigits, _ := strconv.Atoi(arg(a, 2))
	if maxDigits <= 0 || maxDigits > 255 {
		maxDigits = 255
	}
	opts := arg(a, 3)
	attempts, _ := strconv.Atoi(arg(a, 4))
	if attempts <= 0 {
		attempts = 1
	}
	first, next := responseTimeout, digitTimeout
	if f, err := strconv.ParseFloat(arg(a, 5), 64); err == nil && f > 0 {
		first = time.Duration(f * float64(time.Second))
		next = first
	}
	terminators := "#"
	if i := strings.Index(opts, "t("); i >= 0 {
		if j := strings.IndexByte(opts[i:], ')'); j > 0 {
			terminators = opts[i+2 : i+j]
		}
	} else if hasOption(opts, 't') {
		terminators = ""
	}
	if e.Ch.State() != channel.StateUp {
		if hasOption(opts, 's') {
			e.Ch.SetVar(variable, "")
			e.Ch.SetVar("READSTATUS", "SKIPPED")
			return nil
		}
		if !hasOption(opts, 'n') {
			if err := e.Ch.Answer(e.Ctx); err != nil {
				e.Ch.SetVar("READSTATUS", "HANGUP")
				return channel.ErrHangup
			}
		}
	}
	status := "TIMEOUT"
	result := ""
	for try := 0; try < attempts; try++ {
		digits, err := ap.readDigits(e, files, maxDigits, terminators, first, next)
		if err != nil {
			e.Ch.SetVar(variable, digits)
			e.Ch.SetVar("READSTATUS", "HANGUP")
			return channel.ErrHangup
		}
		result = digits
		if digits != "" {
			status = "OK"
			break
		}
	}
	e.Ch.SetVar(variable, result)
	e.Ch.SetVar("READSTATUS", status)
	return nil
}

// readDigits plays the prompt (any digit interrupts it and counts) and
// reads up to max digits, stopping at a terminator or a timeout.
func (ap *Apps) readDigits(e *pbx.Exec, files []string, max int, terminators string, first, next time.Duration) (string, error) {
	var b strings.Builder
	d, _, err := ap.streamFiles(e, files, allDigits)
	if err != nil {
		return "", err
	}
	timeout := first
	for {
		if d == 0 {
			d, err = waitDigit(e, timeout)
			if err != nil {
				return b.String(), err
			}
			if d == 0 {
				return b.String(), nil
			}
		}
		if strings.ContainsRune(terminators, d) {
			return b.String(), nil
		}
		b.WriteRune(d)
		if b.Len() >= max {
			return b.String(), nil
		}
		d = 0
		timeout = next
	}
}

func (ap *Apps) sayFiles(e *pbx.Exec, files []string) error {
	_, _, err := ap.streamFiles(e, files, "")
	return err
}

// sayValue plays a Say function's names, or, in a language without its
// own recorded prompts, text through TTS (prompts.Sounds.Say).
func (ap *Apps) sayValue(e *pbx.Exec, names []string, text string) error {
	files, err := ap.svc.Sounds.Say(e.Ctx, names, text, e.Ch.Language())
	if err != nil {
		e.Ch.Log().Warn("Say: text to speech failed, playing the recorded prompts", "language", e.Ch.Language(), "err", err)
	}
	return ap.sayFiles(e, files)
}

// SayDigits(digits) says each digit.
func (ap *Apps) SayDigits(e *pbx.Exec, data string) error {
	digits, lang := arg(args(data), 0), e.Ch.Language()
	return ap.sayValue(e, prompts.SayDigits(digits, lang), prompts.DigitsText(digits, lang))
}

// SayNumber(number[,gender]) says a number with the language's rules.
func (ap *Apps) SayNumber(e *pbx.Exec, data string) error {
	a := args(data)
	n, err := strconv.ParseInt(arg(a, 0), 10, 64)
	if err != nil {
		e.Ch.Log().Warn("SayNumber: not a number", "data", arg(a, 0))
		return nil
	}
	files, err := prompts.SayNumber(n, e.Ch.Language(), arg(a, 1))
	if err != nil {
		e.Ch.Log().Warn("SayNumber failed", "err", err)
		return nil
	}
	return ap.sayValue(e, files, prompts.NumberText(n, e.Ch.Language()))
}

// SayAlpha(string) spells a string.
func (ap *Apps) SayAlpha(e *pbx.Exec, data string) error {
	return ap.sayFiles(e, prompts.SayAlpha(arg(args(data), 0), e.Ch.Language(), false))
}

// SayPhonetic(string) spells with the NATO alphabet.
func (ap *Apps) SayPhonetic(e *pbx.Exec, data string) error {
	return ap.sayFiles(e, prompts.SayPhonetic(arg(args(data), 0)))
}
