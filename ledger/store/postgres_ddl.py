"""The chained append as a PostgreSQL function (docs/ledger-format.md §6.1) and the roles'
grants on the chain (§6.2): kept apart from the recorder that issues them
(``ledger/store/postgres.py``) so the format's database side reads as one piece."""

from __future__ import annotations

from psycopg.sql import SQL, Composed, Identifier

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


def grant_statements(
    schema: str,
    role: str,
    tables: list[Composed],
    functions: tuple[Composed, Composed],
    originator_id_type: str,
    *,
    writer: bool,
) -> list[Composed]:
    """The grants of ledger-format §6.2 on the chain's tables and its two functions (append,
    lock): SELECT on the tables for every role; EXECUTE on the functions for the writer."""
    r = Identifier(role)
    append, lock = functions
    append_signature = SQL(
        "{}(bigint, bytea, {}[], bigint[], text[], bytea[], bytea[], bytea[], boolean)"
    ).format(append, Identifier(originator_id_type))
    statements = [SQL("GRANT USAGE ON SCHEMA {} TO {}").format(Identifier(schema), r)]
    for table in tables:
        statements += [
            SQL("REVOKE ALL ON {} FROM {}").format(table, r),
            SQL("GRANT SELECT ON {} TO {}").format(table, r),
        ]
    grant_or_revoke = (
        "GRANT EXECUTE ON FUNCTION {} TO {}" if writer else "REVOKE ALL ON FUNCTION {} FROM {}"
    )
    statements += [
        SQL(grant_or_revoke).format(append_signature, r),
        SQL(grant_or_revoke).format(SQL("{}()").format(lock), r),
    ]
    return statements
