-- Node certificate renewal over the link (internal/cluster/renew.go).
-- next_serial / next_fingerprint name a certificate the hub has signed for
-- a linked node and not yet seen in use. The hub accepts it as well as
-- serial until it is confirmed (the node's ack after storing it, or the
-- node connecting with it), then moves it into serial: only from then on
-- is the previous certificate superseded.
ALTER TABLE nodes ADD COLUMN next_serial TEXT NOT NULL DEFAULT '';
ALTER TABLE nodes ADD COLUMN next_fingerprint TEXT NOT NULL DEFAULT '';
