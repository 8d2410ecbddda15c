package pbx

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/entvoice/entvoice/internal/channel"
)

// ErrNotInDialplan is returned by AsyncGoto for a channel that is not
// running dialplan (an outbound leg bridged by Dial, a channel being
// destroyed).
var ErrNotInDialplan = errors.New("channel is not running dialplan")

// interruptible runs one application with a context of its own, which an
// async goto cancels.
func (e *Exec) interruptible(run func() error) error {
	ctx, cancel := context.WithCancel(e.base)
	e.mu.Lock()
	e.stopApp = cancel
	pending := e.redirect != nil
	e.mu.Unlock()
	if pending {
		cancel()
	}
	e.Ctx = ctx
	err := run()
	e.mu.Lock()
	e.stopApp = nil
	e.mu.Unlock()
	cancel()
	e.Ctx = e.base
	return err
}

// takeRedirect applies a pending async goto; it reports whether there was one.
func (e *Exec) takeRedirect() bool {
	e.mu.Lock()
	r := e.redirect
	e.redirect = nil
	e.mu.Unlock()
	if r == nil {
		return false
	}
	e.Ch.SetLocation(r.context, r.exten, r.priority)
	e.noteLocation(r.context, r.exten)
	return true
}

// AsyncGoto moves a channel that runs dialplan to context/exten/priority
// (a number or a label), interrupting the application it is running, as
// Asterisk's ast_async_goto does for AMI Redirect: the application sees
// its context cancelled, and the dialplan resumes at the new position. An
// empty context or exten keeps the channel's current one.
func (p *PBX) AsyncGoto(ch *channel.Channel, context, exten, priority string) error {
	v, ok := p.execs.Load(ch.Name)
	if !ok || ch.IsHungUp() {
		return ErrNotInDialplan
	}
	e := v.(*Exec)
	cur, curExten, _ := ch.Location()
	if context == "" {
		context = cur
	}
	if exten == "" {
		exten = curExten
	}
	if strings.TrimSpace(priority) == "" {
		priority = "1"
	}
	pri, err := e.resolvePriority(context, exten, priority)
	if err != nil {
		return err
	}
	plan := p.plan.Load()
	if plan == nil || !plan.Exists(context, exten, pri) {
		return fmt.Errorf("%s@%s priority %d does not exist", exten, context, pri)
	}
	e.mu.Lock()
	e.redirect = &location{context: context, exten: exten, priority: pri}
	stop := e.stopApp
	e.mu.Unlock()
	if stop != nil {
		stop()
	}
	return nil
}

// HandleApp runs one application on a channel instead of the dialplan (AMI
// Originate with Application/Data), then hangs the channel up, writes its
// CDR and publishes Hangup.
func (p *PBX) HandleApp(ch *channel.Channel, app, data string) {
	p.active.Add(1)
	defer p.active.Add(-1)
	e := newExec(p, ch)
	if err := e.Run(app, data); err != nil && !errors.Is(err, channel.ErrHangup) && !errors.Is(err, errStop) {
		ch.Log().Warn("application failed", "app", app, "err", err)
	}
	if !ch.IsHungUp() {
		ch.Hangup(0)
	}
	p.finish(e)
}

// Exec returns an execution context for a channel that runs no dialplan
// of its own (a queue member's leg, a dialer's answered call), for the
// applications, prompts and subroutines another channel's application
// runs on it (app_queue's member gosub and announcements). Its Ctx ends
// when the channel hangs up.
func (p *PBX) Exec(ch *channel.Channel) *Exec { return newExec(p, ch) }
