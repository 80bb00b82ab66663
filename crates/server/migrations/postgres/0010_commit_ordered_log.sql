-- The event log in commit order without a global lock (issue 16): writers on
-- any node append events side by side; `pos`, the position streams and
-- cursors follow, is given after commit by `store::events::sequence`, in the
-- order (xid, seq), only to events of transactions older than every
-- transaction still running — so an event that commits late can never get a
-- position below one a stream has already passed.
ALTER TABLE events ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
ALTER TABLE events ADD COLUMN pos BIGINT;
UPDATE events SET pos = seq;
CREATE UNIQUE INDEX events_pos ON events(pos);
CREATE INDEX events_unsequenced ON events(xid, seq) WHERE pos IS NULL;
CREATE INDEX events_visitor_pos ON events(visitor_id, pos);
