-- Call detail records, with Asterisk's cdr columns (contrib/ast-db-manage
-- cdr versions; fields of main/cdr.c) plus id (monotonic, for cursor
-- pagination), tenant and node. Times are UTC with microseconds; answer and
-- "end" are NULL when unset. uniqueid is the idempotency key: the
-- distributed tier redelivers, the writer upserts.
CREATE TABLE cdr (
	id {{autoid}},
	tenant TEXT NOT NULL DEFAULT '',
	node TEXT NOT NULL DEFAULT '',
	accountcode TEXT NOT NULL DEFAULT '',
	src TEXT NOT NULL DEFAULT '',
	dst TEXT NOT NULL DEFAULT '',
	dcontext TEXT NOT NULL DEFAULT '',
	clid TEXT NOT NULL DEFAULT '',
	channel TEXT NOT NULL DEFAULT '',
	dstchannel TEXT NOT NULL DEFAULT '',
	lastapp TEXT NOT NULL DEFAULT '',
	lastdata TEXT NOT NULL DEFAULT '',
	start {{timestamp}} NOT NULL,
	answer {{timestamp}},
	"end" {{timestamp}},
	duration BIGINT NOT NULL DEFAULT 0,
	billsec BIGINT NOT NULL DEFAULT 0,
	disposition TEXT NOT NULL DEFAULT '',
	amaflags TEXT NOT NULL DEFAULT '',
	userfield TEXT NOT NULL DEFAULT '',
	uniqueid TEXT NOT NULL,
	linkedid TEXT NOT NULL DEFAULT '',
	peeraccount TEXT NOT NULL DEFAULT '',
	sequence BIGINT NOT NULL DEFAULT 0,
	CONSTRAINT cdr_uniqueid_key UNIQUE (uniqueid)
);
CREATE INDEX cdr_tenant_start ON cdr (tenant, start);
CREATE INDEX cdr_start ON cdr (start);
CREATE INDEX cdr_linkedid ON cdr (linkedid);

-- Asterisk's internal database (main/db.c: family/key -> value), used by
-- the AGI DATABASE commands and DB() dialplan function.
CREATE TABLE astdb (
	family TEXT NOT NULL,
	key TEXT NOT NULL,
	value TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (family, key)
);
