package apps

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/media/moh"
	"github.com/entvoice/entvoice/internal/pbx"
)

// onHold tracks the channels hearing music on hold from
// StartMusicOnHold (or another application that holds a caller), so that
// StopMusicOnHold, a later prompt or the hangup stop it.
type onHold struct {
	mu sync.Mutex
	by map[*channel.Channel]*moh.Listener
	// hooked are the channels whose hangup stops their music (one hook
	// per channel, however often its music starts).
	hooked map[*channel.Channel]struct{}
}

// MusicClass picks the class a channel hears: the channel's own
// CHANNEL(musicclass) when preferchannelclass is on (Asterisk's default),
// else the class asked for, else "default".
func (ap *Apps) musicClass(ch *channel.Channel, asked string) string {
	own := ch.MusicClass()
	prefer := ap.svc.MOH == nil || ap.svc.MOH.PreferChannelClass()
	switch {
	case own != "" && (prefer || asked == ""):
		return own
	case asked != "":
		return asked
	}
	return "default"
}

// StartMOH makes a channel hear class (or its own class) from the
// class's shared stream until StopMOH, a prompt, or the hangup. It is
// what applications that hold a caller use (queues, parking, hold).
func (ap *Apps) StartMOH(e *pbx.Exec, class string) error {
	if ap.svc.MOH == nil {
		return errors.New("music on hold is not configured")
	}
	s, err := earlyMedia(e)
	if err != nil {
		return err
	}
	return ap.startMOHOn(e.Ch, s, class)
}

// startMOHOn makes ch hear class (or its own class) on s, the channel's
// media session, until StopMOH or the hangup: StartMOH for a channel that
// runs no application of its own (the other party of a bridge on hold).
func (ap *Apps) startMOHOn(ch *channel.Channel, s *media.Session, class string) error {
	if ap.svc.MOH == nil {
		return errors.New("music on hold is not configured")
	}
	name := ap.musicClass(ch, class)
	c, ok := ap.svc.MOH.Class(name)
	if !ok {
		// ast_moh_start: a class that does not exist falls back to
		// default.
		ch.Log().Warn("music on hold class not found, using default", "class", name)
		if c, ok = ap.svc.MOH.Class("default"); !ok {
			return errors.New("no music on hold class default")
		}
	}
	ap.StopMOH(ch)
	l, err := c.Attach(s)
	if err != nil {
		return err
	}
	ap.held.mu.Lock()
	if ap.held.by == nil {
		ap.held.by = map[*channel.Channel]*moh.Listener{}
		ap.held.hooked = map[*channel.Channel]struct{}{}
	}
	ap.held.by[ch] = l
	_, hooked := ap.held.hooked[ch]
	ap.held.hooked[ch] = struct{}{}
	ap.held.mu.Unlock()
	if !hooked {
		ch.OnHangup(func() {
			ap.StopMOH(ch)
			ap.held.mu.Lock()
			delete(ap.held.hooked, ch)
			ap.held.mu.Unlock()
		})
	}
	return nil
}

// StopMOH stops a channel's music on hold, if it hears any.
func (ap *Apps) StopMOH(ch *channel.Channel) {
	ap.held.mu.Lock()
	l := ap.held.by[ch]
	delete(ap.held.by, ch)
	ap.held.mu.Unlock()
	if l != nil {
		l.Stop()
	}
}

// MusicOnHold(class[,duration]) plays music on hold for duration seconds,
// or until the caller hangs up (app_moh.c moh_exec). It does not answer.
func (ap *Apps) MusicOnHold(e *pbx.Exec, data string) error {
	a := args(data)
	if err := ap.StartMOH(e, arg(a, 0)); err != nil {
		e.Ch.Log().Warn("MusicOnHold: unable to start music on hold", "class", arg(a, 0), "err", err)
		return nil
	}
	defer ap.StopMOH(e.Ch)
	if d, err := strconv.ParseFloat(arg(a, 1), 64); err == nil && d > 0 {
		return sleep(e, time.Duration(d*float64(time.Second)))
	}
	<-e.Ctx.Done()
	return channel.ErrHangup
}

// StartMusicOnHold(class) starts music on hold and goes on in the
// dialplan (app_moh.c start_moh_exec).
func (ap *Apps) StartMusicOnHold(e *pbx.Exec, data string) error {
	if err := ap.StartMOH(e, arg(args(data), 0)); err != nil {
		e.Ch.Log().Warn("StartMusicOnHold: unable to start music on hold", "class", data, "err", err)
	}
	return nil
}

// StopMusicOnHold stops what StartMusicOnHold started.
func (ap *Apps) StopMusicOnHold(e *pbx.Exec, _ string) error {
	ap.StopMOH(e.Ch)
	return nil
}
