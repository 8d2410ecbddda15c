package apps

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// dialed is one outbound leg of a Dial.
type dialed struct {
	out    *channel.Leg
	done   bool
	cause  int
	code   int
	status string
	early  bool // it sent early media
	// picker picked the leg up (Pickup, *8): it takes the leg's place.
	picker *channel.Channel
}

// Dial(Tech/resource[&Tech2/resource2...][,timeout[,options[,URL]]]) calls
// the targets at once, through their channel technologies (PJSIP, Local);
// the first to answer is bridged to the caller, the others are cancelled
// (app_dial.c). Sets DIALSTATUS (ANSWER, BUSY,
// NOANSWER, CANCEL, CONGESTION, CHANUNAVAIL, INVALIDARGS), DIALEDPEERNAME,
// DIALEDTIME, ANSWEREDTIME (and their _MS forms) and HANGUPCAUSE.
//
// Options: g (go on in the dialplan when the called party hangs up), r
// (indicate ringing to the caller at once), t and T (the called or the
// calling party may blind-transfer the other with # and an extension, as
// features.conf's default blindxfer), h and H (the called or the calling
// party may hang up with *, features.conf's default disconnect) and
// L(x[:y][:z]) (a time limit).
func (ap *Apps) Dial(e *pbx.Exec, data string) error {
	a := args(data)
	start := time.Now()
	var answeredAt time.Time
	setTimes := func() {
		end := time.Now()
		e.Ch.SetVar("DIALEDTIME", strconv.Itoa(int(end.Sub(start).Seconds())))
		e.Ch.SetVar("DIALEDTIME_MS", strconv.FormatInt(end.Sub(start).Milliseconds(), 10))
		if answeredAt.IsZero() {
			e.Ch.SetVar("ANSWEREDTIME", "")
			e.Ch.SetVar("ANSWEREDTIME_MS", "")
		} else {
			e.Ch.SetVar("ANSWEREDTIME", strconv.Itoa(int(end.Sub(answeredAt).Seconds())))
			e.Ch.SetVar("ANSWEREDTIME_MS", strconv.FormatInt(end.Sub(answeredAt).Milliseconds(), 10))
		}
	}
	finish := func(status, peer string) error {
		e.Ch.SetVar("DIALSTATUS", status)
		setTimes()
		e.SetDialResult(peer, answeredAt, status)
		return nil
	}
	targets := strings.Split(arg(a, 0), "&")
	if arg(a, 0) == "" {
		e.Ch.Log().Warn("Dial requires an argument (technology/resource)")
		return finish("INVALIDARGS", "")
	}
	var timeout <-chan time.Time
	if f, err := strconv.ParseFloat(arg(a, 1), 64); err == nil && f > 0 {
		t := time.NewTimer(time.Duration(f * float64(time.Second)))
		defer t.Stop()
		timeout = t.C
	}
	opts := arg(a, 2)
	num, name := e.Ch.CallerID()

	var legs []*dialed
	var lastPeer string
	failCause := 0   // the cause of the first leg that could not be requested
	var denied error // billing refused a leg
	for _, t := range targets {
		t = strings.TrimSpace(t)
		out, err := ap.svc.Techs.Request(e.Ctx, t, channel.Request{Parent: e.Ch, CallerNum: num, CallerName: name})
		if err != nil {
			cause := channel.CauseOf(err)
			var cd *control.ChargeDenied
			switch {
			case errors.As(err, &cd):
				denied = err
				e.Ch.Log().Info("Dial: refused by billing", "target", t, "cause", cd.Cause, "detail", cd.Detail)
			case errors.Is(err, tenancy.ErrCallLimit):
				e.Ch.Log().Warn("Dial: tenant at its limit of concurrent calls", "target", t, "tenant", e.Ch.Tenant())
			case errors.Is(err, tenancy.ErrServiceOff):
				e.Ch.Log().Warn("Dial: refused, service switched off", "target", t, "tenant", e.Ch.Tenant(), "err", err)
			case errors.Is(err, channel.ErrNoTechnology), errors.Is(err, channel.ErrBadDialString):
				e.Ch.Log().Warn("Dial: bad dial string", "target", t, "err", err)
			default:
				e.Ch.Log().Info("Dial: unable to create channel", "target", t, "err", err)
			}
			// ast_request's cause: congestion wins over the others, as
			// app_dial's handle_cause counts it apart.
			if failCause == 0 || cause == q850.Congestion {
				failCause = cause
			}
			continue
		}
		_, res, _ := channel.SplitDialString(t)
		// app_dial gives the outgoing channel the caller's context and
		// extension, which a directed Pickup names.
		dialCtx, dialExten, _ := e.Ch.Location()
		out.Channel.SetDialedFrom(dialCtx, dialExten)
		e.Ch.PublishWith(events.Event{Kind: events.DialBegin, DialString: res}, out.Channel)
		legs = append(legs, &dialed{out: out})
		lastPeer = out.Channel.Name
	}
	if len(legs) == 0 {
		status := "CHANUNAVAIL"
		switch {
		case denied != nil:
			// Refused by billing: the caller hears why (BILLING_DENIED_FILE,
			// default im-sorry) and the call is rejected (cause 21).
			chargeOutcome(e.Ch, nil, denied)
			prompt := "im-sorry"
			if v, ok := e.Ch.GetVar("BILLING_DENIED_FILE"); ok {
				prompt = v
			}
			if prompt != "" {
				_, _, _ = ap.streamFiles(e, strings.Split(prompt, "&"), "")
			}
			failCause = q850.CallRejected
		case failCause == q850.Congestion:
			status = "CONGESTION"
		default:
			// chan_pjsip's cause for an endpoint it cannot reach.
			failCause = q850.SubscriberAbsent
		}
		e.Ch.SetHangupCause(failCause)
		e.Ch.SetVar("HANGUPCAUSE", strconv.Itoa(failCause))
		return finish(status, "")
	}
	e.Ch.SetVar("DIALEDPEERNAME", "")
	if hasDialOption(opts, 'r') {
		_ = e.Ch.Indicate(channel.IndicateRinging)
	}

	ended := func(d *dialed, status string) {
		if d.done {
			return
		}
		d.done = true
		d.status = status
		d.out.Channel.WithdrawPickup()
		e.Ch.PublishWith(events.Event{Kind: events.DialEnd, DialStatus: status}, d.out.Channel)
	}
	abandon := func(except *dialed, cause int, status string) {
		for _, d := range legs {
			if d == except || d.done {
				continue
			}
			d.out.Channel.Hangup(cause)
			ended(d, status)
			e.PBX.Destroy(d.out.Channel)
		}
	}

	// Merge leg events into one stream the loop can select on.
	type legEvent struct {
		d    *dialed
		ev   channel.Progress
		pick *channel.PickupRequest // a picker asks for the leg
	}
	evs := make(chan legEvent, 8*len(legs))
	for _, d := range legs {
		picks := d.out.Channel.OfferPickup()
		go func(d *dialed) {
			for {
				select {
				case ev, ok := <-d.out.Events:
					if !ok {
						return
					}
					evs <- legEvent{d: d, ev: ev}
					if ev.Kind == channel.Answered || ev.Kind == channel.Failed {
						return
					}
				case r := <-picks:
					evs <- legEvent{d: d, ev: channel.Progress{Kind: channel.Answered}, pick: &r}
					return
				}
			}
		}(d)
	}
	// The caller hears the early media of one leg at a time: the first
	// that sends some, then, if that one fails, another that did.
	var early func()
	var earlyLeg *dialed
	defer func() {
		if early != nil {
			early()
		}
	}()
	hearEarly := func(d *dialed) {
		if early == nil && e.Ch.Media() != nil && d.out.Channel.Media() != nil {
			early, earlyLeg = media.Bridge(e.Ch.Media(), d.out.Channel.Media()), d
		}
	}
	pending := len(legs)
	var winner *dialed
	for winner == nil && pending > 0 {
		select {
		case le := <-evs:
			d, ev := le.d, le.ev
			switch ev.Kind {
			case channel.Ringing:
				_ = e.Ch.Indicate(channel.IndicateRinging)
				e.Ch.PublishWith(events.Event{Kind: events.DialState, DialStatus: "RINGING"}, d.out.Channel)
			case channel.EarlyMedia:
				// Early media from the callee reaches the caller.
				_ = e.Ch.Indicate(channel.IndicateProgress)
				e.Ch.PublishWith(events.Event{Kind: events.DialState, DialStatus: "PROGRESS"}, d.out.Channel)
				d.early = true
				hearEarly(d)
			case channel.Answered:
				if le.pick != nil {
					// Pickup (ast_do_pickup): the picker answers
					// in the ringing leg's place, unless the leg
					// is done or the picker gave up meanwhile.
					if d.done || !le.pick.Accept() {
						if d.done {
							le.pick.Refuse()
						}
						continue
					}
					d.picker = le.pick.Picker
				}
				winner = d
			case channel.Failed:
				pending--
				d.cause, d.code = ev.Cause, ev.Code
				ended(d, statusForCause(ev.Cause))
				e.PBX.Destroy(d.out.Channel)
				if d == earlyLeg {
					// The caller stops hearing a leg that is gone, and
					// hears another leg's early media if one sent some.
					early()
					early, earlyLeg = nil, nil
					for _, o := range legs {
						if o.early && !o.done {
							hearEarly(o)
							break
						}
					}
				}
			}
		case <-timeout:
			abandon(nil, q850.NormalClearing, "NOANSWER")
			// A caller hung up after this gets 480 (PJSIP's cause 19).
			e.Ch.SetHangupCause(q850.NoAnswer)
			e.Ch.SetVar("HANGUPCAUSE", strconv.Itoa(q850.NoAnswer))
			return finish("NOANSWER", lastPeer)
		case <-e.Ctx.Done():
			abandon(nil, q850.NormalClearing, "CANCEL")
			_ = finish("CANCEL", lastPeer)
			return channel.ErrHangup
		}
	}
	if winner == nil {
		// Every leg failed: report the most telling cause, as app_dial
		// keeps the "best" status among the outgoing channels.
		status, cause := "CHANUNAVAIL", 0
		for _, d := range legs {
			s := statusForCause(d.cause)
			if rank(s) > rank(status) {
				status, cause = s, d.cause
			}
			if cause == 0 {
				cause = d.cause
			}
		}
		if cause != 0 {
			e.Ch.SetHangupCause(cause)
		}
		e.Ch.SetVar("HANGUPCAUSE", strconv.Itoa(cause))
		return finish(status, lastPeer)
	}
	abandon(winner, q850.AnsweredElsewhere, "CANCEL")
	peer := winner.out.Channel
	answeredAt = time.Now()
	ended(winner, "ANSWER")
	if winner.picker != nil {
		peer = pickedUp(e, winner.out.Channel, winner.picker)
	}
	e.Ch.SetVar("DIALEDPEERNAME", peer.Name)
	e.Ch.SetVar("DIALSTATUS", "ANSWER")
	e.SetDialResult(peer.Name, answeredAt, "ANSWER")
	if early != nil {
		early()
		early = nil
	}
	// destroy forgets the peer once the call is over: not a picker, whose
	// own dialplan does.
	destroy := func() {
		if winner.picker == nil {
			e.PBX.Destroy(peer)
		}
	}
	if err := e.Ch.Answer(e.Ctx); err != nil {
		peer.Hangup(q850.NormalClearing)
		destroy()
		_ = finish("CANCEL", peer.Name)
		return channel.ErrHangup
	}
	grant := winner.out.Grant
	chargeOutcome(e.Ch, grant, nil)
	// A picker runs its own dialplan: it is not transferred from here.
	f := dialFeatures(opts)
	if winner.picker != nil {
		f.calleeTransfer, f.callerTransfer = false, false
	}
	res, err := ap.bridge(e, peer, f, newCallLimit(e, opts, grant))
	settleCharge(e.Ch, grant, answeredAt, time.Now())
	cause := peer.HangupCause()
	e.Ch.SetVar("HANGUPCAUSE", strconv.Itoa(cause))
	_ = finish("ANSWER", peer.Name)
	switch {
	case res.callerTo != "":
		// The callee transferred the caller (t): the caller goes on in
		// the dialplan at the dialled extension; the callee is hung up.
		ap.blindTransferred(e, e.Ch, peer, res.callerTo)
		peer.Hangup(q850.NormalClearing)
		destroy()
		ctxName, _, _ := e.Ch.Location()
		return e.Goto(ctxName, res.callerTo, "1")
	case res.calleeTo != "":
		// The caller transferred the callee (T): the callee runs the
		// dialplan at the extension, on its own; the caller is done.
		ap.blindTransferred(e, peer, e.Ch, res.calleeTo)
		ctxName, _, _ := e.Ch.Location()
		peer.SetLocation(ctxName, res.calleeTo, 1)
		go e.PBX.HandleCall(peer)
		e.Ch.Hangup(q850.NormalClearing)
		return pbx.ErrStop()
	}
	destroy()
	peerHungUp := res.peerHungUp
	if err != nil {
		return err
	}
	if res.callerDisconnect {
		e.Ch.Hangup(q850.NormalClearing)
		return pbx.ErrStop()
	}
	if peerHungUp && !hasDialOption(opts, 'g') {
		// Without g, the caller is hung up when the callee hangs up.
		e.Ch.Hangup(q850.NormalClearing)
		return pbx.ErrStop()
	}
	return nil
}

// bridgeResult tells how a bridge ended.
type bridgeResult struct {
	peerHungUp bool
	callerTo   string // t: the callee sent the caller to this extension
	calleeTo   string // T: the caller sent the callee to this extension
	// callerDisconnect: the caller pressed the disconnect key (H).
	callerDisconnect bool
}

// blindTransferKey starts a blind transfer (features.conf's default
// blindxfer => #).
const blindTransferKey = '#'

// transferDigitTimeout is features.conf's transferdigittimeout.
const transferDigitTimeout = 3 * time.Second

// features are the DTMF features each side of a bridge may use (Dial's
// and Queue's t, T, h and H).
type features struct {
	calleeTransfer, callerTransfer bool // # and an extension (blindxfer)
	calleeHangup, callerHangup     bool // * (disconnect)
}

// dialFeatures reads Dial's (and Queue's) feature options.
func dialFeatures(opts string) features {
	return features{calleeTransfer: hasDialOption(opts, 't'), callerTransfer: hasDialOption(opts, 'T'),
		calleeHangup: hasDialOption(opts, 'h'), callerHangup: hasDialOption(opts, 'H')}
}

// disconnectKey ends a bridge (features.conf's default disconnect => *).
const disconnectKey = '*'

// bridge anchors media between the caller and the peer until one hangs up
// or, with t (callee may transfer) or T (caller may transfer), one side
// blind-transfers the other by pressing # and an extension of the
// caller's context (an extension that does not exist resumes the
// bridge), or, with h or H, the callee or the caller presses * to hang
// up. With a limit (Dial's L(), or billing's), the call is warned before
// its end and ended when it has lasted its limit. While a party holds the
// call, the other hears music on hold (bridgeMedia).
func (ap *Apps) bridge(e *pbx.Exec, peer *channel.Channel, f features, lim *callLimit) (bridgeResult, error) {
	a, b := e.Ch.Media(), peer.Media()
	if a == nil || b == nil {
		peer.Hangup(q850.NormalClearing)
		return bridgeResult{peerHungUp: true}, errors.New("bridge: a leg has no media")
	}
	bm := newBridgeMedia(ap, e.Ch, peer, a, b)
	defer bm.close()
	start := time.Now()
	var warnC, endC <-chan time.Time
	if lim != nil {
		end := time.NewTimer(lim.limit)
		defer end.Stop()
		endC = end.C
		if lim.warning > 0 {
			warn := time.NewTimer(lim.limit - lim.warning)
			defer warn.Stop()
			warnC = warn.C
		}
	}
	e.Ch.SetPeer(peer)
	peer.SetPeer(e.Ch)
	// Bridge events as Asterisk's basic bridge reports them
	// (manager_bridges.c): create, each channel enters, leaves, destroy.
	br := events.Bridge{UniqueID: channel.NewBridgeID(), Type: "basic", Technology: "simple_bridge", Creator: "Dial"}
	bus := e.PBX.Channels().Bus()
	if bus.HasSubscribers() {
		b := br
		bus.Publish(events.Event{Kind: events.BridgeCreate, Bridge: &b, Tenant: e.Ch.Tenant()})
	}
	enter := func(ch *channel.Channel, n int) {
		b := br
		b.NumChannels = n
		ch.Publish(events.Event{Kind: events.BridgeEnter, Bridge: &b})
	}
	enter(e.Ch, 1)
	enter(peer, 2)
	defer func() {
		e.Ch.SetPeer(nil)
		peer.SetPeer(nil)
		b1, b2 := br, br
		b1.NumChannels = 1
		peer.Publish(events.Event{Kind: events.BridgeLeave, Bridge: &b1})
		e.Ch.Publish(events.Event{Kind: events.BridgeLeave, Bridge: &b2})
		if bus.HasSubscribers() {
			b := br
			bus.Publish(events.Event{Kind: events.BridgeDestroy, Bridge: &b, Tenant: e.Ch.Tenant()})
		}
	}()
	var callerKeys, calleeKeys <-chan media.DTMF
	if f.callerTransfer || f.callerHangup {
		callerKeys = a.DTMF()
	}
	if f.calleeTransfer || f.calleeHangup {
		calleeKeys = b.DTMF()
	}
	ctxName, _, _ := e.Ch.Location()
	for {
		select {
		case <-bm.holdA():
			bm.update()
		case <-bm.holdB():
			bm.update()
		case <-warnC:
			left := lim.limit - time.Since(start)
			bm.pause()
			ap.announce(e, peer, lim, warningSounds(lim.warnFile, left, e.Ch.Language()))
			bm.resume()
			warnC = nil
			if lim.repeat > 0 && left > lim.repeat {
				warnC = time.After(lim.repeat)
			}
		case <-endC:
			// The time limit: the caller hears LIMIT_TIMEOUT_FILE (if
			// set) and the callee is hung up, as a peer that hangs up.
			e.Ch.Log().Info("call time limit reached", "limit", lim.limit)
			if lim.timeoutFile != "" {
				bm.pause()
				ap.announce(e, peer, lim, strings.Split(lim.timeoutFile, "&"))
			}
			peer.Hangup(q850.NormalClearing)
			return bridgeResult{peerHungUp: true}, nil
		case <-peer.Done():
			return bridgeResult{peerHungUp: true}, nil
		case <-e.Ctx.Done():
			peer.Hangup(q850.NormalClearing)
			return bridgeResult{}, channel.ErrHangup
		case d := <-callerKeys:
			switch {
			case d.Digit == blindTransferKey && f.callerTransfer:
				if x := transferTarget(e, a, peer.Done(), ctxName); x != "" {
					return bridgeResult{calleeTo: x}, nil
				}
			case d.Digit == disconnectKey && f.callerHangup:
				// The caller leaves the bridge and is hung up; the
				// callee goes with the bridge.
				e.Ch.Log().Info("caller pressed the disconnect key")
				peer.Hangup(q850.NormalClearing)
				return bridgeResult{callerDisconnect: true}, nil
			}
		case d := <-calleeKeys:
			switch {
			case d.Digit == blindTransferKey && f.calleeTransfer:
				if x := transferTarget(e, b, peer.Done(), ctxName); x != "" {
					return bridgeResult{callerTo: x}, nil
				}
			case d.Digit == disconnectKey && f.calleeHangup:
				e.Ch.Log().Info("callee pressed the disconnect key")
				peer.Hangup(q850.NormalClearing)
				return bridgeResult{peerHungUp: true}, nil
			}
		}
	}
}

// transferTarget collects the extension a transferer dials after the
// transfer key, digit by digit while more digits could still match; it
// returns "" when the extension does not exist or the collection stops.
func transferTarget(e *pbx.Exec, from *media.Session, gone <-chan struct{}, ctxName string) string {
	plan := e.PBX.Dialplan()
	digits := ""
	for {
		t := time.NewTimer(transferDigitTimeout)
		select {
		case d := <-from.DTMF():
			t.Stop()
			digits += string(d.Digit)
			if !plan.MatchMore(ctxName, digits) {
				goto done
			}
			continue
		case <-t.C:
		case <-gone:
			t.Stop()
			return ""
		case <-e.Ctx.Done():
			t.Stop()
			return ""
		}
		break
	}
done:
	if digits != "" && plan.Exists(ctxName, digits, 1) {
		e.Ch.Log().Info("blind transfer", "context", ctxName, "exten", digits)
		return digits
	}
	e.Ch.Log().Info("blind transfer to an invalid extension, resuming the call", "context", ctxName, "exten", digits)
	return ""
}

func statusForCause(cause int) string {
	switch cause {
	case q850.UserBusy:
		return "BUSY"
	case q850.NoAnswer, q850.NoUserResponse:
		return "NOANSWER"
	case q850.Congestion, q850.SwitchCongestion, q850.TemporaryFailure, q850.NetworkOutOfOrder:
		return "CONGESTION"
	case q850.NormalClearing:
		return "CANCEL"
	}
	return "CHANUNAVAIL"
}

// rank orders dial results so the most informative one is reported.
func rank(status string) int {
	switch status {
	case "BUSY":
		return 4
	case "NOANSWER":
		return 3
	case "CONGESTION":
		return 2
	case "CANCEL":
		return 1
	}
	return 0
}
