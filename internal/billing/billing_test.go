package billing_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/entvoice/entvoice/internal/billing"
	"github.com/entvoice/entvoice/internal/billing/money"
	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	ctx = context.Background()
	jan = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	eur = money.MustCurrency("EUR")
)

const deckCSV = `prefix,description,rate_per_min,connect_fee,initial_s,increment_s,effective_from
33,France,0.012,0,60,60,2026-01-01
336,France mobile,0.60,0,30,6,2026-01-01
44,UK,0.02,0.05,1,1,2026-01-01
`

type fixture struct {
	t   *testing.T
	st  *store.Store
	svc *billing.Service
	seq int
}

func newFixture(t *testing.T, opts store.Options) *fixture {
	t.Helper()
	st := storetest.Open(t, opts)
	svc := billing.New(billing.Options{Store: st, Logger: storetest.Logger(t)})
	t.Cleanup(svc.Close)
	return &fixture{t: t, st: st, svc: svc}
}

func (f *fixture) importDeck(tenant, body string, from time.Time) billing.ImportResult {
	f.t.Helper()
	res, err := f.svc.ImportDeck(ctx, billing.ImportRequest{Tenant: tenant, CSV: strings.NewReader(body), EffectiveFrom: from})
	if err != nil {
		f.t.Fatalf("import: %v", err)
	}
	return res
}

func (f *fixture) account(tenant, name, kind string, topup string) billing.Account {
	f.t.Helper()
	a, _, err := f.svc.PutAccount(ctx, billing.Account{Tenant: tenant, Name: name, Kind: kind})
	if err != nil {
		f.t.Fatal(err)
	}
	if topup != "" {
		amt, err := money.ParseAmount(topup, a.Currency, false)
		if err != nil {
			f.t.Fatal(err)
		}
		if _, _, err := f.svc.Post(ctx, tenant, name, billing.Credit{Kind: billing.KindTopUp, Key: "init-" + name, Amount: amt}); err != nil {
			f.t.Fatal(err)
		}
	}
	return a
}

// call stores a CDR of user calling dst through trunk "carrier".
func (f *fixture) call(tenant, user, dst string, start time.Time, billsec int64) string {
	f.t.Helper()
	f.seq++
	uid := fmt.Sprintf("%s-%d", tenant, f.seq)
	disp := cdr.DispositionAnswered
	if billsec == 0 {
		disp = cdr.DispositionNoAnswer
	}
	if err := cdrstore.Insert(ctx, f.st, []cdr.Record{{Tenant: tenant, UniqueID: uid, Src: user, Dst: dst, Channel: "PJSIP/" + user + "-00000001",
		DstChannel: "PJSIP/carrier-00000002", Start: start, Answer: start.Add(2 * time.Second), End: start.Add(time.Duration(billsec+2) * time.Second),
		BillSec: billsec, Duration: billsec + 2, Disposition: disp}}); err != nil {
		f.t.Fatal(err)
	}
	return uid
}

func (f *fixture) rateAll() {
	f.t.Helper()
	for {
		n, err := f.svc.Rater.RunOnce(ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func (f *fixture) balance(tenant, name string) int64 {
	f.t.Helper()
	a, err := f.svc.Repo.GetAccount(ctx, tenant, name)
	if err != nil {
		f.t.Fatal(err)
	}
	return a.Balance
}

func (f *fixture) verify() {
	f.t.Helper()
	bad, err := f.svc.Repo.VerifyBalances(ctx)
	if err != nil || len(bad) > 0 {
		f.t.Fatalf("balances vs journal: %v %v", bad, err)
	}
}

func TestRateExactlyOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		f := newFixture(t, opts)
		res := f.importDeck("acme", deckCSV, time.Time{})
		if !res.PlanCreated || res.Rates != 3 || res.Version.Version != 1 {
			t.Fatalf("import result %+v", res)
		}
		f.account("acme", "1001", billing.Prepaid, "10")
		at := jan.AddDate(0, 1, 0)
		u1 := f.call("acme", "1001", "0612345678", at, 31)    // not normalised yet: 0612... no rule -> unrated
		u2 := f.call("acme", "1001", "+33612345678", at, 31)  // 36 s at 0.60/min = 0.36
		u3 := f.call("acme", "1001", "00441234567", at, 0)    // not answered
		u4 := f.call("acme", "1001", "+4916012345", at, 100)  // no rate: unrated
		u5 := f.call("acme", "9999", "+33612345678", at, 100) // no account: unbilled
		u6 := f.call("acme", "1001", "+441234567", at, 61)    // 0.05 + 61/60*0.02 = 0.07033 -> 0.07
		f.rateAll()
		rts, err := f.svc.Ratings(ctx, []string{u1, u2, u3, u4, u5, u6})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]struct {
			status string
			cost   int64
		}{u1: {billing.StatusUnrated, 0}, u2: {billing.StatusRated, 36}, u3: {billing.StatusRated, 0}, u4: {billing.StatusUnrated, 0},
			u5: {billing.StatusUnbilled, 0}, u6: {billing.StatusRated, 7}}
		for u, w := range want {
			if rts[u].Status != w.status || rts[u].Cost != w.cost {
				t.Errorf("%s: %+v, want %s %d", u, rts[u], w.status, w.cost)
			}
		}
		if r := rts[u2]; r.Prefix != "336" || r.Billable != 36 || r.DeckVersion != 1 || r.Currency != "EUR" || r.RateID == 0 {
			t.Errorf("u2 rating %+v", r)
		}
		if r := rts[u4]; !strings.Contains(r.Reason, "no rate for 4916012345") {
			t.Errorf("unrated reason %q", r.Reason)
		}
		if got := f.balance("acme", "1001"); got != 1000-36-7 {
			t.Fatalf("balance %d", got)
		}
		// Redelivery (the same uniqueid upserted again) and a restarted
		// rater change nothing.
		if err := cdrstore.Insert(ctx, f.st, []cdr.Record{{Tenant: "acme", UniqueID: u2, Dst: "+33612345678", Channel: "PJSIP/1001-1",
			DstChannel: "PJSIP/carrier-2", Start: at, BillSec: 31, Disposition: cdr.DispositionAnswered}}); err != nil {
			t.Fatal(err)
		}
		f.rateAll()
		again := billing.New(billing.Options{Store: f.st})
		for {
			n, err := again.Rater.RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		if got := f.balance("acme", "1001"); got != 1000-36-7 {
			t.Fatalf("balance after redelivery and restart %d", got)
		}
		f.verify()
		// Normalisation rules turn 0612... into 33612...; a re-rate finds it.
		if _, err := f.svc.PutSettings(ctx, billing.Settings{Tenant: "acme", Currency: eur, TimeZone: "Europe/Paris"}); err != nil {
			t.Fatal(err)
		}
		set, _ := f.svc.Repo.GetSettings(ctx, "acme")
		set.CountryCode, set.NationalPrefix, set.InternationalPrefix = "33", "0", "00"
		if _, err := f.svc.PutSettings(ctx, set); err != nil {
			t.Fatal(err)
		}
		rr, err := f.svc.Rerate(ctx, billing.RerateRequest{Tenant: "acme", From: jan, To: jan.AddDate(1, 0, 0), Reason: "dialling rules"})
		if err != nil {
			t.Fatal(err)
		}
		if rr.Changed != 2 || rr.Delta["EUR"] != -36 { // u1 now priced, u3 (unanswered) now matched
			t.Fatalf("rerate %+v", rr)
		}
		if got := f.balance("acme", "1001"); got != 1000-36-7-36 {
			t.Fatalf("balance after rerate %d", got)
		}
		f.verify()
	})
}

func TestVersionSwitchAtEffectiveTime(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		f := newFixture(t, opts)
		f.importDeck("acme", deckCSV, time.Time{})
		march := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		v2 := f.importDeck("acme", strings.ReplaceAll(strings.ReplaceAll(deckCSV, "2026-01-01", "2026-03-01"), "0.60", "1.20"), time.Time{})
		if v2.Version.Version != 2 || !v2.EffectiveFrom.Equal(march) {
			t.Fatalf("v2 %+v", v2)
		}
		f.account("acme", "1001", billing.Postpaid, "")
		before := f.call("acme", "1001", "+33612345678", march.Add(-time.Second), 60)
		exact := f.call("acme", "1001", "+33612345678", march, 60)
		f.rateAll()
		rts, _ := f.svc.Ratings(ctx, []string{before, exact})
		if rts[before].DeckVersion != 1 || rts[before].Cost != 60 || rts[exact].DeckVersion != 2 || rts[exact].Cost != 120 {
			t.Fatalf("before %+v exact %+v", rts[before], rts[exact])
		}
	})
}

func TestImportRefusedWhole(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		f := newFixture(t, opts)
		_, err := f.svc.ImportDeck(ctx, billing.ImportRequest{Tenant: "acme", CSV: strings.NewReader(deckCSV + "3x,bad,1,0,60,60,2026-01-01\n33,dup,1,0,60,60,2026-01-01\n")})
		var ie *billing.InputError
		if !errors.As(err, &ie) || len(ie.Errors) != 2 || ie.Errors[0].Line != 5 || ie.Errors[1].Line != 6 {
			t.Fatalf("err %v %+v", err, ie)
		}
		if ds, _ := f.svc.Repo.ListDecks(ctx, "acme"); len(ds) != 0 {
			t.Fatalf("a refused import left decks %+v", ds)
		}
		if _, err := f.svc.ImportDeck(ctx, billing.ImportRequest{Tenant: "acme", Currency: money.MustCurrency("USD"), CSV: strings.NewReader(deckCSV)}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.ImportDeck(ctx, billing.ImportRequest{Tenant: "acme", Currency: eur, CSV: strings.NewReader(deckCSV)}); !errors.As(err, &ie) {
			t.Fatalf("currency change accepted: %v", err)
		}
	})
}

func TestTopUpIdempotent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		f := newFixture(t, opts)
		f.account("acme", "1001", billing.Prepaid, "")
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				_, _, err := f.svc.Post(ctx, "acme", "1001", billing.Credit{Kind: billing.KindTopUp, Key: "k1", Amount: 500})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got := f.balance("acme", "1001"); got != 500 {
			t.Fatalf("balance %d after 8 replays", got)
		}
		if _, _, err := f.svc.Post(ctx, "acme", "1001", billing.Credit{Kind: billing.KindTopUp, Key: "k1", Amount: 700}); !errors.Is(err, billing.ErrConflict) {
			t.Fatalf("same key, other amount: %v", err)
		}
		if _, _, err := f.svc.Post(ctx, "acme", "1001", billing.Credit{Kind: billing.KindTopUp, Amount: 700}); err == nil {
			t.Fatal("top-up without key accepted")
		}
		if _, _, err := f.svc.Post(ctx, "acme", "1001", billing.Credit{Kind: billing.KindAdjustment, Key: "a1", Amount: -120, Note: "goodwill reversal"}); err != nil {
			t.Fatal(err)
		}
		if got := f.balance("acme", "1001"); got != 380 {
			t.Fatalf("balance %d", got)
		}
		f.verify()
	})
}

// TestLastCent: many goroutines authorize calls on an account that can
// pay for exactly one first block; exactly one gets it.
func TestLastCent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		f := newFixture(t, opts)
		f.importDeck("acme", "prefix,description,rate_per_min,connect_fee,initial_s,increment_s,effective_from\n33,France,0.60,0,1,1,2026-01-01\n", time.Time{})
		f.account("acme", "1001", billing.Prepaid, "0.01")
		var wg sync.WaitGroup
		var mu sync.Mutex
		var wins []*billing.Reservation
		refused := 0
		for i := range 64 {
			wg.Go(func() {
				r, err := f.svc.Authorizer.Authorize(ctx, billing.AuthRequest{Tenant: "acme", User: "1001", Destination: "+33612345678",
					UniqueID: fmt.Sprintf("c%d", i), Now: jan.AddDate(0, 1, 0)})
				mu.Lock()
				defer mu.Unlock()
				var d *billing.Denied
				switch {
				case err == nil:
					wins = append(wins, r)
				case errors.As(err, &d) && d.Cause == billing.CauseNoFunds:
					refused++
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if len(wins) != 1 || refused != 63 || wins[0].MaxSeconds != 1 || wins[0].Amount != 1 {
			t.Fatalf("%d wins (%+v), %d refused", len(wins), wins, refused)
		}
		// Released unanswered: the cent is available again.
		if s, err := f.svc.Authorizer.Settle(wins[0], 0); err != nil || s.Cost != 0 {
			t.Fatal(s, err)
		}
		if _, err := f.svc.Authorizer.Authorize(ctx, billing.AuthRequest{Tenant: "acme", User: "1001", Destination: "+33612345678", UniqueID: "again", Now: jan.AddDate(0, 1, 0)}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestAuthorizeSettleRate follows a prepaid call: granted duration,
// settlement held as pending, then replaced by the Rater's debit.
func TestAuthorizeSettleRate(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		f := newFixture(t, opts)
		f.importDeck("acme", deckCSV, time.Time{})
		f.account("acme", "1001", billing.Prepaid, "1.00")
		now := jan.AddDate(0, 1, 0)
		// France mobile 0.60/min 30/6: 1.00 pays 96 s (0.96).
		r, err := f.svc.Authorizer.Authorize(ctx, billing.AuthRequest{Tenant: "acme", User: "1001", Trunk: "carrier", Destination: "+33612345678", UniqueID: "acme-1", Now: now})
		if err != nil || r.MaxSeconds != 96 || r.Amount != 96 || r.Prefix != "336" {
			t.Fatalf("%+v %v", r, err)
		}
		if _, err := f.svc.Authorizer.Authorize(ctx, billing.AuthRequest{Tenant: "acme", User: "1001", Destination: "+33612345678", UniqueID: "acme-x", Now: now}); err == nil {
			t.Fatal("second call granted while the first holds 0.96 of 1.00 (0.04 < 0.30)")
		}
		if _, err := f.svc.Authorizer.Authorize(ctx, billing.AuthRequest{Tenant: "acme", User: "nobody", Destination: "+33612345678", UniqueID: "x", Now: now}); !errors.Is(err, billing.ErrNotBilled) {
			t.Fatalf("no account: %v", err)
		}
		var d *billing.Denied
		if _, err := f.svc.Authorizer.Authorize(ctx, billing.AuthRequest{Tenant: "acme", User: "1001", Destination: "+4930", UniqueID: "y", Now: now}); !errors.As(err, &d) || d.Cause != billing.CauseNoRate {
			t.Fatalf("no rate: %v", err)
		}
		s, err := f.svc.Authorizer.Settle(r, 40) // 42 s billed: 0.42
		if err != nil || s.Cost != 42 {
			t.Fatal(s, err)
		}
		b, _ := f.svc.AccountBalance(ctx, "acme", "1001")
		if b.Pending != 42 || b.Available != 58 || b.Reserved != 0 {
			t.Fatalf("after settle %+v", b)
		}
		f.seq = 0
		f.call("acme", "1001", "+33612345678", now, 40) // uniqueid acme-1
		f.rateAll()
		b, _ = f.svc.AccountBalance(ctx, "acme", "1001")
		if b.Pending != 0 || b.Account.Balance != 58 || b.Available != 58 {
			t.Fatalf("after rating %+v", b)
		}
		r2, err := f.svc.Authorizer.Authorize(ctx, billing.AuthRequest{Tenant: "acme", User: "1001", Destination: "+33612345678", UniqueID: "acme-2", Now: now})
		if err != nil || r2.MaxSeconds != 54 {
			t.Fatalf("%+v %v", r2, err)
		}
	})
}

func TestStatement(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		f := newFixture(t, opts)
		f.importDeck("acme", strings.Replace(deckCSV, "France mobile", "<b>Mobile</b> & co", 1), time.Time{})
		f.account("acme", "1001", billing.Postpaid, "")
		if _, _, err := f.svc.PutAccount(ctx, billing.Account{Tenant: "acme", Name: "1001", Kind: billing.Postpaid, CreditLimit: 10000}); err != nil {
			t.Fatal(err)
		}
		feb := jan.AddDate(0, 1, 0)
		f.call("acme", "1001", "+33612345678", feb.Add(-time.Hour), 60) // January
		f.call("acme", "1001", "+33612345678", feb.Add(time.Hour), 60)
		f.call("acme", "1001", "+33612345678", feb.Add(2*time.Hour), 31)
		f.call("acme", "1001", "+33123456789", feb.Add(3*time.Hour), 10)
		f.rateAll()
		if _, _, err := f.svc.Post(ctx, "acme", "1001", billing.Credit{Kind: billing.KindAdjustment, Key: "adj", Amount: 5}); err != nil {
			t.Fatal(err)
		}
		st, err := f.svc.Statement(ctx, "acme", "1001", feb, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if st.Opening != -60 || len(st.Calls) != 3 || st.CallsTotal != -(60+36+1) || st.EntriesTotal != 5 || st.Closing != -60-97+5 {
			t.Fatalf("statement %+v", st)
		}
		if len(st.Groups) != 2 || st.Groups[0].Amount != -96 || st.Groups[0].Calls != 2 {
			t.Fatalf("groups %+v", st.Groups)
		}
		var csvOut, htmlOut bytes.Buffer
		if err := st.WriteCSV(&csvOut); err != nil {
			t.Fatal(err)
		}
		if err := st.WriteHTML(&htmlOut); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(csvOut.String(), "closing,") || !strings.Contains(csvOut.String(), ",-1.52,EUR") {
			t.Errorf("csv:\n%s", csvOut.String())
		}
		if strings.Contains(htmlOut.String(), "<b>Mobile") || !strings.Contains(htmlOut.String(), "&lt;b&gt;Mobile&lt;/b&gt; &amp; co") {
			t.Errorf("html not escaped")
		}
	})
}

func TestOfflineLedger(t *testing.T) {
	l := billing.NewOfflineLedger()
	rate := mustRate(t, "0.60", 60, 60)
	if _, err := l.Authorize("acme", "1001", "u1", rate, eur, money.HalfUp, 3600); !errors.Is(err, billing.ErrOfflineRefused) {
		t.Fatalf("cap 0 granted: %v", err)
	}
	l.SetCap("acme", "1001", 150)
	secs, err := l.Authorize("acme", "1001", "u1", rate, eur, money.HalfUp, 3600)
	if err != nil || secs != 120 {
		t.Fatal(secs, err)
	}
	if _, err := l.Authorize("acme", "1001", "u2", rate, eur, money.HalfUp, 3600); !errors.Is(err, billing.ErrOfflineRefused) {
		t.Fatalf("second call beyond the cap: %v", err)
	}
	if c, _ := l.Settle("u1", 30); c != 60 || l.Spent("acme", "1001") != 60 {
		t.Fatalf("settle %d spent %d", c, l.Spent("acme", "1001"))
	}
	if _, err := l.Authorize("acme", "1001", "u2", rate, eur, money.HalfUp, 3600); err != nil {
		t.Fatal(err)
	}
	l.Reconcile([]string{"u1", "u2", "unknown"}) // u2 still up: kept
	if got := l.Spent("acme", "1001"); got != 60 {
		t.Fatalf("spent after reconcile %d", got)
	}
	_, _ = l.Settle("u2", 0)
	l.Reconcile([]string{"u2"})
	if got := l.Spent("acme", "1001"); got != 0 {
		t.Fatalf("spent %d", got)
	}
}

// TestRaterSweepsLateCommits: a CDR that becomes visible below the
// rater's head (PostgreSQL commits out of id order) is found by the
// sweep, and the floor is persisted.
func TestRaterSweepsLateCommits(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		f := newFixture(t, opts)
		f.svc = billing.New(billing.Options{Store: f.st, Rater: billing.RaterOptions{Sweep: time.Nanosecond}})
		t.Cleanup(f.svc.Close)
		var uids []string
		for range 3 {
			uids = append(uids, f.call("acme", "nobody", "+33612345678", jan, 10))
		}
		f.rateAll()
		// As if the second CDR's transaction had committed after the head
		// passed it: no rating row yet.
		if _, err := f.st.DB().ExecContext(ctx, f.st.Rebind(`DELETE FROM billing_ratings WHERE uniqueid = ?`), uids[1]); err != nil {
			t.Fatal(err)
		}
		f.rateAll()
		rts, _ := f.svc.Ratings(ctx, uids)
		if len(rts) != 3 || rts[uids[1]].Status != billing.StatusUnbilled {
			t.Fatalf("after the sweep: %+v", rts)
		}
		var floor int64
		if err := f.st.DB().QueryRowContext(ctx, `SELECT floor FROM billing_rater WHERE id = 1`).Scan(&floor); err != nil || floor != 3 {
			t.Fatalf("floor %d %v", floor, err)
		}
	})
}
