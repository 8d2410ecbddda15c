package billing_test

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/billing"
	"github.com/entvoice/entvoice/internal/billing/money"
	"github.com/entvoice/entvoice/internal/billing/tariff"
	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// propertyN is the number of random calls of the property tests:
// ENTVOICE_BILLING_PROPERTY_N (e.g. 1000000 for the full run), else a
// count that keeps `go test` fast.
func propertyN(t *testing.T, def int) int {
	if v := os.Getenv("ENTVOICE_BILLING_PROPERTY_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("ENTVOICE_BILLING_PROPERTY_N=%q", v)
		}
		return n
	}
	return def
}

type randDeck struct {
	csv      string
	prefixes map[string]refRate
}

type refRate struct {
	desc                       string
	perMin, connect, minCharge string // decimal text, as in the CSV
	ini, inc                   int64
}

var blocks = [][2]int64{{60, 60}, {30, 6}, {1, 1}, {0, 60}, {60, 1}, {6, 6}, {0, 1}}

func decimal(rng *rand.Rand, maxInt int) string {
	d := rng.IntN(10)
	s := strconv.Itoa(rng.IntN(maxInt + 1))
	if d > 0 {
		f := make([]byte, d)
		for i := range f {
			f[i] = byte('0' + rng.IntN(10))
		}
		s += "." + string(f)
	}
	return s
}

// newRandDeck makes a deck of n random prefixes (1 to 7 digits, nested
// often) with random prices of up to 9 decimals and random blocks.
func newRandDeck(rng *rand.Rand, n int) randDeck {
	d := randDeck{prefixes: map[string]refRate{}}
	var b strings.Builder
	b.WriteString("prefix,description,rate_per_min,connect_fee,initial_s,increment_s,effective_from,min_charge\n")
	for len(d.prefixes) < n {
		p := strconv.Itoa(1 + rng.IntN(9))
		for l := rng.IntN(7); l > 0; l-- {
			p += strconv.Itoa(rng.IntN(10))
		}
		if _, dup := d.prefixes[p]; dup {
			continue
		}
		bl := blocks[rng.IntN(len(blocks))]
		r := refRate{desc: "dest " + p, perMin: decimal(rng, 3), connect: "0", minCharge: "0", ini: bl[0], inc: bl[1]}
		if rng.IntN(4) == 0 {
			r.connect = decimal(rng, 0)
		}
		if rng.IntN(4) == 0 {
			r.minCharge = decimal(rng, 0)
		}
		d.prefixes[p] = r
		fmt.Fprintf(&b, "%s,%s,%s,%s,%d,%d,2026-01-01,%s\n", p, r.desc, r.perMin, r.connect, r.ini, r.inc, r.minCharge)
	}
	d.csv = b.String()
	return d
}

// number returns a random dialled number, usually under a deck prefix.
func (d randDeck) number(rng *rand.Rand, keys []string) string {
	p := strconv.Itoa(1 + rng.IntN(9))
	if rng.IntN(10) > 0 {
		p = keys[rng.IntN(len(keys))]
	}
	for len(p) < 11+rng.IntN(4) {
		p += strconv.Itoa(rng.IntN(10))
	}
	return p
}

// refLookup is the longest prefix by brute force.
func (d randDeck) refLookup(num string) (string, refRate, bool) {
	for l := len(num); l > 0; l-- {
		if r, ok := d.prefixes[num[:l]]; ok {
			return num[:l], r, true
		}
	}
	return "", refRate{}, false
}

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return r
}

// refCost is the reference price in math/big.Rat: billable seconds by
// the block rule, connect + per-minute × seconds / 60, at least the
// minimum, in minor units, rounded by mode.
func refCost(r refRate, billsec int64, cur money.Currency, mode money.Rounding) (int64, int64) {
	if billsec == 0 {
		return 0, 0
	}
	billable := r.ini
	if billsec > r.ini {
		over := new(big.Rat).SetFrac64(billsec-r.ini, r.inc)
		blocksUp := new(big.Int).Quo(new(big.Int).Add(over.Num(), new(big.Int).Sub(over.Denom(), big.NewInt(1))), over.Denom())
		billable = r.ini + blocksUp.Int64()*r.inc
	}
	c := new(big.Rat).Mul(rat(r.perMin), new(big.Rat).SetFrac64(billable, 60))
	c.Add(c, rat(r.connect))
	if c.Cmp(rat(r.minCharge)) < 0 {
		c = rat(r.minCharge)
	}
	c.Mul(c, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(cur.Exponent())), nil)))
	q, rem := new(big.Int).QuoRem(c.Num(), c.Denom(), new(big.Int))
	if rem.Sign() != 0 {
		cmp := new(big.Int).Mul(rem, big.NewInt(2)).Cmp(c.Denom())
		switch mode {
		case money.Up:
			q.Add(q, big.NewInt(1))
		case money.HalfUp:
			if cmp >= 0 {
				q.Add(q, big.NewInt(1))
			}
		case money.HalfEven:
			if cmp > 0 || (cmp == 0 && q.Bit(0) == 1) {
				q.Add(q, big.NewInt(1))
			}
		}
	}
	return q.Int64(), billable
}

func randBillsec(rng *rand.Rand) int64 {
	switch rng.IntN(10) {
	case 0:
		return 0
	case 1:
		return int64(1 + rng.IntN(3))
	case 2:
		return int64(55 + rng.IntN(10)) // around the first minute
	default:
		return int64(rng.IntN(7200))
	}
}

// TestPropertyCostsMatchReference: over random decks and calls, the
// index finds the brute-force longest prefix and each cost equals the
// math/big reference, in every currency exponent and rounding mode.
func TestPropertyCostsMatchReference(t *testing.T) {
	n := propertyN(t, 200_000)
	rng := rand.New(rand.NewPCG(11, uint64(n)))
	curs := []money.Currency{money.MustCurrency("EUR"), money.MustCurrency("JPY"), money.MustCurrency("BHD"), money.MustCurrency("CLF")}
	modes := []money.Rounding{money.HalfUp, money.HalfEven, money.Up, money.Down}
	perDeck := 50_000
	for done := 0; done < n; done += perDeck {
		cur := curs[rng.IntN(len(curs))]
		size := 200 + rng.IntN(2000)
		if done == 0 {
			size = 40_000 // dense index levels of a large deck
		}
		d := newRandDeck(rng, size)
		rates, err := tariff.ParseCSV(strings.NewReader(d.csv), tariff.ParseOptions{Currency: cur})
		if err != nil {
			t.Fatal(err)
		}
		ix, err := tariff.NewIndex(rates, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 0, len(d.prefixes))
		for k := range d.prefixes {
			keys = append(keys, k)
		}
		at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		for range min(perDeck, n-done) {
			num := d.number(rng, keys)
			mode := modes[rng.IntN(len(modes))]
			billsec := randBillsec(rng)
			wantP, ref, ok := d.refLookup(num)
			r, found := ix.Lookup(num, at)
			if ok != found || (found && r.Prefix != wantP) {
				t.Fatalf("lookup %s: %v %v, want %q", num, r, found, wantP)
			}
			if !found {
				continue
			}
			got, err := r.Cost(billsec, cur, mode)
			if err != nil {
				t.Fatal(err)
			}
			want, billable := refCost(ref, billsec, cur, mode)
			if got.Minor != want || got.Billable != billable {
				t.Fatalf("%s %+v billsec %d %s %s: cost %+v, reference %d (%d s)", num, ref, billsec, cur, mode, got, want, billable)
			}
		}
	}
}

// TestPropertyJournalEqualsRatings stores random calls as CDRs of three
// tenants (random decks, rounding modes), rates them with the Rater, and
// checks that every cost is the reference and that the journal's call
// debits sum to the rated costs, and the balances to the journal, to
// the minor unit.
func TestPropertyJournalEqualsRatings(t *testing.T) {
	n := propertyN(t, 6_000)
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		if opts.DSN != "" && n > 100_000 {
			t.Skip("the large run goes through SQLite")
		}
		f := newFixture(t, opts)
		rng := rand.New(rand.NewPCG(7, uint64(n)))
		type tenantDeck struct {
			name string
			deck randDeck
			keys []string
			mode money.Rounding
		}
		var tds []tenantDeck
		for i, mode := range []money.Rounding{money.HalfUp, money.HalfEven, money.Up} {
			td := tenantDeck{name: fmt.Sprintf("t%d", i), deck: newRandDeck(rng, 500), mode: mode}
			for k := range td.deck.prefixes {
				td.keys = append(td.keys, k)
			}
			f.importDeck(td.name, td.deck.csv, time.Time{})
			if _, err := f.svc.PutPlan(ctx, billing.Plan{Tenant: td.name, Name: billing.DefaultName, Rounding: mode, Decks: []billing.PlanDeck{{Deck: billing.DefaultName, Priority: 1}}}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := f.svc.PutAccount(ctx, billing.Account{Tenant: td.name, Name: "u", Kind: billing.Postpaid, CreditLimit: 1 << 50}); err != nil {
				t.Fatal(err)
			}
			tds = append(tds, td)
		}
		type expect struct {
			cost int64
			ok   bool
		}
		want := make(map[string]expect, n)
		var wantSum int64
		start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		batch := make([]cdr.Record, 0, 2000)
		flush := func() {
			if err := cdrstore.Insert(ctx, f.st, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
		for i := range n {
			td := tds[rng.IntN(len(tds))]
			num := td.deck.number(rng, td.keys)
			billsec := randBillsec(rng)
			uid := fmt.Sprintf("p%d", i)
			_, ref, ok := td.deck.refLookup(num)
			e := expect{ok: ok || billsec == 0}
			if ok {
				e.cost, _ = refCost(ref, billsec, eur, td.mode)
				wantSum += e.cost
			}
			want[uid] = e
			batch = append(batch, cdr.Record{Tenant: td.name, UniqueID: uid, Dst: num, Channel: "PJSIP/u-1", DstChannel: "PJSIP/trunk-2",
				Start: start.Add(time.Duration(i) * time.Second), BillSec: billsec, Disposition: cdr.DispositionAnswered})
			if len(batch) == cap(batch) {
				flush()
			}
		}
		flush()
		t0 := time.Now()
		f.rateAll()
		t.Logf("rated %d CDRs through the store in %v", n, time.Since(t0).Round(time.Millisecond))
		var ratedSum, journalSum, balanceSum int64
		rows, err := f.st.DB().QueryContext(ctx, `SELECT uniqueid, status, cost FROM billing_ratings`)
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for rows.Next() {
			var uid, status string
			var cost int64
			if err := rows.Scan(&uid, &status, &cost); err != nil {
				t.Fatal(err)
			}
			seen++
			w := want[uid]
			if (status == billing.StatusRated) != w.ok || cost != w.cost {
				t.Errorf("%s: %s %d, want ok=%v %d", uid, status, cost, w.ok, w.cost)
			}
			if status == billing.StatusRated {
				ratedSum += cost
			}
		}
		rows.Close()
		if seen != n {
			t.Fatalf("%d ratings for %d CDRs", seen, n)
		}
		if err := f.st.DB().QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0) FROM billing_journal WHERE kind = 'call'`).Scan(&journalSum); err != nil {
			t.Fatal(err)
		}
		if err := f.st.DB().QueryRowContext(ctx, `SELECT COALESCE(SUM(balance), 0) FROM billing_accounts`).Scan(&balanceSum); err != nil {
			t.Fatal(err)
		}
		if ratedSum != wantSum || -journalSum != ratedSum || balanceSum != journalSum {
			t.Fatalf("rated %d, reference %d, journal debits %d, balances %d", ratedSum, wantSum, -journalSum, balanceSum)
		}
		f.verify()
	})
}
