package billing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/billing/money"
	"github.com/entvoice/entvoice/internal/billing/tariff"
	"github.com/entvoice/entvoice/internal/store"
)

// Options configure a Service.
type Options struct {
	Store  *store.Store
	Logger *slog.Logger
	// CatalogTTL is how long a tenant's plans and decks are cached
	// (default 5 s; changes made through the Service apply at once).
	CatalogTTL time.Duration
	Rater      RaterOptions
	Authorizer AuthorizerOptions
}

// Service is billing at central: the repository, the catalog, the Rater
// (started by Start) and the Authorizer, wired so that every journal
// entry made through it reaches the Authorizer's balances.
type Service struct {
	Repo       *Repo
	Catalog    *Catalog
	Rater      *Rater
	Authorizer *Authorizer
	log        *slog.Logger

	mu   sync.Mutex
	stop context.CancelFunc
	done chan struct{}
}

// New builds a Service on a migrated store.
func New(o Options) *Service {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	repo := NewRepo(o.Store)
	cat := NewCatalog(repo, o.CatalogTTL, log)
	s := &Service{Repo: repo, Catalog: cat, log: log}
	s.Authorizer = NewAuthorizer(cat, repo, o.Authorizer)
	ro := o.Rater
	next := ro.OnJournal
	ro.OnJournal = func(acct, id int64, ref string, amount int64) {
		s.Authorizer.Journaled(acct, id, ref, amount)
		if next != nil {
			next(acct, id, ref, amount)
		}
	}
	if ro.Logger == nil {
		ro.Logger = log
	}
	s.Rater = NewRater(repo, cat, ro)
	return s
}

// Start runs the Rater on its own goroutine until Close.
func (s *Service) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		_ = s.Rater.Run(ctx)
	}()
}

// Close stops the Rater and waits for it.
func (s *Service) Close() {
	s.mu.Lock()
	stop, done := s.stop, s.done
	s.stop = nil
	s.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// ImportRequest is a deck CSV to store as a new version.
type ImportRequest struct {
	Tenant string
	// Deck is the deck's name (default "default"); it is created in
	// Currency (default: the tenant's) if it does not exist.
	Deck     string
	Currency money.Currency
	// EffectiveFrom is when the version takes over (zero: the earliest
	// effective_from of its rows; now if none has one).
	EffectiveFrom time.Time
	CSV           io.Reader
	Note          string
}

// ImportResult describes a stored version.
type ImportResult struct {
	Deck     string         `json:"deck"`
	Currency money.Currency `json:"currency"`
	Version
	// PlanCreated is set when the import created the tenant's first plan
	// ("default", with this deck) and assigned it to the tenant.
	PlanCreated bool          `json:"plan_created,omitempty"`
	Took        time.Duration `json:"-"`
}

// DefaultName is the deck and plan name of the simple path: the first
// import into a tenant without plans creates plan "default" with deck
// "default" and assigns it to the tenant.
const DefaultName = "default"

// ImportDeck parses, validates and stores a deck version, all or
// nothing: an *InputError lists every bad line.
func (s *Service) ImportDeck(ctx context.Context, req ImportRequest) (ImportResult, error) {
	t0 := time.Now()
	if req.Deck == "" {
		req.Deck = DefaultName
	}
	set, err := s.Repo.GetSettings(ctx, req.Tenant)
	if err != nil {
		return ImportResult{}, err
	}
	cur := req.Currency
	if existing, err := s.Repo.GetDeck(ctx, req.Tenant, req.Deck); err == nil {
		if !cur.IsZero() && cur != existing.Currency {
			return ImportResult{}, invalid("currency", "deck %s is in %s", req.Deck, existing.Currency)
		}
		cur = existing.Currency
	} else if !errors.Is(err, ErrNotFound) {
		return ImportResult{}, err
	}
	if cur.IsZero() {
		cur = set.Currency
	}
	if ie := validName("deck", req.Deck); ie != nil {
		return ImportResult{}, ie
	}
	data, err := io.ReadAll(req.CSV)
	if err != nil {
		return ImportResult{}, fmt.Errorf("billing: read deck: %w", err)
	}
	loc := set.Location()
	rates, err := tariff.ParseCSV(bytes.NewReader(data), tariff.ParseOptions{Currency: cur, Location: loc})
	var te *tariff.ImportError
	if errors.As(err, &te) {
		return ImportResult{}, &InputError{Errors: te.Errors, More: te.More}
	}
	if err != nil {
		return ImportResult{}, err
	}
	deck, _, err := s.Repo.EnsureDeck(ctx, req.Tenant, req.Deck, cur)
	if err != nil {
		return ImportResult{}, err
	}
	v, err := s.Repo.AddVersion(ctx, deck, req.EffectiveFrom, rates, req.Note)
	if err != nil {
		return ImportResult{}, err
	}
	res := ImportResult{Deck: deck.Name, Currency: deck.Currency, Version: v}
	if req.Deck == DefaultName {
		plans, err := s.Repo.ListPlans(ctx, req.Tenant)
		if err != nil {
			return res, err
		}
		if len(plans) == 0 {
			if _, err := s.Repo.PutPlan(ctx, Plan{Tenant: req.Tenant, Name: DefaultName, Currency: cur, Decks: []PlanDeck{{Deck: DefaultName, Priority: 1}}}); err != nil {
				return res, err
			}
			if _, err := s.Repo.PutAssignment(ctx, Assignment{Tenant: req.Tenant, Scope: ScopeTenant, Plan: DefaultName}); err != nil {
				return res, err
			}
			res.PlanCreated = true
		}
	}
	s.Catalog.Invalidate(req.Tenant)
	res.Took = time.Since(t0)
	s.log.Info("billing: deck version imported", "tenant", req.Tenant, "deck", deck.Name, "version", v.Version, "rates", v.Rates,
		"effective_from", v.EffectiveFrom, "took", res.Took.Round(time.Millisecond))
	return res, nil
}

// PutSettings stores a tenant's settings.
func (s *Service) PutSettings(ctx context.Context, set Settings) (Settings, error) {
	out, err := s.Repo.PutSettings(ctx, set)
	s.Catalog.Invalidate(set.Tenant)
	return out, err
}

// PutPlan stores a plan.
func (s *Service) PutPlan(ctx context.Context, p Plan) (Plan, error) {
	out, err := s.Repo.PutPlan(ctx, p)
	s.Catalog.Invalidate(p.Tenant)
	return out, err
}

// DeletePlan deletes an unassigned plan.
func (s *Service) DeletePlan(ctx context.Context, tenant, name string) error {
	err := s.Repo.DeletePlan(ctx, tenant, name)
	s.Catalog.Invalidate(tenant)
	return err
}

// PutAssignment stores an assignment.
func (s *Service) PutAssignment(ctx context.Context, a Assignment) (Assignment, error) {
	out, err := s.Repo.PutAssignment(ctx, a)
	s.Catalog.Invalidate(a.Tenant)
	return out, err
}

// DeleteAssignment removes an assignment.
func (s *Service) DeleteAssignment(ctx context.Context, tenant, scope, subject string) error {
	err := s.Repo.DeleteAssignment(ctx, tenant, scope, subject)
	s.Catalog.Invalidate(tenant)
	return err
}

// PutAccount creates or changes an account.
func (s *Service) PutAccount(ctx context.Context, a Account) (Account, bool, error) {
	out, created, err := s.Repo.PutAccount(ctx, a)
	s.Catalog.Invalidate(a.Tenant)
	return out, created, err
}

// Post appends a top-up or adjustment (idempotent by c.Key).
func (s *Service) Post(ctx context.Context, tenant, account string, c Credit) (Entry, bool, error) {
	acct, err := s.Repo.GetAccount(ctx, tenant, account)
	if err != nil {
		return Entry{}, false, err
	}
	e, replayed, err := s.Repo.Post(ctx, acct, c)
	if err == nil && !replayed {
		s.Authorizer.Journaled(acct.ID, e.ID, e.Ref, e.Amount)
		s.log.Info("billing: journal entry", "tenant", tenant, "account", account, "kind", c.Kind, "amount", money.FormatAmount(c.Amount, acct.Currency),
			"currency", acct.Currency.Code(), "key", c.Key)
	}
	return e, replayed, err
}

// AccountBalance returns an account with what authorizations see of it.
func (s *Service) AccountBalance(ctx context.Context, tenant, account string) (Balance, error) {
	acct, err := s.Repo.GetAccount(ctx, tenant, account)
	if err != nil {
		return Balance{}, err
	}
	b, err := s.Authorizer.Balance(ctx, acct)
	if err != nil {
		return Balance{}, err
	}
	// The store's balance is authoritative for display.
	b.Account = acct
	b.Available = acct.Balance - acct.Floor() - b.Reserved - b.Pending
	return b, nil
}

// Ratings returns the rating rows of the given CDR uniqueids.
func (s *Service) Ratings(ctx context.Context, uniqueids []string) (map[string]Rating, error) {
	return s.Repo.Ratings(ctx, uniqueids)
}
