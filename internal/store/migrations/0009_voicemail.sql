-- Voicemail. vm_mailboxes: provisioned mailboxes (Asterisk's realtime
-- voicemail table, scoped by tenant): the PIN only as a salted hash, the
-- other Asterisk mailbox options as a JSON object of name -> value.
-- sip_user is the SIP user whose phones get the mailbox's MWI ('' is the
-- user named like the mailbox).
CREATE TABLE vm_mailboxes (
	id {{autoid}},
	tenant TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	context TEXT NOT NULL,
	mailbox TEXT NOT NULL,
	pin_hash TEXT NOT NULL DEFAULT '',
	fullname TEXT NOT NULL DEFAULT '',
	email TEXT NOT NULL DEFAULT '',
	pager TEXT NOT NULL DEFAULT '',
	sip_user TEXT NOT NULL DEFAULT '',
	options TEXT NOT NULL DEFAULT '{}',
	revision BIGINT NOT NULL,
	created_at {{timestamp}} NOT NULL,
	updated_at {{timestamp}} NOT NULL,
	CONSTRAINT vm_mailboxes_key UNIQUE (tenant, context, mailbox)
);

-- vm_messages: the metadata of the messages a node keeps on its disk
-- (data_dir/voicemail/<context>/<mailbox>/<folder>/msgNNNN.txt), rewritten
-- per mailbox after each change there; the files are the truth. No foreign
-- key: a remote node's store has no tenants of its own.
CREATE TABLE vm_messages (
	tenant TEXT NOT NULL,
	context TEXT NOT NULL,
	mailbox TEXT NOT NULL,
	msg_id TEXT NOT NULL,
	folder TEXT NOT NULL,
	folder_no INTEGER NOT NULL,
	msgnum INTEGER NOT NULL,
	callerid TEXT NOT NULL DEFAULT '',
	origtime BIGINT NOT NULL DEFAULT 0,
	duration INTEGER NOT NULL DEFAULT 0,
	flag TEXT NOT NULL DEFAULT '',
	category TEXT NOT NULL DEFAULT '',
	dialplan_context TEXT NOT NULL DEFAULT '',
	exten TEXT NOT NULL DEFAULT '',
	callerchan TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (tenant, context, mailbox, msg_id)
);
CREATE INDEX vm_messages_order ON vm_messages (tenant, context, mailbox, folder_no, msgnum);
