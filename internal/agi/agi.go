// Package agi is the Asterisk side of AGI and FastAGI (res/res_agi.c):
// the dialplan applications AGI() and EAGI() start a local script (its
// stdin/stdout carry the protocol) or connect to a FastAGI server
// (agi://host[:port][/script], hagi:// with an SRV lookup), send the agi_*
// environment block and execute the script's commands on the channel,
// answering with Asterisk 22's reply grammar. AGISTATUS is SUCCESS,
// FAILURE, NOTFOUND or HANGUP afterwards. AGI(agi:async) is AsyncAGI:
// the commands come from AMI's AGI action (async.go).
package agi

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entvoice/entvoice/internal/apps"
	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/prompts"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// Database is Asterisk's astdb as the DATABASE commands use it, within the
// channel's tenant.
type Database interface {
	Get(ctx context.Context, tenant, family, key string) (string, bool, error)
	Put(ctx context.Context, tenant, family, key, value string) error
	Del(ctx context.Context, tenant, family, key string) (bool, error)
	DelTree(ctx context.Context, tenant, family, keytree string) (int64, error)
}

// DefaultPort is the FastAGI port (res_agi.c AGI_PORT).
const DefaultPort = 4573

// DefaultVersion is sent as agi_version. Scripts gate features on the
// major version, and entVoice answers as Asterisk 22 does.
const DefaultVersion = "22.10.1"

// MaxLine bounds one command line from a script. Asterisk reads into an
// 8 KiB buffer and silently splits longer lines into several commands; a
// line longer than this ends the session with AGISTATUS=FAILURE instead.
const MaxLine = 64 << 10

// Options configure the AGI applications.
type Options struct {
	// Dir is where relative script paths are looked up (agi_dir,
	// Asterisk's astagidir).
	Dir string
	// ConnectTimeout bounds a FastAGI connect, DNS lookup included
	// (agi.connect_timeout; Asterisk's MAX_AGI_CONNECT is 2 s).
	ConnectTimeout time.Duration
	// IdleTimeout ends a session whose script sends no command for this
	// long, with AGISTATUS=FAILURE (agi.idle_timeout; 0 = no limit, as
	// Asterisk).
	IdleTimeout time.Duration
	// DB is the DATABASE commands' astdb; nil makes them fail (result=0
	// / -1 as Asterisk's do when its database is unusable).
	DB Database
	// Sounds are what STREAM FILE, GET DATA and the like play.
	Sounds prompts.Sounds
	// RecordingsDir is where RECORD FILE puts a relative file name.
	RecordingsDir string
	// Version is agi_version (default DefaultVersion).
	Version string
	// Logger receives session diagnostics (default: the channel's).
	Logger *slog.Logger
	// Resolver looks up SRV records for hagi:// (default net.DefaultResolver).
	Resolver SRVResolver
	// Speech serves the SPEECH commands (nil: SPEECH CREATE fails, as
	// in Asterisk without a speech engine).
	Speech *apps.Speech
}

// AGI runs the AGI and EAGI applications.
type AGI struct {
	opts    Options
	reg     *channel.Registry // the PBX's channels (AMI AGI looks channels up)
	threads atomic.Int64

	mu     sync.Mutex
	live   map[*transport]struct{}
	async  map[*channel.Channel]*asyncQueue // AsyncAGI command queues
	closed bool
}

// track registers a session's transport so Close can end it; it is false
// once the service is closed.
func (a *AGI) track(t *transport) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return false
	}
	if a.live == nil {
		a.live = map[*transport]struct{}{}
	}
	a.live[t] = struct{}{}
	return true
}

func (a *AGI) untrack(t *transport) {
	a.mu.Lock()
	delete(a.live, t)
	a.mu.Unlock()
}

// Close ends every session still running (scripts that keep a dead
// channel's session open when the node shuts down, AsyncAGI sessions
// waiting for commands) with AGISTATUS FAILURE, and makes later AGI()
// calls fail.
func (a *AGI) Close() {
	a.mu.Lock()
	a.closed = true
	live := make([]*transport, 0, len(a.live))
	for t := range a.live {
		live = append(live, t)
	}
	a.mu.Unlock()
	for _, t := range live {
		t.abort()
	}
}

// New returns the AGI service.
func New(opts Options) *AGI {
	if opts.Version == "" {
		opts.Version = DefaultVersion
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 5 * time.Second
	}
	if opts.Dir == "" {
		opts.Dir = "/var/lib/asterisk/agi-bin"
	}
	if opts.Resolver == nil {
		opts.Resolver = netResolver{}
	}
	a := &AGI{opts: opts}
	// A base that looks like a pthread_t, as scripts log agi_threadid.
	a.threads.Store(139_800_000_000_000)
	return a
}

// Register adds AGI and EAGI to the PBX.
func Register(p *pbx.PBX, opts Options) *AGI {
	a := New(opts)
	a.reg = p.Channels()
	p.Register("AGI", a.App)
	p.Register("EAGI", a.EApp)
	return a
}

// App is the AGI(command[,arg1[,arg2...]]) application.
func (a *AGI) App(e *pbx.Exec, data string) error { return a.exec(e, data, false) }

// EApp is EAGI(): AGI with the caller's audio on file descriptor 3 of a
// local script (8 kHz signed linear, as EAGI_AUDIO_FORMAT's default).
func (a *AGI) EApp(e *pbx.Exec, data string) error {
	if e.Ch.IsHungUp() {
		// res_agi.c eagi_exec: "EAGI cannot be run on a dead/hungup channel".
		e.Ch.Log().Error("EAGI cannot be run on a dead/hungup channel, please use AGI")
		return nil
	}
	return a.exec(e, data, true)
}

// Result is an AGI run's outcome, AGISTATUS.
type Result int

// Results.
const (
	Success Result = iota
	Failure
	NotFound
	Hangup
)

func (r Result) String() string {
	switch r {
	case Success:
		return "SUCCESS"
	case Failure:
		return "FAILURE"
	case NotFound:
		return "NOTFOUND"
	case Hangup:
		return "HANGUP"
	}
	return "FAILURE"
}

func (a *AGI) log(e *pbx.Exec) *slog.Logger {
	if a.opts.Logger != nil {
		return a.opts.Logger.With("channel", e.Ch.Name)
	}
	return e.Ch.Log()
}

// exec is agi_exec_full.
func (a *AGI) exec(e *pbx.Exec, data string, enhanced bool) error {
	log := a.log(e)
	if strings.TrimSpace(data) == "" {
		log.Warn("AGI requires an argument (script)")
		return fmt.Errorf("AGI requires an argument (script)")
	}
	if !e.Ch.Allowed(tenancy.ServiceAGI) {
		log.Warn("AGI refused: the agi service is switched off for this channel", "tenant", e.Ch.Tenant())
		e.Ch.SetVar("AGISTATUS", Failure.String())
		return nil
	}
	// AST_STANDARD_APP_ARGS: leading blanks of each argument go; the
	// script name is trimmed on both sides, the arguments are sent as
	// they are.
	args := dialplan.SplitArgs(data)
	args[0] = strings.TrimSpace(args[0])
	dead := e.Ch.IsHungUp()
	res := a.run(e, log, args, enhanced, dead)
	e.Ch.SetVar("AGISTATUS", res.String())
	if res == Hangup {
		return channel.ErrHangup
	}
	return nil
}

func (a *AGI) nextThreadID() string {
	return strconv.FormatInt(a.threads.Add(4096), 10)
}
