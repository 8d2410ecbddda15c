package billing_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/store"

	"github.com/entvoice/entvoice/internal/billing/money"
	"github.com/entvoice/entvoice/internal/billing/tariff"
)

func mustRate(t testing.TB, perMin string, ini, inc int32) tariff.Rate {
	t.Helper()
	n, err := money.ParseNanos(perMin)
	if err != nil {
		t.Fatal(err)
	}
	return tariff.Rate{PerMinute: n, Initial: ini, Increment: inc}
}

func insertCDRs(tb testing.TB, st *store.Store, n int) {
	tb.Helper()
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	recs := make([]cdr.Record, 0, 2000)
	for i := range n {
		recs = append(recs, cdr.Record{Tenant: "acme", UniqueID: fmt.Sprintf("r%d", i), Dst: "+33612345678", Channel: "PJSIP/1001-1",
			DstChannel: "PJSIP/carrier-2", Start: start.Add(time.Duration(i) * time.Second), BillSec: int64(i % 300), Disposition: cdr.DispositionAnswered})
		if len(recs) == cap(recs) || i == n-1 {
			if err := cdrstore.Insert(context.Background(), st, recs); err != nil {
				tb.Fatal(err)
			}
			recs = recs[:0]
		}
	}
}
