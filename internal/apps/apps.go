// Package apps holds the dialplan applications: Answer, Playback, Read,
// Dial, Record and the rest, with Asterisk 22's arguments, options and
// result variables (PLAYBACKSTATUS, READSTATUS, DIALSTATUS, RECORD_STATUS).
package apps

import (
	"context"
	"log/slog"
	"strings"

	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/prompts"
	"github.com/entvoice/entvoice/internal/sipua"
)

// Dialer places outbound legs (the SIP server).
type Dialer interface {
	Call(ctx context.Context, t sipua.Target, o sipua.CallOptions) (*sipua.Outbound, error)
}

// Services are what applications use besides the channel.
type Services struct {
	Prompts       *prompts.Library
	Files         *media.FileCache
	Dialer        Dialer
	RecordingsDir string
	Logger        *slog.Logger
}

// Register adds every application to the PBX.
func Register(p *pbx.PBX) {
	for name, app := range map[string]pbx.App{
		"Answer":      Answer,
		"Hangup":      Hangup,
		"NoOp":        NoOp,
		"Verbose":     Verbose,
		"Log":         Log,
		"Set":         Set,
		"MSet":        MSet,
		"Goto":        Goto,
		"GotoIf":      GotoIf,
		"ExecIf":      ExecIf,
		"Gosub":       Gosub,
		"Return":      Return,
		"Wait":        Wait,
		"Busy":        Busy,
		"Congestion":  Congestion,
		"Progress":    Progress,
		"Ringing":     Ringing,
		"Playback":    Playback,
		"Background":  Background,
		"WaitExten":   WaitExten,
		"Read":        Read,
		"SayDigits":   SayDigits,
		"SayNumber":   SayNumber,
		"SayAlpha":    SayAlpha,
		"SayPhonetic": SayPhonetic,
		"Echo":        Echo,
		"Record":      Record,
		"Dial":        Dial,
	} {
		p.Register(name, app)
	}
}

func services(e *pbx.Exec) *Services {
	s, _ := e.Services().(*Services)
	return s
}

// args splits application data with Asterisk's rules.
func args(data string) []string {
	if strings.TrimSpace(data) == "" {
		return nil
	}
	return dialplan.SplitArgs(data)
}

// arg returns the i-th argument or "".
func arg(a []string, i int) string {
	if i < len(a) {
		return strings.TrimSpace(a[i])
	}
	return ""
}
