package billing_test

import (
	"testing"

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
