-- Realtime provisioning (hosted mode): tenants, SIP users, the realtime
-- extensions table, API tokens, AMI users, the change feed and the API's
-- idempotency keys. Service switches are nullable booleans (NULL: not set,
-- inherit) stored as SMALLINT 0/1 so both engines read them alike.

-- provision_revision is a single row: the last revision handed out and the
-- highest revision pruned from the change feed. Every provisioning write
-- bumps it inside its transaction; on PostgreSQL the row lock serialises
-- writers so revisions commit in order (a reader never sees revision n+1
-- before n).
CREATE TABLE provision_revision (
	id INTEGER PRIMARY KEY,
	revision BIGINT NOT NULL,
	pruned BIGINT NOT NULL
);
INSERT INTO provision_revision (id, revision, pruned) VALUES (1, 0, 0);

CREATE TABLE tenants (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL DEFAULT '',
	domain TEXT,
	status TEXT NOT NULL DEFAULT 'active',
	max_calls INTEGER NOT NULL DEFAULT 0,
	max_users INTEGER NOT NULL DEFAULT 0,
	language TEXT NOT NULL DEFAULT '',
	sw_recording SMALLINT,
	sw_voicemail SMALLINT,
	sw_agi SMALLINT,
	sw_speech SMALLINT,
	sw_outbound SMALLINT,
	sw_international SMALLINT,
	revision BIGINT NOT NULL,
	created_at {{timestamp}} NOT NULL,
	updated_at {{timestamp}} NOT NULL,
	CONSTRAINT tenants_domain_key UNIQUE (domain)
);

-- sip_users: ARA's ps_endpoints + ps_auths + ps_aors in one row. Only the
-- digest HA1s (RFC 7616 §3.4.2: H(user:realm:password)) are stored, with
-- the realm they were computed for; the password never is.
CREATE TABLE sip_users (
	id {{autoid}},
	tenant TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	realm TEXT NOT NULL,
	ha1_md5 TEXT NOT NULL,
	ha1_sha256 TEXT NOT NULL,
	context TEXT NOT NULL DEFAULT '',
	callerid TEXT NOT NULL DEFAULT '',
	language TEXT NOT NULL DEFAULT '',
	codecs TEXT NOT NULL DEFAULT '',
	permit TEXT NOT NULL DEFAULT '',
	deny TEXT NOT NULL DEFAULT '',
	max_contacts INTEGER NOT NULL DEFAULT 1,
	accountcode TEXT NOT NULL DEFAULT '',
	enabled SMALLINT NOT NULL DEFAULT 1,
	sw_recording SMALLINT,
	sw_voicemail SMALLINT,
	sw_agi SMALLINT,
	sw_speech SMALLINT,
	sw_outbound SMALLINT,
	sw_international SMALLINT,
	revision BIGINT NOT NULL,
	created_at {{timestamp}} NOT NULL,
	updated_at {{timestamp}} NOT NULL,
	CONSTRAINT sip_users_tenant_name_key UNIQUE (tenant, name)
);

-- extensions: Asterisk's realtime extensions table (contrib/realtime
-- postgresql_config.sql: context, exten, priority, app, appdata,
-- UNIQUE(context, exten, priority)) scoped by tenant, plus an optional
-- priority label as extensions.conf allows.
CREATE TABLE extensions (
	id {{autoid}},
	tenant TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	context TEXT NOT NULL,
	exten TEXT NOT NULL,
	priority INTEGER NOT NULL,
	label TEXT NOT NULL DEFAULT '',
	app TEXT NOT NULL,
	appdata TEXT NOT NULL DEFAULT '',
	revision BIGINT NOT NULL,
	CONSTRAINT extensions_key UNIQUE (tenant, context, exten, priority)
);

-- api_tokens: only the SHA-256 of a token is stored. tenant NULL: admin.
CREATE TABLE api_tokens (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL DEFAULT '',
	tenant TEXT REFERENCES tenants (id) ON DELETE CASCADE,
	hash TEXT NOT NULL,
	created_at {{timestamp}} NOT NULL,
	last_used {{timestamp}},
	CONSTRAINT api_tokens_hash_key UNIQUE (hash)
);

-- ami_users: manager.conf users. AMI's MD5 challenge login needs the
-- secret itself, so it is sealed with AES-256-GCM under the key file
-- secrets.key in data_dir (nonce || ciphertext, base64).
CREATE TABLE ami_users (
	name TEXT PRIMARY KEY,
	tenant TEXT REFERENCES tenants (id) ON DELETE CASCADE,
	secret_sealed TEXT NOT NULL,
	read_perm TEXT NOT NULL DEFAULT '',
	write_perm TEXT NOT NULL DEFAULT '',
	permit TEXT NOT NULL DEFAULT '',
	deny TEXT NOT NULL DEFAULT '',
	allow_multiple_login SMALLINT NOT NULL DEFAULT 1,
	revision BIGINT NOT NULL,
	created_at {{timestamp}} NOT NULL,
	updated_at {{timestamp}} NOT NULL
);

-- changes: the change feed. One row per object written, at the revision
-- the write got; data is the object as written (JSON, with the HA1s and the
-- sealed AMI secret a node needs), or its key fields when deleted.
CREATE TABLE changes (
	revision BIGINT PRIMARY KEY,
	entity TEXT NOT NULL,
	tenant TEXT NOT NULL DEFAULT '',
	obj_key TEXT NOT NULL,
	deleted SMALLINT NOT NULL DEFAULT 0,
	data TEXT NOT NULL,
	created_at {{timestamp}} NOT NULL
);

-- idempotency_keys: the API's stored responses to POSTs that carried an
-- Idempotency-Key, per token, until expires_at.
CREATE TABLE idempotency_keys (
	token_id TEXT NOT NULL,
	idem_key TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	status INTEGER NOT NULL,
	content_type TEXT NOT NULL DEFAULT '',
	location TEXT NOT NULL DEFAULT '',
	body TEXT NOT NULL,
	expires_at {{timestamp}} NOT NULL,
	PRIMARY KEY (token_id, idem_key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

-- The API pages CDRs of one tenant in id order (cursor pagination).
CREATE INDEX cdr_tenant_id ON cdr (tenant, id);
-- A tenant's CDRs to or from one number, in id order: without these a
-- page of one destination scans every CDR of the tenant.
CREATE INDEX cdr_tenant_dst_id ON cdr (tenant, dst, id);
CREATE INDEX cdr_tenant_src_id ON cdr (tenant, src, id);
-- Time-range pages run in (start, id) order (cdr.Filter.ByStart) off
-- these, replacing 0001's (tenant, start) and (start).
DROP INDEX cdr_tenant_start;
DROP INDEX cdr_start;
CREATE INDEX cdr_tenant_start_id ON cdr (tenant, start, id);
CREATE INDEX cdr_start_id ON cdr (start, id);
