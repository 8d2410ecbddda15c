// Package pbx runs the dialplan on channels: Asterisk's pbx loop
// (main/pbx.c __ast_pbx_run). It finds the step at the channel's
// context/exten/priority, substitutes variables in its data, runs the
// application and moves on; it handles the special extensions i and h,
// and writes the channel's CDR before the channel is reported gone.
package pbx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/q850"
)

// App is a dialplan application. data is the application's argument
// string after variable substitution; apps split it themselves, as
// Asterisk's do. Returning an error ends the dialplan for the channel
// (Asterisk's non-zero return): channel.ErrHangup when the caller is gone.
type App func(e *Exec, data string) error

// CDRWriter stores CDRs durably; Write returns once the record is safe.
type CDRWriter interface {
	Write(ctx context.Context, r cdr.Record) error
}

// Options configure the PBX.
type Options struct {
	Channels *channel.Registry
	CDR      CDRWriter
	Logger   *slog.Logger
	// Node names the node in CDRs (distributed tier).
	Node string
	// LogUnanswered writes CDRs of calls never answered (cdr.conf unanswered).
	LogUnanswered bool
	// Congestion reports CONGESTION instead of FAILED (cdr.conf congestion).
	Congestion bool
}

// PBX runs dialplans. Its dialplan can be swapped at runtime (realtime
// provisioning): a channel picks up the new plan at its next step.
type PBX struct {
	opts   Options
	log    *slog.Logger
	plan   atomic.Pointer[dialplan.Dialplan]
	apps   map[string]App
	funcs  map[string]Function // RegisterFunction
	names  []string            // as registered
	cdrSeq atomic.Int64
	active atomic.Int64
	execs  sync.Map // channel name -> *Exec, while the dialplan runs
}

// New returns a PBX with no applications; Register adds them.
func New(opts Options) *PBX {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &PBX{opts: opts, log: opts.Logger, apps: map[string]App{}}
}

// Register adds an application under its case-insensitive name. It must be
// called before the PBX runs calls.
func (p *PBX) Register(name string, app App) {
	p.apps[strings.ToLower(name)] = app
	p.names = append(p.names, name)
}

// Apps lists the registered applications' names, sorted.
func (p *PBX) Apps() []string {
	out := slices.Clone(p.names)
	slices.Sort(out)
	return out
}

// HasApp reports whether an application exists (used to validate dialplans).
func (p *PBX) HasApp(name string) bool {
	_, ok := p.apps[strings.ToLower(name)]
	return ok
}

// SetDialplan swaps in a new dialplan.
func (p *PBX) SetDialplan(d *dialplan.Dialplan) { p.plan.Store(d) }

// Dialplan returns the current dialplan.
func (p *PBX) Dialplan() *dialplan.Dialplan { return p.plan.Load() }

// Channels is the registry channels live in.
func (p *PBX) Channels() *channel.Registry { return p.opts.Channels }

// Active is the number of channels running dialplan.
func (p *PBX) Active() int64 { return p.active.Load() }

// Exists reports whether context/exten can start a call.
func (p *PBX) Exists(context, exten string) bool {
	d := p.plan.Load()
	return d != nil && d.Exists(context, exten, 1)
}

// maxSteps bounds one channel's dialplan run, so a Goto loop without any
// waiting application cannot spin forever (Asterisk has no such bound, but
// its loops at least yield; ours would burn a core).
const maxSteps = 100000

// HandleCall runs the dialplan on a channel until it hangs up or falls off
// the end, runs the h extension, writes the CDR and publishes Hangup.
func (p *PBX) HandleCall(ch *channel.Channel) {
	p.active.Add(1)
	defer p.active.Add(-1)
	e := newExec(p, ch)
	p.execs.Store(ch.Name, e)
	p.run(e)
	p.execs.Delete(ch.Name)
	if !ch.IsHungUp() {
		// Falling off the end of the dialplan hangs up normally
		// (Asterisk's autofallthrough), keeping a cause Dial recorded.
		ch.Hangup(0)
	}
	p.runHangupExten(e)
	p.finish(e)
}

// run is the main loop.
func (p *PBX) run(e *Exec) {
	ch := e.Ch
	for steps := 0; steps < maxSteps; steps++ {
		if ch.IsHungUp() {
			return
		}
		e.takeRedirect()
		if !p.step(e, false) {
			return
		}
	}
	ch.Log().Warn("dialplan step limit reached, hanging up", "limit", maxSteps)
}

// step runs one priority. It returns false when the dialplan ends.
func (p *PBX) step(e *Exec, inHangup bool) bool {
	ch := e.Ch
	ctx, exten, pri := ch.Location()
	plan := p.plan.Load()
	if plan == nil {
		return false
	}
	num, _ := ch.CallerID()
	st, ok := plan.Find(ctx, exten, pri, num)
	if !ok {
		if inHangup {
			return false
		}
		if !plan.Exists(ctx, exten, 1) && exten != "i" && plan.Exists(ctx, "i", 1) {
			// An extension that does not exist goes to i (invalid).
			ch.SetVar("INVALID_EXTEN", exten)
			ch.SetLocation(ctx, "i", 1)
			return true
		}
		ch.Log().Debug("auto fallthrough", "context", ctx, "exten", exten, "priority", pri)
		return false
	}
	app, ok := p.apps[strings.ToLower(st.App)]
	data := dialplan.Substitute(st.Data, e)
	if !inHangup {
		e.noteLocation(ctx, exten)
		ch.SetApp(st.App, data)
	} else if ok {
		ch.Publish(events.Event{Kind: events.Newexten, App: st.App, AppData: data})
	}
	if !ok {
		ch.Log().Warn("no such application, hanging up", "app", st.App, "context", ctx, "exten", exten, "priority", pri, "file", st.File, "line", st.Line)
		ch.Hangup(q850.NormalClearing)
		return false
	}
	e.jumped = false
	var err error
	if inHangup {
		err = app(e, data)
	} else {
		err = e.interruptible(func() error { return app(e, data) })
		if e.takeRedirect() && !ch.IsHungUp() {
			// An async goto interrupted the application (or came while
			// it ran): go on at the new position, whatever it returned.
			return true
		}
	}
	if e.jumped {
		return true
	}
	if err != nil {
		if !errors.Is(err, channel.ErrHangup) && !errors.Is(err, errStop) {
			ch.Log().Warn("application failed", "app", st.App, "err", err)
		}
		return false
	}
	ch.SetLocation(ctx, exten, pri+1)
	return true
}

// errStop ends the dialplan without a warning (Hangup() application).
var errStop = errors.New("dialplan stopped")

// ErrStop lets applications end the dialplan quietly.
func ErrStop() error { return errStop }

// runHangupExten runs the h extension of the channel's context, as Asterisk
// does after a hangup, on the now dead channel.
func (p *PBX) runHangupExten(e *Exec) {
	plan := p.plan.Load()
	ctx, _, _ := e.Ch.Location()
	if plan == nil || !plan.Exists(ctx, "h", 1) {
		return
	}
	e.cdrFrozen = true
	e.Ch.SetLocation(ctx, "h", 1)
	for steps := 0; steps < 1000; steps++ {
		if !p.step(e, true) {
			return
		}
	}
}

// finish writes the CDR and publishes Cdr and Hangup, in Asterisk's order.
func (p *PBX) finish(e *Exec) {
	ch := e.Ch
	e.closeDatastores()
	rec, ok := p.buildCDR(e)
	if ok && p.opts.CDR != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := p.opts.CDR.Write(ctx, rec); err != nil {
			ch.Log().Error("CDR not stored", "uniqueid", rec.UniqueID, "err", err)
		}
		cancel()
		ch.Publish(events.Event{Kind: events.CDR, Fields: cdrFields(rec)})
	}
	p.Destroy(ch)
}

// Destroy publishes Hangup and forgets the channel.
func (p *PBX) Destroy(ch *channel.Channel) {
	cause := ch.HangupCause()
	ch.Publish(events.Event{Kind: events.Hangup, Cause: cause})
	p.opts.Channels.Remove(ch)
}

func cdrFields(r cdr.Record) map[string]string {
	return map[string]string{
		"AccountCode": r.AccountCode, "Source": r.Src, "Destination": r.Dst,
		"DestinationContext": r.DContext, "CallerID": r.CLID, "Channel": r.Channel,
		"DestinationChannel": r.DstChannel, "LastApplication": r.LastApp, "LastData": r.LastData,
		"Disposition": r.Disposition, "AMAFlags": r.AMAFlags, "UniqueID": r.UniqueID,
		"UserField": r.UserField, "Duration": fmt.Sprint(r.Duration), "BillableSeconds": fmt.Sprint(r.BillSec),
		"StartTime": cdrTime(r.Start), "AnswerTime": cdrTime(r.Answer), "EndTime": cdrTime(r.End),
	}
}

// cdrTime formats a CDR time as cdr_manager.c does (%Y-%m-%d %T, local
// time); an unset time is empty.
func cdrTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02 15:04:05")
}
