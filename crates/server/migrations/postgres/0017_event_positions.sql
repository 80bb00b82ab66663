-- Positions in a narrow table of their own: an event is written once.
--
-- Until now the numbering (`number_events`) gave an event its position by
-- updating its row: a second version of the whole row, data and all, with an
-- entry in each of its four indexes (`pos` is indexed, so the update is never
-- HOT), and a dead version for vacuum to clear — on every message, on the
-- way of every message to the operators (BENCHMARKS, "Where two nodes' time
-- goes on two cores": events 22,001 updates, 0 HOT, in a run of 20,000
-- messages). Now the event row is never touched again; its position is a
-- row of `event_positions` — four numbers, two index entries.
--
-- What is left to number is found without a flag on the event: numbering
-- goes in (xid, seq) order, so everything up to the last numbered event's
-- (xid, seq) has a position and everything after it that is older than
-- every transaction still open is next. The index on (xid, seq) takes the
-- one entry an event had in `events_unsequenced`.
--
-- Positions keep their values: the numbered events are copied over, those
-- not numbered yet get theirs at the first pass after the upgrade, after
-- the copied ones. The event log is locked meanwhile, on a large log for as
-- long as reading it takes (the nodes are being upgraded anyway).
CREATE TABLE event_positions (
    pos BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    xid xid8 NOT NULL,
    -- The event's visitor, whose stream reads by position.
    visitor_id BIGINT
);
INSERT INTO event_positions (pos, seq, xid, visitor_id)
SELECT pos, seq, xid, visitor_id FROM events WHERE pos IS NOT NULL;
CREATE INDEX event_positions_visitor ON event_positions(visitor_id, pos)
    WHERE visitor_id IS NOT NULL;

CREATE INDEX events_transaction ON events(xid, seq);
DROP INDEX events_unsequenced;
DROP INDEX events_pos;
DROP INDEX events_visitor_pos;
ALTER TABLE events DROP COLUMN pos;

-- As in 0013, but inserting positions: after the last numbered event in
-- (xid, seq) order, the events of transactions older than every one still
-- running. The comparison is on both columns because a pass numbers at
-- most 10,000 events and may stop inside a transaction's.
CREATE OR REPLACE FUNCTION number_events(OUT numbered BIGINT, OUT held_back BOOLEAN)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    last_pos BIGINT := 0;
    last_xid xid8 := '0';
    last_seq BIGINT := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(5, 0);
    PERFORM set_config('synchronous_commit', 'off', true);
    -- Statements of their own: they see what the last holder of the lock
    -- committed.
    SELECT p.pos, p.xid, p.seq INTO last_pos, last_xid, last_seq
    FROM event_positions AS p ORDER BY p.pos DESC LIMIT 1;
    IF NOT FOUND THEN
        last_pos := 0; last_xid := '0'; last_seq := 0;
    END IF;
    WITH todo AS (
        SELECT e.seq, e.xid, e.visitor_id
        FROM events AS e
        WHERE (e.xid, e.seq) > (last_xid, last_seq)
          AND e.xid < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY e.xid, e.seq LIMIT 10000
    ), given AS (
        INSERT INTO event_positions (pos, seq, xid, visitor_id)
        SELECT last_pos + row_number() OVER (ORDER BY todo.xid, todo.seq),
               todo.seq, todo.xid, todo.visitor_id
        FROM todo
        RETURNING event_positions.pos, event_positions.xid, event_positions.seq
    )
    SELECT count(*), max(g.pos) INTO numbered, last_pos FROM given AS g;
    IF numbered > 0 THEN
        SELECT p.xid, p.seq INTO last_xid, last_seq
        FROM event_positions AS p WHERE p.pos = last_pos;
    END IF;
    held_back := EXISTS (SELECT 1 FROM events AS e WHERE (e.xid, e.seq) > (last_xid, last_seq));
END
$$;

CREATE OR REPLACE FUNCTION read_events_numbered(after_pos BIGINT, max_rows BIGINT)
RETURNS TABLE (pos BIGINT, name TEXT, conversation_id BIGINT, visitor_id BIGINT,
               data TEXT, held_back BOOLEAN)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    waiting BOOLEAN;
BEGIN
    SELECT n.held_back INTO waiting FROM number_events() AS n;
    -- A statement of its own: it sees the positions just given.
    RETURN QUERY
        SELECT p.pos, e.name, e.conversation_id, e.visitor_id, e.data, waiting
        FROM event_positions AS p JOIN events AS e ON e.seq = p.seq
        WHERE p.pos > after_pos ORDER BY p.pos LIMIT max_rows;
    IF NOT FOUND AND waiting THEN
        RETURN QUERY SELECT NULL::BIGINT, NULL::TEXT, NULL::BIGINT, NULL::BIGINT,
                            NULL::TEXT, TRUE;
    END IF;
END
$$;

-- Replacing a function resets its settings: those of 0014 again.
ALTER FUNCTION number_events() SET enable_seqscan = off;
ALTER FUNCTION read_events_numbered(BIGINT, BIGINT) SET enable_seqscan = off;
-- And no JIT compilation, whatever a plan's estimate: a pass runs under the
-- numbering's lock, where compiling would cost every node tens of
-- milliseconds. (Planned with the values at hand the search for what is
-- left estimates a row or two; a generic plan would guess a third of the
-- log.)
ALTER FUNCTION number_events() SET jit = off;
ALTER FUNCTION read_events_numbered(BIGINT, BIGINT) SET jit = off;
