-- Speech grammars per tenant (docs/speech.md): JSGF text that the
-- tenant's dialplan loads by name with SpeechLoadGrammar(name,NAME) or
-- AGI SPEECH LOAD GRAMMAR; the nodes receive them through the change feed.
CREATE TABLE speech_grammars (
	tenant TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	body TEXT NOT NULL,
	revision BIGINT NOT NULL,
	created_at {{timestamp}} NOT NULL,
	updated_at {{timestamp}} NOT NULL,
	PRIMARY KEY (tenant, name)
);
