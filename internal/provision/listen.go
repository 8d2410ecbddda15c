package provision

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// NotifyChannel is the PostgreSQL NOTIFY channel every committed
// provisioning write signals on.
const NotifyChannel = "entvoice_provision"

// ListenPostgres wakes this Repo's Notify subscribers when another process
// commits a provisioning write to the PostgreSQL database at dsn (LISTEN
// entvoice_provision). It runs until ctx ends, reconnecting after errors
// with a back-off; it wakes subscribers after every reconnect too, since
// notifications sent while disconnected are lost.
func (r *Repo) ListenPostgres(ctx context.Context, dsn string) error {
	backoff := 100 * time.Millisecond
	for {
		err := r.listenOnce(ctx, dsn)
		if ctx.Err() != nil {
			return nil
		}
		r.log.Warn("provision: LISTEN connection lost; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func (r *Repo) listenOnce(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("provision: listen: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		return fmt.Errorf("provision: listen: %w", err)
	}
	r.wake()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return nil
			}
			return fmt.Errorf("provision: listen: %w", err)
		}
		r.wake()
	}
}
