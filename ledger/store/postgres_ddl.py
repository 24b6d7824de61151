"""The chained append as a PostgreSQL function (docs/ledger-format.md §6.1): its text, kept
apart from the recorder that creates it (``ledger/store/postgres.py``) so the format's
database side reads as one piece."""

from __future__ import annotations

# ledger-format §6.1. SECURITY DEFINER: it runs as the ledger's owner, so the service needs
# no INSERT on the events and no UPDATE on the head; search_path is pinned and every name
# qualified, so nothing the caller creates can stand in for them.
APPEND_FUNCTION = """
CREATE OR REPLACE FUNCTION {append}(
    expected_position bigint, expected_hash bytea, ids {oid}[], versions bigint[],
    topics text[], states bytea[], prevs bytea[], hashes bytea[], only_new boolean)
RETURNS TABLE (inserted bigint, found_ids {oid}[], head_position bigint, head_hash bytea)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    n integer := coalesce(cardinality(hashes), 0);
    at_position bigint;
    at_hash bytea;
    stored {oid}[];
BEGIN
    IF n = 0 OR cardinality(ids) IS DISTINCT FROM n OR cardinality(versions) IS DISTINCT FROM n
       OR cardinality(topics) IS DISTINCT FROM n OR cardinality(states) IS DISTINCT FROM n
       OR cardinality(prevs) IS DISTINCT FROM n THEN
        RAISE EXCEPTION 'govledger: a batch of % hashes with arrays of other lengths', n
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT hd.position, hd.hash INTO at_position, at_hash
        FROM {head} AS hd WHERE hd.singleton = 1 FOR UPDATE;
    IF at_position IS NULL THEN
        RAISE EXCEPTION 'govledger: the ledger has no head record' USING ERRCODE = 'no_data_found';
    END IF;
    IF at_position IS DISTINCT FROM expected_position OR at_hash IS DISTINCT FROM expected_hash THEN
        RETURN QUERY SELECT 0::bigint, ARRAY[]::{oid}[], at_position, at_hash;
        RETURN;
    END IF;
    IF only_new THEN
        stored := ARRAY(
            SELECT u.x FROM unnest(ids) AS u(x),
            LATERAL (SELECT 1 FROM {events} AS e
                     WHERE e.originator_id = u.x AND e.notification_id >= 1 LIMIT 1) AS f);
        IF cardinality(stored) > 0 THEN
            RETURN QUERY SELECT 0::bigint, stored, at_position, at_hash;
            RETURN;
        END IF;
    END IF;
    -- Each row links to the one before: one pass over each array (a subscript inside a loop
    -- would walk the array from its start each time). Hash sizes: the table's CHECK.
    IF prevs[1] IS DISTINCT FROM at_hash
       OR (n > 1 AND prevs[2:n] IS DISTINCT FROM hashes[1:n - 1]) THEN
        RAISE EXCEPTION 'govledger: the batch does not chain onto the head at %', at_position
            USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO {events} (notification_id, originator_id, originator_version, topic, state,
                          prev_hash, hash)
        SELECT at_position + u.i, u.oid_, u.ver, u.top, u.st, u.pr, u.hs
        FROM unnest(ids, versions, topics, states, prevs, hashes) WITH ORDINALITY
             AS u(oid_, ver, top, st, pr, hs, i);
    UPDATE {head} SET position = at_position + n, hash = hashes[n] WHERE singleton = 1;
    RETURN QUERY SELECT n::bigint, ARRAY[]::{oid}[], at_position + n, hashes[n];
END $fn$
"""
