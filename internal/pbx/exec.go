package pbx

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// Exec is one channel's dialplan execution: what applications act on.
type Exec struct {
	PBX *PBX
	Ch  *channel.Channel
	// Ctx is cancelled when the channel hangs up, or when the running
	// application is interrupted by an async goto (AMI Redirect).
	Ctx context.Context

	base      context.Context // cancelled on hangup only
	jumped    bool
	cdrFrozen bool
	gosub     []frame

	mu         sync.Mutex
	cdrDst     string
	cdrContext string
	dstChannel string
	peerAnswer time.Time
	dialStatus string
	cdrVars    map[string]string
	stopApp    context.CancelFunc // interrupts the running application
	redirect   *location          // pending async goto
	stores     map[any]any        // datastores (datastore.go)
}

// location is a resolved dialplan position.
type location struct {
	context, exten string
	priority       int
}

type frame struct {
	context, exten string
	priority       int
	args           map[string]string // ARGn saved from the caller
}

func newExec(p *PBX, ch *channel.Channel) *Exec {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-ch.Done()
		cancel()
	}()
	c, x, _ := ch.Location()
	return &Exec{PBX: p, Ch: ch, Ctx: ctx, base: ctx, cdrDst: x, cdrContext: c}
}

// Goto moves the channel to a dialplan position; the step after the current
// application is then that position rather than priority+1. The priority
// may be a label. Empty context or exten keep the current ones.
func (e *Exec) Goto(context, exten, priority string) error {
	cur, curExten, _ := e.Ch.Location()
	if context == "" {
		context = cur
	} else {
		q, ok := e.QualifyContext(context)
		if !ok {
			return fmt.Errorf("context %q is not reachable from tenant %q", context, e.Ch.Tenant())
		}
		context = q
	}
	if exten == "" {
		exten = curExten
	}
	pri, err := e.resolvePriority(context, exten, priority)
	if err != nil {
		return err
	}
	e.Ch.SetLocation(context, exten, pri)
	e.jumped = true
	e.noteLocation(context, exten)
	return nil
}

// QualifyContext turns a context named in dialplan data (Goto, Gosub,
// Background's context, ...) into the node's name for it. In hosted mode
// a tenant's contexts are namespaced ("acme~internal"): a tenant channel's
// bare names are its own tenant's, so no dialplan of one tenant reaches
// another's; ok is false for a name the channel may not reach.
func (e *Exec) QualifyContext(name string) (string, bool) {
	return tenancy.Context(e.Ch.Tenant(), name)
}

func (e *Exec) resolvePriority(context, exten, priority string) (int, error) {
	priority = strings.TrimSpace(priority)
	if n, err := strconv.Atoi(priority); err == nil {
		return n, nil
	}
	plan := e.PBX.plan.Load()
	if plan == nil {
		return 0, fmt.Errorf("no dialplan")
	}
	if n, ok := plan.FindLabel(context, exten, priority); ok {
		return n, nil
	}
	return 0, fmt.Errorf("priority %q not found in %s@%s", priority, exten, context)
}

// noteLocation records the dialplan location for the CDR (dst, dcontext)
// until the h extension runs.
func (e *Exec) noteLocation(context, exten string) {
	if e.cdrFrozen || exten == "h" {
		return
	}
	e.mu.Lock()
	e.cdrDst, e.cdrContext = exten, context
	e.mu.Unlock()
}

// ParseGoto splits "[[context,]exten,]priority" (Goto's argument).
func ParseGoto(args []string) (context, exten, priority string, err error) {
	switch len(args) {
	case 1:
		return "", "", args[0], nil
	case 2:
		return "", args[0], args[1], nil
	case 3:
		return args[0], args[1], args[2], nil
	}
	return "", "", "", fmt.Errorf("want [[context,]exten,]priority, got %d arguments", len(args))
}

// PushGosub saves the return position and the caller's ARGn variables.
func (e *Exec) PushGosub(args []string) {
	c, x, p := e.Ch.Location()
	saved := map[string]string{}
	for i := 1; ; i++ {
		name := "ARG" + strconv.Itoa(i)
		v, ok := e.Ch.GetVar(name)
		if !ok {
			break
		}
		saved[name] = v
		e.Ch.UnsetVar(name)
	}
	e.gosub = append(e.gosub, frame{context: c, exten: x, priority: p + 1, args: saved})
	for i, a := range args {
		e.Ch.SetVar("ARG"+strconv.Itoa(i+1), a)
	}
}

// PopGosub returns to the position saved by the matching Gosub.
func (e *Exec) PopGosub() bool {
	if len(e.gosub) == 0 {
		return false
	}
	f := e.gosub[len(e.gosub)-1]
	e.gosub = e.gosub[:len(e.gosub)-1]
	for i := 1; ; i++ {
		name := "ARG" + strconv.Itoa(i)
		if _, ok := e.Ch.GetVar(name); !ok {
			break
		}
		e.Ch.UnsetVar(name)
	}
	for k, v := range f.args {
		e.Ch.SetVar(k, v)
	}
	e.Ch.SetLocation(f.context, f.exten, f.priority)
	e.jumped = true
	return true
}

// SetDialResult records what Dial did for the CDR: the peer channel, when it
// answered (zero if not) and DIALSTATUS.
func (e *Exec) SetDialResult(peer string, answered time.Time, status string) {
	e.mu.Lock()
	if peer != "" {
		e.dstChannel = peer
	}
	if !answered.IsZero() {
		e.peerAnswer = answered
	}
	e.dialStatus = status
	e.mu.Unlock()
}

// SetCDRVar sets a CDR() field writable from the dialplan (userfield,
// accountcode, amaflags) or a custom CDR variable.
func (e *Exec) SetCDRVar(name, value string) {
	e.mu.Lock()
	if e.cdrVars == nil {
		e.cdrVars = map[string]string{}
	}
	e.cdrVars[strings.ToLower(name)] = value
	e.mu.Unlock()
	if strings.EqualFold(name, "accountcode") {
		e.Ch.SetAccountCode(value)
	}
}

// CDRVar reads a CDR() field.
func (e *Exec) CDRVar(name string) string {
	name = strings.ToLower(name)
	e.mu.Lock()
	v, ok := e.cdrVars[name]
	e.mu.Unlock()
	if ok {
		return v
	}
	r, _ := e.PBX.buildCDRAt(e, time.Now())
	switch name {
	case "src":
		return r.Src
	case "dst":
		return r.Dst
	case "dcontext":
		return r.DContext
	case "clid":
		return r.CLID
	case "channel":
		return r.Channel
	case "dstchannel":
		return r.DstChannel
	case "lastapp":
		return r.LastApp
	case "lastdata":
		return r.LastData
	case "disposition":
		return r.Disposition
	case "uniqueid":
		return r.UniqueID
	case "linkedid":
		return r.LinkedID
	case "accountcode":
		return r.AccountCode
	case "amaflags":
		return r.AMAFlags
	case "duration":
		return strconv.FormatInt(r.Duration, 10)
	case "billsec":
		return strconv.FormatInt(r.BillSec, 10)
	case "start":
		return r.Start.Format("2006-01-02 15:04:05")
	}
	return ""
}

// MergeCallerID formats caller ID as Asterisk's ast_callerid_merge does for
// the CDR clid field.
func MergeCallerID(name, num string) string {
	switch {
	case name != "" && num != "":
		return fmt.Sprintf("%q <%s>", name, num)
	case name != "":
		return name
	default:
		return num
	}
}

func (p *PBX) buildCDR(e *Exec) (cdr.Record, bool) {
	r, answered := p.buildCDRAt(e, time.Now())
	if !answered && !p.opts.LogUnanswered {
		return r, false
	}
	r.Sequence = p.cdrSeq.Add(1)
	return r, true
}

func (p *PBX) buildCDRAt(e *Exec, end time.Time) (cdr.Record, bool) {
	ch := e.Ch
	num, name := ch.CallerID()
	app, data := ch.LastApp()
	e.mu.Lock()
	dst, dctx, dstChan, peerAns, dialStatus := e.cdrDst, e.cdrContext, e.dstChannel, e.peerAnswer, e.dialStatus
	userfield := e.cdrVars["userfield"]
	ama := e.cdrVars["amaflags"]
	e.mu.Unlock()
	if ama == "" {
		ama = "DOCUMENTATION"
	}
	answer := ch.AnsweredAt()
	if !peerAns.IsZero() {
		// A dialled call is answered when the peer answers.
		answer = peerAns
	}
	r := cdr.Record{
		AccountCode: ch.AccountCode(),
		Src:         num,
		Dst:         dst,
		DContext:    dialplan.BareContext(ch.Tenant(), dctx),
		CLID:        MergeCallerID(name, num),
		Channel:     ch.Name,
		DstChannel:  dstChan,
		LastApp:     app,
		LastData:    data,
		Start:       ch.Created,
		Answer:      answer,
		End:         end,
		AMAFlags:    ama,
		UserField:   userfield,
		UniqueID:    ch.UniqueID,
		LinkedID:    ch.LinkedID(),
		Tenant:      ch.Tenant(),
		Node:        p.opts.Node,
	}
	// Asterisk's cdr_object_finalize: duration and billsec in whole seconds
	// rounded from milliseconds.
	r.Duration = roundSeconds(end.Sub(r.Start))
	if !answer.IsZero() {
		r.BillSec = roundSeconds(end.Sub(answer))
	}
	r.Disposition = p.disposition(ch, answer, dialStatus)
	return r, !answer.IsZero()
}

func roundSeconds(d time.Duration) int64 {
	if d < 0 {
		return 0
	}
	return int64((d + 500*time.Millisecond) / time.Second)
}

// disposition follows Asterisk: answered calls are ANSWERED; a Dial result
// maps through dial_status_to_disposition; otherwise the hangup cause
// decides (busy, congestion), and NO ANSWER is the default.
func (p *PBX) disposition(ch *channel.Channel, answer time.Time, dialStatus string) string {
	if !answer.IsZero() {
		return "ANSWERED"
	}
	if dialStatus != "" {
		d := cdr.DispositionFromDialStatus(dialStatus)
		if d == "CONGESTION" && !p.opts.Congestion {
			return "FAILED"
		}
		return d
	}
	switch ch.HangupCause() {
	case q850.UserBusy:
		return "BUSY"
	case q850.Congestion, q850.SwitchCongestion:
		if p.opts.Congestion {
			return "CONGESTION"
		}
		return "FAILED"
	}
	if ch.State() == channel.StateBusy {
		return "BUSY"
	}
	return "NO ANSWER"
}

var _ dialplan.Env = (*Exec)(nil)

// Run executes another application on this channel (ExecIf, AGI EXEC).
func (e *Exec) Run(app, data string) error {
	fn, ok := e.PBX.apps[strings.ToLower(strings.TrimSpace(app))]
	if !ok {
		return fmt.Errorf("no such application %q", app)
	}
	e.Ch.SetApp(app, data)
	return fn(e, data)
}
