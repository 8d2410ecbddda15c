// Package billing prices calls and keeps the money: rate decks (versioned,
// imported from CSV all or nothing), rate plans and their assignment to
// tenants, users and trunks, accounts whose balance is the sum of an
// append-only journal, a Rater that rates every stored CDR exactly once
// and debits the caller's account, a prepaid Authorizer that grants a
// call the longest duration its balance pays for, and statements.
//
// The exact arithmetic is in the money sub-package, the pure tariff logic
// (CSV, bands, longest-prefix index, cost) in tariff; this package holds
// the store, the catalog cache and the services built on them.
//
// Compared with the tools operators put beside Asterisk: CGRateS rates by
// "increments" each rounded to a fixed number of decimals, and A2Billing
// stores rates with four decimals and rounds the cost of each increment;
// both can miss a cent on long calls. Here a price keeps nine decimals and
// a call is rounded once, by its plan's rule. Decks of a million prefixes
// load in seconds (bulk COPY on PostgreSQL, batched INSERTs on SQLite)
// rather than the minutes users report.
package billing

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/billing/money"
	"github.com/entvoice/entvoice/internal/billing/tariff"
)

// Errors the API maps to HTTP statuses.
var (
	// ErrNotFound: no such deck, plan, account... (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request contradicts the stored state (409).
	ErrConflict = errors.New("conflict")
)

// FieldError is one bad field (or line, for imports) of a request.
type FieldError = tariff.LineError

// InputError lists the bad fields of a request (HTTP 422).
type InputError struct {
	Errors []FieldError
	More   int
}

func (e *InputError) Error() string {
	if len(e.Errors) == 1 && e.More == 0 {
		f := e.Errors[0]
		if f.Line > 0 {
			return fmt.Sprintf("line %d: %s: %s", f.Line, f.Field, f.Message)
		}
		return f.Field + ": " + f.Message
	}
	return fmt.Sprintf("%d invalid fields or lines", len(e.Errors)+e.More)
}

func invalid(field, format string, args ...any) *InputError {
	return &InputError{Errors: []FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// Settings are a tenant's billing defaults.
type Settings struct {
	Tenant string `json:"tenant"`
	// Currency of new decks and accounts when none is given. A tenant
	// without settings uses DefaultCurrency.
	Currency money.Currency `json:"currency"`
	// TimeZone is the IANA zone of bands and of dates without an offset.
	TimeZone string `json:"timezone"`
	tariff.NumberPlan
	UpdatedAt time.Time `json:"updated_at"`
}

// Defaults of a tenant without settings.
const (
	DefaultCurrency = "EUR"
	DefaultTimeZone = "UTC"
)

// Location returns the settings' time zone (UTC if it cannot be loaded).
func (s Settings) Location() *time.Location {
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Deck is a named rate table of a tenant, in one currency.
type Deck struct {
	ID        int64          `json:"-"`
	Tenant    string         `json:"tenant"`
	Name      string         `json:"name"`
	Currency  money.Currency `json:"currency"`
	CreatedAt time.Time      `json:"created_at"`
	Versions  []Version      `json:"versions"`
}

// Version is one import of a deck.
type Version struct {
	ID            int64     `json:"-"`
	DeckID        int64     `json:"-"`
	Version       int       `json:"version"`
	EffectiveFrom time.Time `json:"effective_from"`
	Rates         int64     `json:"rates"`
	Prefixes      int64     `json:"prefixes"`
	Note          string    `json:"note,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
}

// Plan is decks tried in priority order with one rounding rule.
type Plan struct {
	ID        int64          `json:"-"`
	Tenant    string         `json:"tenant"`
	Name      string         `json:"name"`
	Currency  money.Currency `json:"currency"`
	Rounding  money.Rounding `json:"rounding"`
	Decks     []PlanDeck     `json:"decks"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// PlanDeck is a deck of a plan; the lowest Priority is tried first.
type PlanDeck struct {
	Deck     string `json:"deck"`
	Priority int    `json:"priority"`
	deckID   int64
}

// Assignment scopes.
const (
	ScopeTenant = "tenant"
	ScopeUser   = "user"
	ScopeTrunk  = "trunk"
)

// Assignment binds a plan to a tenant, a user or a trunk of it.
type Assignment struct {
	Tenant    string    `json:"tenant"`
	Scope     string    `json:"scope"`
	Subject   string    `json:"subject"`
	Plan      string    `json:"plan"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Account kinds.
const (
	Prepaid  = "prepaid"
	Postpaid = "postpaid"
)

// Account holds money of a tenant's user (or account code). Balance is
// the sum of its journal, in minor units of Currency.
type Account struct {
	ID       int64          `json:"-"`
	Tenant   string         `json:"tenant"`
	Name     string         `json:"name"`
	Kind     string         `json:"kind"`
	Currency money.Currency `json:"currency"`
	// CreditLimit is how far below zero a postpaid account may go (minor
	// units); 0 for prepaid.
	CreditLimit int64 `json:"credit_limit"`
	// OfflineCap is what a node may let the account spend while central
	// is unreachable (minor units); default 0: refuse.
	OfflineCap int64     `json:"offline_cap"`
	Balance    int64     `json:"balance"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Floor is the lowest balance the account may reach: 0 for prepaid,
// -CreditLimit for postpaid.
func (a *Account) Floor() int64 {
	if a.Kind == Postpaid {
		return -a.CreditLimit
	}
	return 0
}

// Journal entry kinds.
const (
	KindTopUp      = "topup"
	KindAdjustment = "adjustment"
	KindCall       = "call"
	KindRerate     = "rerate"
)

// Entry is one journal row.
type Entry struct {
	ID          int64     `json:"id"`
	AccountID   int64     `json:"-"`
	Kind        string    `json:"kind"`
	Ref         string    `json:"ref"`
	Amount      int64     `json:"amount"`
	Note        string    `json:"note,omitempty"`
	EffectiveAt time.Time `json:"effective_at"`
	CreatedAt   time.Time `json:"created_at"`
}

// Rating statuses.
const (
	StatusRated    = "rated"
	StatusUnrated  = "unrated"
	StatusUnbilled = "unbilled"
)

// Rating is the billing result of one CDR.
type Rating struct {
	UniqueID    string    `json:"uniqueid"`
	CDRID       int64     `json:"cdr_id"`
	Tenant      string    `json:"tenant"`
	AccountID   int64     `json:"-"`
	Account     string    `json:"account,omitempty"`
	Status      string    `json:"status"`
	Reason      string    `json:"reason,omitempty"`
	Number      string    `json:"number,omitempty"`
	Prefix      string    `json:"prefix,omitempty"`
	Description string    `json:"description,omitempty"`
	RateID      int64     `json:"rate_id,omitempty"`
	PlanID      int64     `json:"-"`
	DeckID      int64     `json:"-"`
	DeckVersion int       `json:"deck_version,omitempty"`
	BillSec     int64     `json:"billsec"`
	Billable    int64     `json:"billable"`
	Cost        int64     `json:"cost"`
	Currency    string    `json:"currency,omitempty"`
	Start       time.Time `json:"start"`
	RatedAt     time.Time `json:"rated_at"`
	Rerates     int       `json:"rerates,omitempty"`
}

// validName checks an object name (deck, plan, account): 1-64
// characters, no control characters or '/'.
func validName(field, s string) *InputError {
	if s == "" || len(s) > 64 || strings.ContainsAny(s, "/\\") || strings.IndexFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		return invalid(field, "%q: want 1 to 64 printable characters, no '/'", s)
	}
	return nil
}
