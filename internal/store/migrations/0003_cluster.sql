-- The distributed tier (internal/cluster): one-time node enrolment tokens
-- and enrolled nodes. A token's secret is never stored, only the SHA-256
-- of the whole token; allow is a comma-separated list of CIDRs the node may
-- connect from. A node's serial is the serial number (hex) of the one
-- certificate the hub accepts for it: re-enrolment replaces it, revocation
-- sets revoked. cdr_acked is the highest node-local CDR sequence central
-- has stored, where a reconnecting node's shipper resumes.
CREATE TABLE node_tokens (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	hash TEXT NOT NULL,
	allow TEXT NOT NULL DEFAULT '',
	expires_at {{timestamp}} NOT NULL,
	used_at {{timestamp}},
	created_at {{timestamp}} NOT NULL
);

CREATE TABLE nodes (
	name TEXT PRIMARY KEY,
	serial TEXT NOT NULL,
	fingerprint TEXT NOT NULL,
	allow TEXT NOT NULL DEFAULT '',
	revoked SMALLINT NOT NULL DEFAULT 0,
	enrolled_at {{timestamp}} NOT NULL,
	last_seen {{timestamp}},
	last_addr TEXT NOT NULL DEFAULT '',
	revision BIGINT NOT NULL DEFAULT 0,
	cdr_acked BIGINT NOT NULL DEFAULT 0
);

-- central_instances: the running `entvoice server` processes sharing this
-- database, so that a command for a node linked to another instance is
-- forwarded there. seen is refreshed every heartbeat; rows older than three
-- heartbeats are ignored.
CREATE TABLE central_instances (
	id TEXT PRIMARY KEY,
	addr TEXT NOT NULL,
	seen {{timestamp}} NOT NULL
);
