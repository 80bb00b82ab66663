-- A hub's pass over the event log in one round trip, and without an fsync of
-- its own (`store::events::numbered_after`).
--
-- Counted under load (two nodes, 1,000 msg/s): the hubs' numbering and
-- reading were 2.7 of the ~8 statements per message, and every numbering
-- that gave positions was a commit waiting for its own WAL flush, after the
-- writer's, on the way of every message to the operators.
--
-- Numbering may commit without waiting for the flush: positions are a
-- function of the durable log. A numbering lost in a crash was the last thing
-- in the WAL (anything committed after it flushed it too), and the events it
-- numbered all belong to transactions older than any event it left for later,
-- so numbering again gives each of them the position it had: a cursor a
-- client holds stays right, nothing is skipped or repeated.
CREATE OR REPLACE FUNCTION number_events(OUT numbered BIGINT, OUT held_back BOOLEAN)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(5, 0);
    PERFORM set_config('synchronous_commit', 'off', true);
    WITH base AS (SELECT COALESCE(MAX(pos), 0) AS b FROM events),
         todo AS (SELECT seq, row_number() OVER (ORDER BY xid, seq) AS n FROM events
                  WHERE pos IS NULL AND xid < pg_snapshot_xmin(pg_current_snapshot())
                  ORDER BY xid, seq LIMIT 10000)
    UPDATE events SET pos = base.b + todo.n FROM base, todo WHERE events.seq = todo.seq;
    GET DIAGNOSTICS numbered = ROW_COUNT;
    held_back := EXISTS (SELECT 1 FROM events WHERE pos IS NULL);
END
$$;

-- Numbers what has committed, then returns the events after `after_pos`
-- (at most `max_rows`), each row carrying whether some committed events still
-- wait behind an open transaction. When there is no event to return but
-- some wait, one row with a NULL position says so.
CREATE FUNCTION read_events_numbered(after_pos BIGINT, max_rows BIGINT)
RETURNS TABLE (pos BIGINT, name TEXT, conversation_id BIGINT, visitor_id BIGINT,
               data TEXT, held_back BOOLEAN)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    waiting BOOLEAN;
BEGIN
    SELECT n.held_back INTO waiting FROM number_events() AS n;
    -- A statement of its own: it sees the positions just given.
    RETURN QUERY
        SELECT e.pos, e.name, e.conversation_id, e.visitor_id, e.data, waiting
        FROM events AS e WHERE e.pos > after_pos ORDER BY e.pos LIMIT max_rows;
    IF NOT FOUND AND waiting THEN
        RETURN QUERY SELECT NULL::BIGINT, NULL::TEXT, NULL::BIGINT, NULL::BIGINT,
                            NULL::TEXT, TRUE;
    END IF;
END
$$;
