-- Fewer index entries per event on PostgreSQL.
--
-- An event is written twice: inserted without a position, then given one
-- after commit (`number_events`), and since `pos` is indexed that update is
-- a new version of the row with an entry in every index of the table. With
-- the indexes of 0003, 0004 and 0010 that was eleven index entries an event.
-- Counted per statement under load (BENCHMARKS, "Two round trips a batch"),
-- the event log's writes are a large part of PostgreSQL's work per message.
--
-- * `events_visitor` (visitor_id, seq) serves SQLite, whose positions are
--   the ids; on PostgreSQL a visitor's events are read by position
--   (`events_visitor_pos`), and nothing reads by visitor and id.
-- * `events_pos` and `events_visitor_pos` took an entry for the NULL of every
--   event not yet numbered, which nothing looks up (the events still waiting
--   are found through `events_unsequenced`): they now hold numbered events
--   only. Every reader asks for positions after, before or at most some
--   value, which implies `pos IS NOT NULL`, and the lookups of the highest
--   and lowest position do too, so the planner keeps using them.
--
-- The indexes are built again within the migration's transaction: the event
-- log is locked meanwhile, on a large log for as long as reading it takes
-- (the nodes are being upgraded anyway).
DROP INDEX events_visitor;

CREATE UNIQUE INDEX events_pos_given ON events(pos) WHERE pos IS NOT NULL;
DROP INDEX events_pos;
ALTER INDEX events_pos_given RENAME TO events_pos;

CREATE INDEX events_visitor_pos_given ON events(visitor_id, pos) WHERE pos IS NOT NULL;
DROP INDEX events_visitor_pos;
ALTER INDEX events_visitor_pos_given RENAME TO events_visitor_pos;
