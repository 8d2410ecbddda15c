package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only when ENTVOICE_PPROF is set
	"os"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/memory"
	"github.com/entvoice/entvoice/internal/system"
)

// runProcess starts a built process, tells started, and stops the process when
// ctx is done (SIGTERM, Ctrl-C). The parts run on their own context until
// the shutdown is over: draining calls still need their SIP transports,
// their CDRs the store or the link.
func runProcess(ctx context.Context, p *system.Process, cfg *config.Config, log *slog.Logger, started func()) error {
	live, end := context.WithCancel(context.Background())
	defer end()
	policy, headroom := memoryPolicy(cfg.Memory)
	defer memory.Apply(policy)()
	if err := p.Start(live); err != nil {
		return err
	}
	var memWork sync.WaitGroup
	defer func() { end(); memWork.Wait() }()
	if headroom > 0 {
		memWork.Go(func() { (&memory.Tuner{Headroom: headroom, Floor: policy.GCPercent}).Run(live) })
	}
	if cfg.Memory.TrimEnabled() {
		memWork.Go(func() { memory.NewTrimmer(log, memory.TrimOptions{}).Run(live) })
	}
	started()
	defer servePprof(log)()
	<-ctx.Done()
	log.Info("shutting down")
	p.Stop()
	log.Info("stopped")
	return nil
}

// memoryPolicy is the configured runtime memory policy and GC headroom
// (bytes); GOGC and GOMEMLIMIT in the environment win, as an operator who
// sets them means (GOGC turns the headroom off).
func memoryPolicy(m config.Memory) (p memory.Policy, headroom int64) {
	if os.Getenv("GOGC") == "" {
		p.GCPercent = m.GCPercent
		if m.GCHeadroomMB != nil {
			headroom = *m.GCHeadroomMB << 20
		}
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		p.Limit = m.LimitMB << 20
	}
	return p, headroom
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// servePprof serves net/http/pprof on ENTVOICE_PPROF's address when it is
// set: profiling for benchmarks and field diagnosis, on an address the
// operator chooses (keep it on loopback). The returned func stops it.
func servePprof(log *slog.Logger) (stop func()) {
	addr := os.Getenv("ENTVOICE_PPROF")
	if addr == "" {
		return func() {}
	}
	srv := &http.Server{Addr: addr, Handler: http.DefaultServeMux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof listener failed", "addr", addr, "err", err)
		}
	}()
	return func() { _ = srv.Close() }
}
