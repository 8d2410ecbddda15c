package apps

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/parking"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/prompts"
	"github.com/entvoice/entvoice/internal/q850"
)

// parkDialContext is where a timed-out call goes back to its parker
// (res_parking's PARK_DIAL_CONTEXT).
const parkDialContext = "park-dial"

// retrieveWait bounds how long a retriever waits for the parked channel
// to let go of its media.
const retrieveWait = 5 * time.Second

// Park([parkinglot[,options]]) parks the caller in a space of a lot
// (res_parking's park_app_exec): the space is said to the caller (unless
// s, or a blind transfer parked it: then its transferer heard it), it
// hears music on hold (m(class), else the lot's parkedmusicclass) until
// ParkedCall retrieves it, it hangs up, or parkingtime runs out: then it
// goes back to its parker (comebacktoorigin: park-dial,<parker flattened>
// if the dialplan has it, else a Dial of the parker for comebackdialtime)
// or to the lot's comebackcontext, with PARKING_SPACE, PARKEDLOT, PARKER
// and PARKER_FLAT set. Options: s, R (random space), c(context,exten,
// priority) (where a timed-out call goes), t(seconds), m(class); r
// (ringing instead of music) plays music: entVoice has no ringing tone
// generator.
func (ap *Apps) Park(e *pbx.Exec, data string) error {
	svc := ap.svc.Parking
	if e.Ch.State() != channel.StateUp {
		if err := e.Ch.Answer(e.Ctx); err != nil {
			return channel.ErrHangup
		}
	}
	a := args(data)
	opts := arg(a, 1)
	blind, _ := e.Ch.GetVar("BLINDTRANSFER")
	silent := hasDialOption(opts, 's')
	failed := func(err error) error {
		e.Ch.Log().Warn("Park: parking failed", "err", err)
		if !silent && blind == "" {
			_, _, _ = ap.streamFiles(e, []string{"pbx-parkingfailed"}, "")
		}
		return nil
	}
	if svc == nil {
		return failed(errors.New("parking is not configured"))
	}
	p, preParked := svc.Of(e.Ch)
	if !preParked {
		o := parking.ParkOptions{Lot: arg(a, 0), Timeout: -1, Randomize: hasDialOption(opts, 'R')}
		// A transferred call's parker is its transferer
		// (setup_park_common_datastore).
		for _, v := range []string{"ATTENDEDTRANSFER", "BLINDTRANSFER"} {
			if x, ok := e.Ch.GetVar(v); ok && x != "" {
				o.ParkerDial = parking.DialString(x)
				break
			}
		}
		if c, ok := optionArg(opts, 'c'); ok {
			o.Comeback = c
		}
		if t, ok := optionArg(opts, 't'); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(t)); err == nil && n >= 0 {
				o.Timeout = time.Duration(n) * time.Second
			} else {
				e.Ch.Log().Warn("Park: invalid timeout, using the lot's", "t", t)
			}
		}
		var err error
		if p, err = svc.Park(e.Ch, o); err != nil {
			return failed(err)
		}
	}
	defer p.Done()
	class := p.Lot.MusicClass
	if m, ok := optionArg(opts, 'm'); ok && m != "" {
		class = m
	}
	if !preParked && !silent && blind == "" {
		// say_parking_space: the space's digits to the parkee, cut
		// short when the call is retrieved meanwhile.
		if s := e.Ch.Media(); s != nil {
			ctx, cancel := context.WithCancel(e.Ctx)
			go func() {
				select {
				case <-p.Resolved():
					cancel()
				case <-ctx.Done():
				}
			}()
			ap.playTo(ctx, s, e.Ch.Language(), prompts.SayDigits(strconv.Itoa(p.Space), e.Ch.Language()))
			cancel()
		}
	}
	if err := ap.StartMOH(e, class); err != nil {
		e.Ch.Log().Warn("Park: no music on hold for the parked call", "err", err)
	}
	defer ap.StopMOH(e.Ch)
	var timeout <-chan time.Time
	if left := p.Timeout - time.Since(p.Start); p.Timeout > 0 {
		t := time.NewTimer(max(left, time.Millisecond))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-p.Resolved():
	case <-timeout:
		p.Resolve(parking.TimedOut)
	case <-e.Ctx.Done():
		p.Resolve(parking.GaveUp)
	}
	ap.StopMOH(e.Ch)
	switch p.Resolution() {
	case parking.Retrieved:
		// The retriever bridges us: stay until the bridge ends, which
		// hangs us up (ParkedCall returns -1, and so does Park).
		p.Release()
		<-e.Ch.Done()
		return channel.ErrHangup
	case parking.TimedOut:
		return ap.parkComeback(e, p)
	}
	return channel.ErrHangup
}

// parkComeback sends a timed-out parked call where res_parking does
// (parking_duration_callback, comeback_goto).
func (ap *Apps) parkComeback(e *pbx.Exec, p *parking.Parked) error {
	flat := parking.Flat(p.ParkerDial)
	e.Ch.SetVar("PARKING_SPACE", strconv.Itoa(p.Space))
	e.Ch.SetVar("PARKEDLOT", p.Lot.Name)
	e.Ch.SetVar("PARKER", p.ParkerDial)
	e.Ch.SetVar("PARKER_FLAT", flat)
	plan := e.PBX.Dialplan()
	exists := func(ctx, exten string) bool {
		q, ok := e.QualifyContext(ctx)
		return ok && plan != nil && plan.Exists(q, exten, 1)
	}
	if p.Comeback != "" {
		// ast_async_parseable_goto: [[context,]exten,]priority.
		return gotoSpec(e, trimAll(args(p.Comeback)))
	}
	if p.Lot.ComebackToOrigin {
		if exists(parkDialContext, flat) {
			return e.Goto(parkDialContext, flat, "1")
		}
		// Asterisk writes park-dial,<flat>,1 => Dial(<parker>,
		// <comebackdialtime>) and sends the call there; the call then
		// ends (the extension has no next priority).
		if ctx, ok := e.QualifyContext(parkDialContext); ok {
			e.Ch.SetLocation(ctx, flat, 1)
		}
		if err := ap.Dial(e, p.ParkerDial+","+strconv.Itoa(p.Lot.ComebackDialTime)); err != nil {
			return err
		}
		return pbx.ErrStop()
	}
	switch {
	case exists(p.Lot.ComebackContext, flat):
		return e.Goto(p.Lot.ComebackContext, flat, "1")
	case exists(p.Lot.ComebackContext, "s"):
		return e.Goto(p.Lot.ComebackContext, "s", "1")
	}
	e.Ch.Log().Info("Park: comeback context has neither the parker's extension nor s, using s@default",
		"context", p.Lot.ComebackContext, "exten", flat)
	return e.Goto("default", "s", "1")
}

// ParkedCall([parkinglot[,parkingspace]]) retrieves a parked call
// (parked_call_app_exec): the call in the space (the first parked one
// without a space) of the lot (the caller's PARKINGLOT, else default) is
// bridged to the caller; pbx-invalidpark when there is none. Like
// Asterisk's, it never goes on in the dialplan.
func (ap *Apps) ParkedCall(e *pbx.Exec, data string) error {
	if e.Ch.State() != channel.StateUp {
		if err := e.Ch.Answer(e.Ctx); err != nil {
			return channel.ErrHangup
		}
	}
	invalid := func(msg string, a ...any) error {
		e.Ch.Log().Warn("ParkedCall: "+msg, a...)
		_, _, _ = ap.streamFiles(e, []string{"pbx-invalidpark"}, "")
		return pbx.ErrStop()
	}
	svc := ap.svc.Parking
	if svc == nil {
		return invalid("parking is not configured")
	}
	a := args(data)
	lot := parking.LotName(e.Ch, arg(a, 0))
	if _, ok := svc.Config().Lot(lot); !ok {
		return invalid("could not find the requested parking lot", "lot", lot)
	}
	space := -1
	if s := arg(a, 1); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return invalid("parking space must be an integer of 0 or more", "space", s)
		}
		space = n
	}
	p, err := svc.Retrieve(e.Ch.Tenant(), lot, space, e.Ch)
	if err != nil {
		return invalid("nothing to retrieve", "lot", lot, "space", space, "err", err)
	}
	parkee := p.Ch
	t := time.NewTimer(retrieveWait)
	defer t.Stop()
	select {
	case <-p.Released():
	case <-parkee.Done():
		return invalid("the parked call hung up")
	case <-t.C:
		parkee.Hangup(q850.NormalClearing)
		return invalid("the parked call did not come out of its space")
	case <-e.Ctx.Done():
		parkee.Hangup(q850.NormalClearing)
		return channel.ErrHangup
	}
	// parkedplay: the courtesy tone to the retriever (caller), the parked
	// call (callee) or both.
	if tone := p.Lot.CourtesyTone; tone != "" {
		play := p.Lot.ParkedPlay
		if play == "caller" || play == "both" {
			_, _, _ = ap.streamFiles(e, []string{tone}, "")
		}
		if s := parkee.Media(); s != nil && (play == "callee" || play == "both") {
			ap.playTo(e.Ctx, s, parkee.Language(), []string{tone})
		}
	}
	answered := time.Now()
	e.SetDialResult(parkee.Name, answered, "ANSWER")
	_, err = ap.bridge(e, parkee, features{}, nil)
	if !parkee.IsHungUp() {
		parkee.Hangup(q850.NormalClearing)
	}
	if err != nil {
		return err
	}
	return pbx.ErrStop()
}

// blindTransferred records a blind transfer on the transferee, as
// ast_bridge_transfer_blind does (BLINDTRANSFER: the transferer's
// channel), and parks it at once when the target extension parks
// (parking_blind_transfer_park: its first priority runs Park): the
// transferer, its parker, hears the space before it is hung up, and the
// transferee's Park() finds its space taken for it.
func (ap *Apps) blindTransferred(e *pbx.Exec, transferee, transferer *channel.Channel, exten string) {
	transferee.SetVar("BLINDTRANSFER", transferer.Name)
	svc, plan := ap.svc.Parking, e.PBX.Dialplan()
	if svc == nil || plan == nil {
		return
	}
	ctxName, _, _ := e.Ch.Location()
	num, _ := transferee.CallerID()
	st, ok := plan.Find(ctxName, exten, 1, num)
	if !ok || !strings.EqualFold(st.App, "Park") {
		return
	}
	p, err := svc.Park(transferee, parking.ParkOptions{Lot: arg(args(dialplan.Substitute(st.Data, e)), 0),
		ParkerDial: parking.DialString(transferer.Name), Timeout: -1})
	s := transferer.Media()
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err != nil {
		e.Ch.Log().Warn("blind transfer to parking failed", "err", err)
		ap.playTo(ctx, s, transferer.Language(), []string{"pbx-parkingfailed"})
		return
	}
	ap.playTo(ctx, s, transferer.Language(), prompts.SayDigits(strconv.Itoa(p.Space), transferer.Language()))
}
