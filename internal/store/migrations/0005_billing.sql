-- Billing (internal/billing): rate decks and their versions, rate plans
-- and their assignment, accounts with an append-only journal, and one
-- rating row per CDR. Money is integer minor units of the account's
-- currency (BIGINT); prices are integer nanos (10^-9 of the major unit)
-- of the deck's currency, so nothing is ever a float.

-- billing_settings: a tenant's billing defaults: the currency of its
-- decks and accounts, the time zone of bands and dates, and the dialling
-- rules that turn a dialled number into E.164.
CREATE TABLE billing_settings (
	tenant TEXT PRIMARY KEY,
	currency TEXT NOT NULL,
	timezone TEXT NOT NULL,
	country_code TEXT NOT NULL DEFAULT '',
	national_prefix TEXT NOT NULL DEFAULT '',
	international_prefix TEXT NOT NULL DEFAULT '',
	access_code TEXT NOT NULL DEFAULT '',
	updated_at {{timestamp}} NOT NULL
);

CREATE TABLE billing_decks (
	id {{autoid}},
	tenant TEXT NOT NULL,
	name TEXT NOT NULL,
	currency TEXT NOT NULL,
	created_at {{timestamp}} NOT NULL,
	CONSTRAINT billing_decks_key UNIQUE (tenant, name)
);

-- A version is one complete import of a deck; the version in force at a
-- call's start is the one with the latest effective_from at or before it
-- (the higher version on a tie: a correction).
CREATE TABLE billing_deck_versions (
	id {{autoid}},
	deck_id BIGINT NOT NULL REFERENCES billing_decks (id) ON DELETE CASCADE,
	version INTEGER NOT NULL,
	effective_from {{timestamp}} NOT NULL,
	rates BIGINT NOT NULL,
	prefixes BIGINT NOT NULL,
	note TEXT NOT NULL DEFAULT '',
	created_at {{timestamp}} NOT NULL,
	CONSTRAINT billing_deck_versions_key UNIQUE (deck_id, version)
);

-- billing_rates: the rows of a version. effective_from NULL: from the
-- version's start; effective_to NULL: open; band '' at all times.
CREATE TABLE billing_rates (
	id {{autoid}},
	version_id BIGINT NOT NULL REFERENCES billing_deck_versions (id) ON DELETE CASCADE,
	prefix TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	per_minute BIGINT NOT NULL,
	connect_fee BIGINT NOT NULL,
	min_charge BIGINT NOT NULL,
	initial_s INTEGER NOT NULL,
	increment_s INTEGER NOT NULL,
	effective_from {{timestamp}},
	effective_to {{timestamp}},
	band TEXT NOT NULL DEFAULT ''
);
CREATE INDEX billing_rates_version_prefix ON billing_rates (version_id, prefix);

-- A plan is decks tried in priority order (lowest first); the first deck
-- whose version in force has a matching prefix rates the call.
CREATE TABLE billing_plans (
	id {{autoid}},
	tenant TEXT NOT NULL,
	name TEXT NOT NULL,
	currency TEXT NOT NULL,
	rounding TEXT NOT NULL DEFAULT 'half-up',
	created_at {{timestamp}} NOT NULL,
	updated_at {{timestamp}} NOT NULL,
	CONSTRAINT billing_plans_key UNIQUE (tenant, name)
);

CREATE TABLE billing_plan_decks (
	plan_id BIGINT NOT NULL REFERENCES billing_plans (id) ON DELETE CASCADE,
	deck_id BIGINT NOT NULL REFERENCES billing_decks (id),
	priority INTEGER NOT NULL,
	PRIMARY KEY (plan_id, deck_id)
);

-- Which plan rates whose calls: scope 'tenant' (subject ''), 'user' (the
-- caller) or 'trunk' (the trunk the call left by). The most specific wins:
-- user, then trunk, then tenant.
CREATE TABLE billing_assignments (
	tenant TEXT NOT NULL,
	scope TEXT NOT NULL,
	subject TEXT NOT NULL,
	plan_id BIGINT NOT NULL REFERENCES billing_plans (id),
	updated_at {{timestamp}} NOT NULL,
	PRIMARY KEY (tenant, scope, subject)
);

-- billing_accounts: balance is the sum of the account's journal, kept in
-- the same transaction as every journal row (the check is
-- billing.Repo.VerifyBalances). credit_limit: how far below zero a
-- postpaid account may go; offline_cap: what a node may let the account
-- spend while central is unreachable.
CREATE TABLE billing_accounts (
	id {{autoid}},
	tenant TEXT NOT NULL,
	name TEXT NOT NULL,
	kind TEXT NOT NULL,
	currency TEXT NOT NULL,
	credit_limit BIGINT NOT NULL DEFAULT 0,
	offline_cap BIGINT NOT NULL DEFAULT 0,
	balance BIGINT NOT NULL DEFAULT 0,
	created_at {{timestamp}} NOT NULL,
	updated_at {{timestamp}} NOT NULL,
	CONSTRAINT billing_accounts_key UNIQUE (tenant, name)
);

-- billing_journal: append-only. kind is topup, adjustment, call or
-- rerate; ref makes each entry idempotent: a top-up's Idempotency-Key, a
-- call's CDR uniqueid, a re-rate's "<rerate id>:<uniqueid>". amount is
-- signed (credits positive). effective_at is the call's start for call
-- debits, the time of writing otherwise.
CREATE TABLE billing_journal (
	id {{autoid}},
	account_id BIGINT NOT NULL REFERENCES billing_accounts (id),
	kind TEXT NOT NULL,
	ref TEXT NOT NULL,
	amount BIGINT NOT NULL,
	note TEXT NOT NULL DEFAULT '',
	effective_at {{timestamp}} NOT NULL,
	created_at {{timestamp}} NOT NULL,
	CONSTRAINT billing_journal_ref UNIQUE (account_id, kind, ref)
);
CREATE INDEX billing_journal_account_at ON billing_journal (account_id, effective_at, id);

-- billing_ratings: one row per CDR, by uniqueid, written by the rater in
-- the same transaction as the call's debit. status: rated (cost is what
-- was debited), unrated (a plan applies but nothing matched: reason says
-- why; never silently free) or unbilled (no account or plan for the
-- caller: billing does not apply).
CREATE TABLE billing_ratings (
	uniqueid TEXT PRIMARY KEY,
	cdr_id BIGINT NOT NULL,
	tenant TEXT NOT NULL,
	account_id BIGINT,
	status TEXT NOT NULL,
	reason TEXT NOT NULL DEFAULT '',
	number TEXT NOT NULL DEFAULT '',
	prefix TEXT NOT NULL DEFAULT '',
	description TEXT NOT NULL DEFAULT '',
	rate_id BIGINT NOT NULL DEFAULT 0,
	plan_id BIGINT NOT NULL DEFAULT 0,
	deck_id BIGINT NOT NULL DEFAULT 0,
	deck_version INTEGER NOT NULL DEFAULT 0,
	billsec BIGINT NOT NULL DEFAULT 0,
	billable BIGINT NOT NULL DEFAULT 0,
	cost BIGINT NOT NULL DEFAULT 0,
	currency TEXT NOT NULL DEFAULT '',
	start {{timestamp}} NOT NULL,
	rated_at {{timestamp}} NOT NULL,
	rerates INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX billing_ratings_account_start ON billing_ratings (account_id, start);
CREATE INDEX billing_ratings_tenant_status ON billing_ratings (tenant, status, start);

-- billing_rater: the rater's floor, the cdr id below which every CDR is
-- known to be rated (one row).
CREATE TABLE billing_rater (
	id INTEGER PRIMARY KEY,
	floor BIGINT NOT NULL
);
INSERT INTO billing_rater (id, floor) VALUES (1, 0);

-- billing_rerates: the log of explicit re-rates.
CREATE TABLE billing_rerates (
	id {{autoid}},
	tenant TEXT NOT NULL,
	account TEXT NOT NULL DEFAULT '',
	period_from {{timestamp}} NOT NULL,
	period_to {{timestamp}} NOT NULL,
	reason TEXT NOT NULL DEFAULT '',
	calls BIGINT NOT NULL DEFAULT 0,
	changed BIGINT NOT NULL DEFAULT 0,
	delta BIGINT NOT NULL DEFAULT 0,
	created_at {{timestamp}} NOT NULL
);
