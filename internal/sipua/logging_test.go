package sipua

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestQuietParseErrors(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(quietParseErrors{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})}).With("caller", "TransportLayer")
	log.Error("failed to parse", "data", "\x80garbage")
	log.Error("listener failed", "err", "boom")
	out := buf.String()
	if strings.Contains(out, "failed to parse") {
		t.Errorf("parse error logged at INFO level: %s", out)
	}
	if !strings.Contains(out, "listener failed") {
		t.Errorf("other errors must pass: %s", out)
	}
	buf.Reset()
	dbg := slog.New(quietParseErrors{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})})
	dbg.Error("failed to parse", "data", "x")
	if !strings.Contains(buf.String(), "level=DEBUG") {
		t.Errorf("parse error should show at DEBUG: %s", buf.String())
	}
}
