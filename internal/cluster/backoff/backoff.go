// Package backoff spaces the attempts of a connection that keeps failing:
// exponential back-off with full jitter. Each wait is drawn uniformly
// between zero and a ceiling that doubles after every failure, from Min up
// to Max, so that the nodes of a site, or the instances of a central, do
// not redial in step after an outage. The node link (internal/cluster/link) and the event
// subscriptions between central instances (internal/cluster/hub) use it.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is when to retry.
type Policy struct {
	// Min is the first ceiling, Max the highest.
	Min, Max time.Duration
	// Stable is how long an attempt must have lasted for the next failure
	// to start again from Min (a link that held is not a link that keeps
	// failing).
	Stable time.Duration
}

// Default is the node link's and the instance subscriptions' policy:
// waits of up to 250 ms at first, up to 10 s after repeated failures, and
// a connection that held for 30 s starts again from 250 ms.
func Default() Policy {
	return Policy{Min: 250 * time.Millisecond, Max: 10 * time.Second, Stable: 30 * time.Second}
}

// Run calls attempt until ctx ends. After each return of attempt (a
// connection that failed or ended) it calls failed with its error, unless
// ctx has ended, and waits before the next attempt.
func (p Policy) Run(ctx context.Context, attempt func(context.Context) error, failed func(error)) {
	ceiling := p.Min
	for ctx.Err() == nil {
		start := time.Now()
		err := attempt(ctx)
		if ctx.Err() != nil {
			return
		}
		failed(err)
		if time.Since(start) > p.Stable {
			ceiling = p.Min
		}
		t := time.NewTimer(Jitter(ceiling))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		ceiling = min(2*ceiling, p.Max)
	}
}

// Jitter is a wait drawn uniformly from [0, ceiling] (full jitter).
func Jitter(ceiling time.Duration) time.Duration {
	return rand.N(ceiling + 1)
}
