package sipua

import (
	"context"
	"log/slog"
)

// quietParseErrors is the handler sipgo's transport and transaction layers
// log through. sipgo logs every datagram it cannot parse at ERROR with the
// whole datagram attached, and every failed TLS handshake or WebSocket
// upgrade as an error too: anyone able to reach the SIP ports could fill
// the logs that way. Those records go to DEBUG; the rest pass as is.
type quietParseErrors struct{ slog.Handler }

func (h quietParseErrors) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError && quiet(r.Message) {
		if !h.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietParseErrors) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, l)
}

func (h quietParseErrors) WithAttrs(a []slog.Attr) slog.Handler {
	return quietParseErrors{h.Handler.WithAttrs(a)}
}

func (h quietParseErrors) WithGroup(name string) slog.Handler {
	return quietParseErrors{h.Handler.WithGroup(name)}
}

// quiet reports the messages of sipgo's that peers cause at will.
func quiet(msg string) bool {
	switch msg {
	case "failed to parse", "Server tx failed to handle request", "Read error", "Fail to upgrade", "Read filter error":
		return true
	}
	return false
}
