package apps

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/prompts"
)

// callLimit bounds an answered call: Dial's L(x[:y][:z]) with the LIMIT_*
// channel variables (app_dial.c's do_timelimit and the bridge's time
// limits), or billing's limit of a charged leg, or the shorter of both.
type callLimit struct {
	limit   time.Duration // the call ends when it has lasted this long
	warning time.Duration // warn this long before the end (0: no warning)
	repeat  time.Duration // and again every repeat after (0: once)
	// warnFile is played as the warning; "timeleft" says the time left
	// ("vm-youhave", minutes, seconds), Asterisk's default.
	warnFile    string
	timeoutFile string // played when the limit is reached (none by default)
	toCaller    bool   // LIMIT_PLAYAUDIO_CALLER, default yes
	toCallee    bool   // LIMIT_PLAYAUDIO_CALLEE, default no
}

// defaultBillingWarning is how long before billing's limit the caller is
// warned when the dialplan does not say (BILLING_WARNING_SECONDS).
const defaultBillingWarning = 30 * time.Second

// optionArg returns the argument of option o in Dial's options ("L(60000:30000)"),
// and whether o is present.
func optionArg(opts string, o byte) (string, bool) {
	for i := 0; i < len(opts); i++ {
		c := opts[i]
		arg := ""
		if i+1 < len(opts) && opts[i+1] == '(' {
			end := strings.IndexByte(opts[i+1:], ')')
			if end < 0 {
				end = len(opts) - i - 1
			}
			arg = opts[i+2 : i+1+end]
			if c == o {
				return arg, true
			}
			i += 1 + end
			continue
		}
		if c == o {
			return "", true
		}
	}
	return "", false
}

// hasDialOption is hasOption for Dial, whose options may carry
// parenthesised arguments (L(...)) that must not count as options.
func hasDialOption(opts string, o byte) bool {
	_, ok := optionArg(opts, o)
	return ok
}

// newCallLimit reads L(x[:y][:z]) (ms) and the LIMIT_* variables, and
// lowers the limit to a charged leg's; nil when the call has no limit.
func newCallLimit(e *pbx.Exec, opts string, g control.Grant) *callLimit {
	var lim callLimit
	if arg, ok := optionArg(opts, 'L'); ok {
		parts := strings.Split(arg, ":")
		ms := func(i int) time.Duration {
			if i < len(parts) {
				if n, err := strconv.ParseInt(strings.TrimSpace(parts[i]), 10, 64); err == nil && n > 0 {
					return time.Duration(n) * time.Millisecond
				}
			}
			return 0
		}
		lim.limit, lim.warning, lim.repeat = ms(0), ms(1), ms(2)
		if lim.limit == 0 {
			e.Ch.Log().Warn("Dial: L() needs a limit in milliseconds, ignoring it", "option", arg)
		}
	}
	if g != nil {
		if bl := g.Limit(); bl > 0 && (lim.limit == 0 || bl < lim.limit) {
			lim.limit = bl
			if lim.warning == 0 {
				lim.warning = defaultBillingWarning
				if v, ok := e.Ch.GetVar("BILLING_WARNING_SECONDS"); ok {
					if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
						lim.warning = time.Duration(n) * time.Second
					}
				}
			}
		}
	}
	if lim.limit == 0 {
		return nil
	}
	if lim.warning >= lim.limit {
		lim.warning = lim.limit // warn at once
	}
	lim.toCaller, lim.toCallee = true, false
	if v, ok := e.Ch.GetVar("LIMIT_PLAYAUDIO_CALLER"); ok {
		lim.toCaller = isTrue(v)
	}
	if v, ok := e.Ch.GetVar("LIMIT_PLAYAUDIO_CALLEE"); ok {
		lim.toCallee = isTrue(v)
	}
	lim.warnFile = "timeleft"
	if v, ok := e.Ch.GetVar("LIMIT_WARNING_FILE"); ok && v != "" {
		lim.warnFile = v
	}
	lim.timeoutFile, _ = e.Ch.GetVar("LIMIT_TIMEOUT_FILE")
	return &lim
}

func isTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "true", "y", "t", "1", "on":
		return true
	}
	return false
}

// warningSounds are the sounds of a warning with left to go: "timeleft"
// says it (features' timeleft: "vm-youhave", then minutes with
// "queue-minutes" and seconds with "queue-seconds").
func warningSounds(file string, left time.Duration, language string) []string {
	if file != "timeleft" {
		return strings.Split(file, "&")
	}
	secs := int64((left + 500*time.Millisecond) / time.Second)
	out := []string{"vm-youhave"}
	if m := secs / 60; m > 0 {
		n, _ := prompts.SayNumber(m, language, "")
		out = append(append(out, n...), "queue-minutes")
	}
	if s := secs % 60; s > 0 {
		n, _ := prompts.SayNumber(s, language, "")
		out = append(append(out, n...), "queue-seconds")
	}
	return out
}

// playTo plays sounds on one leg's media while the bridge is paused.
func (ap *Apps) playTo(ctx context.Context, s *media.Session, language string, names []string) {
	for _, n := range names {
		src, err := ap.svc.Sounds.Open(n, language)
		if err != nil {
			continue
		}
		if err := s.Play(ctx, src); err != nil {
			return
		}
	}
}

// announce plays a limit's sounds to the legs it is for, the bridge
// paused meanwhile (the other party hears silence, as in Asterisk).
func (ap *Apps) announce(e *pbx.Exec, peer *channel.Channel, lim *callLimit, names []string) {
	if lim.toCaller {
		if s := e.Ch.Media(); s != nil {
			ap.playTo(e.Ctx, s, e.Ch.Language(), names)
		}
	}
	if lim.toCallee {
		if s := peer.Media(); s != nil {
			ap.playTo(e.Ctx, s, peer.Language(), names)
		}
	}
}

// chargeOutcome records billing's word on a Dial in the channel
// variables BILLING() reads: BILLINGSTATUS (AUTHORIZED, DENIED or empty
// when not charged), BILLINGCAUSE, BILLINGLIMIT (seconds).
func chargeOutcome(ch *channel.Channel, g control.Grant, denied error) {
	var d *control.ChargeDenied
	switch {
	case g != nil:
		ch.SetVar("BILLINGSTATUS", "AUTHORIZED")
		ch.SetVar("BILLINGLIMIT", strconv.FormatInt(int64(g.Limit()/time.Second), 10))
	case errors.As(denied, &d):
		ch.SetVar("BILLINGSTATUS", "DENIED")
		ch.SetVar("BILLINGCAUSE", d.Cause)
	}
}

// settleCharge settles a charged leg with the billable time Dial measured
// and records its cost (BILLINGCOST, BILLINGCURRENCY).
func settleCharge(ch *channel.Channel, g control.Grant, answered, end time.Time) {
	if g == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := g.Settle(ctx, channel.BillableSeconds(answered, end))
	if err != nil {
		ch.Log().Warn("billing: settlement failed; the CDR's rating will debit the call", "err", err)
		return
	}
	ch.SetVar("BILLINGCOST", c.Cost)
	ch.SetVar("BILLINGCURRENCY", c.Currency)
}
