-- The hub's pass over the event log (`read_events_numbered`, which calls
-- `number_events`) keeps its plans for the life of a connection: PL/pgSQL
-- plans a statement without parameters once. Planned while `events` was
-- still small — a new database, or one whose statistics autovacuum has not
-- taken yet (it looks every minute) — they scan the whole table: the check
-- for events still waiting (`pos IS NULL`) and the read after a position.
-- Under the lock that numbering holds, a scan that grows with the log
-- delayed every node's next pass: 3 ms per pass after 20,000 events in a
-- load test, measured with auto_explain.
--
-- Every statement in them has an index made for it (`events_unsequenced`,
-- `events_pos`), so the planner is told not to scan.
ALTER FUNCTION number_events() SET enable_seqscan = off;
ALTER FUNCTION read_events_numbered(BIGINT, BIGINT) SET enable_seqscan = off;
