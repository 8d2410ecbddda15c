-- Call queues (internal/queue): Asterisk's realtime queues and
-- queue_members tables scoped by tenant, and its queue_log table for
-- reporting (the rows a node also writes to data_dir/queue_log).

-- queues: one row per realtime queue. params holds its queues.conf keys
-- and values as a JSON object (app_queue's realtime queues table has one
-- column per key; the keys are validated by internal/queueconf instead).
-- Queue names are case-insensitive, as app_queue's: the repository
-- refuses a second name differing only in case.
CREATE TABLE queues (
	id {{autoid}},
	tenant TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	params TEXT NOT NULL DEFAULT '{}',
	revision BIGINT NOT NULL,
	created_at {{timestamp}} NOT NULL,
	updated_at {{timestamp}} NOT NULL,
	CONSTRAINT queues_key UNIQUE (tenant, name)
);

-- queue_members: app_queue's realtime queue_members (queue_name,
-- interface, membername, state_interface, penalty, paused, reason_paused,
-- wrapuptime, ringinuse), by tenant. ringinuse NULL: the queue's.
CREATE TABLE queue_members (
	id {{autoid}},
	tenant TEXT NOT NULL,
	queue_name TEXT NOT NULL,
	interface TEXT NOT NULL,
	membername TEXT NOT NULL DEFAULT '',
	state_interface TEXT NOT NULL DEFAULT '',
	penalty INTEGER NOT NULL DEFAULT 0,
	paused SMALLINT NOT NULL DEFAULT 0,
	reason_paused TEXT NOT NULL DEFAULT '',
	wrapuptime INTEGER NOT NULL DEFAULT 0,
	ringinuse SMALLINT,
	revision BIGINT NOT NULL,
	CONSTRAINT queue_members_key UNIQUE (tenant, queue_name, interface),
	CONSTRAINT queue_members_queue FOREIGN KEY (tenant, queue_name) REFERENCES queues (tenant, name) ON DELETE CASCADE
);

-- queue_log: Asterisk's realtime queue_log (time, callid, queuename,
-- agent, event, data1..data5: the file's data split at '|'), with the
-- tenant and the node that wrote the row.
CREATE TABLE queue_log (
	id {{autoid}},
	tenant TEXT NOT NULL,
	node TEXT NOT NULL DEFAULT '',
	time {{timestamp}} NOT NULL,
	callid TEXT NOT NULL,
	queuename TEXT NOT NULL,
	agent TEXT NOT NULL,
	event TEXT NOT NULL,
	data1 TEXT NOT NULL DEFAULT '',
	data2 TEXT NOT NULL DEFAULT '',
	data3 TEXT NOT NULL DEFAULT '',
	data4 TEXT NOT NULL DEFAULT '',
	data5 TEXT NOT NULL DEFAULT ''
);
CREATE INDEX queue_log_queue_time ON queue_log (tenant, queuename, time);
