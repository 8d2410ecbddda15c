// Package tariff is the pure, in-memory side of rating: rate rows, their
// CSV import with complete error reporting, time bands, the
// longest-prefix index of a deck version, number normalisation to E.164
// and the exact cost of a call.
package tariff

import (
	"errors"
	"fmt"
	"math/bits"
	"time"

	"github.com/entvoice/entvoice/internal/billing/money"
)

// Rate is one row of a deck: the price of calls to numbers starting with
// Prefix, in force from From (inclusive) to To (exclusive; zero: open),
// during Band (zero: at all times).
type Rate struct {
	// ID is the stored row's id (0 before it is stored).
	ID          int64
	Prefix      string
	Description string
	// PerMinute, Connect and MinCharge are prices in nanos of the deck's
	// currency (see money.ParseNanos).
	PerMinute int64
	Connect   int64
	MinCharge int64
	// Initial is the first billed block in seconds, Increment each
	// following block: 60/60, 30/6, 1/1. Initial 0 bills in increments
	// from the first second.
	Initial   int32
	Increment int32
	From, To  time.Time
	Band      Band
	// Line is the CSV line the row came from (0 when loaded from a store).
	Line int
}

// MaxBlockSeconds bounds Initial and Increment (one hour).
const MaxBlockSeconds = 3600

// BillableSeconds returns the seconds a call of billsec seconds is billed
// for: 0 for 0; else Initial, plus whole Increments for what exceeds it.
// With 30/6, 1 s bills 30, 31 s bills 36, 36 s bills 36, 37 s bills 42.
func (r *Rate) BillableSeconds(billsec int64) int64 {
	if billsec <= 0 {
		return 0
	}
	ini, inc := int64(r.Initial), int64(r.Increment)
	if inc <= 0 {
		inc = 1
	}
	if billsec <= ini {
		return ini
	}
	rest := billsec - ini
	return ini + (rest+inc-1)/inc*inc
}

// Cost is the price of one call, rounded once.
type Cost struct {
	// Minor is the cost in minor units of the currency.
	Minor int64
	// Billable is the billed seconds (BillableSeconds).
	Billable int64
}

// ErrTooLong reports a duration whose cost does not fit the arithmetic.
var ErrTooLong = errors.New("tariff: call too long to price")

// MaxBillableSeconds bounds the seconds priced in one call (a year).
const MaxBillableSeconds = 366 * 24 * 3600

// Cost prices a call of billsec seconds: connect fee plus PerMinute for
// each billable second (PerMinute × seconds / 60), at least MinCharge,
// rounded once to minor units of cur by mode. A call of 0 seconds (not
// answered) costs nothing: no connect fee, no minimum.
func (r *Rate) Cost(billsec int64, cur money.Currency, mode money.Rounding) (Cost, error) {
	b := r.BillableSeconds(billsec)
	if b == 0 {
		return Cost{}, nil
	}
	if b > MaxBillableSeconds {
		return Cost{}, ErrTooLong
	}
	// Everything in nanos × 60 (so the per-second division is exact).
	hi, lo := bits.Mul64(uint64(r.PerMinute), uint64(b))
	var c uint64
	lo, c = bits.Add64(lo, uint64(r.Connect)*60, 0)
	hi += c
	if hi == 0 && lo < uint64(r.MinCharge)*60 {
		lo = uint64(r.MinCharge) * 60
	}
	m, err := money.DivRound(hi, lo, 60*money.MinorDivisor(cur), mode)
	if err != nil {
		return Cost{}, fmt.Errorf("tariff: cost: %w", err)
	}
	return Cost{Minor: m, Billable: b}, nil
}

// MaxSeconds returns the longest billable duration whose cost fits in
// budget minor units: the largest Initial + k×Increment (capped at
// limit seconds), 0 if not even the first block fits. It is what a
// prepaid authorization grants.
func (r *Rate) MaxSeconds(budget int64, cur money.Currency, mode money.Rounding, limit int64) (int64, error) {
	first := r.BillableSeconds(1)
	c, err := r.Cost(first, cur, mode)
	if err != nil {
		return 0, err
	}
	if c.Minor > budget {
		return 0, nil
	}
	inc := max(int64(r.Increment), 1)
	if first >= limit {
		return limit, nil
	}
	// Binary search the number of further increments k: cost is monotonic.
	lo, hi := int64(0), (limit-first)/inc
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		c, err := r.Cost(first+mid*inc, cur, mode)
		if err != nil {
			return 0, err
		}
		if c.Minor <= budget {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return first + lo*inc, nil
}

// InForce says whether the row applies at t (From <= t < To).
func (r *Rate) InForce(t time.Time) bool {
	return !t.Before(r.From) && (r.To.IsZero() || t.Before(r.To))
}
