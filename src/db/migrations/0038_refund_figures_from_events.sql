-- The refund figures of existing Stripe payments, taken again from the stored events. Migration 0034 derived them
-- from the rows: a charge's reported_amount_refunded as the stored amount plus what the former rule had taken off,
-- a refund's undone_at as its row's version, and no refund_created_at at all. Where the former rule had already
-- corrupted a charge (a failed refund taken off twice: once at its failure, again when a later update of the
-- refund moved its row's version past the charge's), that carried the corruption into the new columns, and every
-- recount since has kept it. Here, for every row whose events are stored:
--   - a charge's reported_amount_refunded is the charge object's amount_refunded in the event that last wrote the
--     row (source_event_id), or, where that event's same-second tie was settled by fetching the charge
--     (provider_snapshots), the fetched charge's, as of its fetch (reported_as_of): what projectCharge writes;
--   - a refund's refund_created_at is the refund object's `created` in the event that last wrote its row (its own
--     charge.refund.updated, or a charge event listing it);
--   - a refund's undone_at is the earliest processed event that showed it failed or canceled (either kind of event),
--     unless the row holds an earlier time: every value the column has held is the time of an event that showed
--     the refund ended, and that event may since have been deleted by retention (which keeps only the event that
--     last wrote each row), so a stored later one never moves it later;
--   - every charge's amount_refunded is computed again with the current rule (recountChargeRefunded): what its
--     figure reported, less the refunds it counted (created by then) that ended after it.
-- A row whose event is no longer readable (deleted, or its raw body pruned with no payload kept, or a figure that
-- is not an integer) keeps its values; its charge's amount is still computed from them, which changes it only
-- where one of its refunds' times was corrected. (An erasure redacts a person's events, it keeps their amounts and
-- times: those are read.) Set-based: the rows' events are found on the events' unique key; the one scan of events
-- reads the charge and refund events of workspaces that have refunds, and parses only those whose body mentions
-- "failed" or "canceled". Each body is parsed once (the OFFSET 0 subqueries are evaluated once per event, where
-- the planner would otherwise copy the parse into every expression that reads the object), and the MATERIALIZED
-- lists keep only the few fields read. Running it again changes nothing. `sluice rebuild --apply` re-projects a
-- workspace from all its events and arrives at the same figures where every event is kept.

-- Refunds: when each was created, from the event that last wrote its row.
WITH found AS MATERIALIZED (
  SELECT r.id,
         -- A Unix time Stripe gives as a number (normalize.ts: time()); anything else leaves the row as it is.
         CASE WHEN jsonb_typeof(f.refund -> 'created') = 'number' THEN (f.refund ->> 'created')::numeric END AS created
  FROM payments r
  JOIN events e ON e.workspace_id = r.workspace_id AND e.provider = r.provider AND e.provider_event_id = r.source_event_id
  CROSS JOIN LATERAL (
    SELECT (CASE WHEN e.raw_is_payload THEN sluice_jsonb_or_null(e.raw_body) ELSE e.payload END) -> 'data' -> 'object' AS obj
    OFFSET 0
  ) p
  -- The refund: the event's object (charge.refund.updated), or listed on the charge (a charge event).
  CROSS JOIN LATERAL (
    SELECT p.obj AS refund WHERE p.obj ->> 'id' = r.provider_id
    UNION ALL
    SELECT l FROM jsonb_array_elements(
      CASE WHEN jsonb_typeof(p.obj -> 'refunds' -> 'data') = 'array' THEN p.obj -> 'refunds' -> 'data' ELSE '[]'::jsonb END) l
    WHERE l ->> 'id' = r.provider_id
    LIMIT 1
  ) f
  WHERE r.provider = 'stripe' AND r.kind = 'refund' AND NOT r.stub AND r.source_event_id IS NOT NULL
    AND (e.payload IS NOT NULL OR e.raw_is_payload)
), valid AS MATERIALIZED (
  SELECT id, to_timestamp(created::double precision) AS created FROM found WHERE created > 0 AND created < 32503680000
)
UPDATE payments r SET refund_created_at = v.created
FROM valid v
WHERE r.id = v.id AND r.refund_created_at IS DISTINCT FROM v.created;

-- Refunds: the earliest time a processed event showed each failed or canceled.
WITH ended AS MATERIALIZED (
  SELECT e.workspace_id, x.refund ->> 'id' AS refund_id, min(e.provider_created_at) AS at
  FROM events e
  CROSS JOIN LATERAL (
    SELECT (CASE WHEN e.raw_is_payload THEN sluice_jsonb_or_null(e.raw_body) ELSE e.payload END) -> 'data' -> 'object' AS obj
    OFFSET 0
  ) p
  CROSS JOIN LATERAL (
    SELECT p.obj AS refund WHERE e.type = 'charge.refund.updated'
    UNION ALL
    SELECT l FROM jsonb_array_elements(
      CASE WHEN e.type <> 'charge.refund.updated' AND jsonb_typeof(p.obj -> 'refunds' -> 'data') = 'array'
           THEN p.obj -> 'refunds' -> 'data' ELSE '[]'::jsonb END) l
  ) x
  WHERE e.provider = 'stripe' AND e.status = 'processed' AND e.provider_created_at IS NOT NULL
    AND e.type IN ('charge.refund.updated', 'charge.succeeded', 'charge.failed', 'charge.refunded', 'charge.updated')
    AND e.workspace_id IN (SELECT workspace_id FROM payments WHERE provider = 'stripe' AND kind = 'refund')
    AND (e.payload IS NOT NULL
         OR (e.raw_is_payload AND (strpos(e.raw_body, '"failed"') > 0 OR strpos(e.raw_body, '"canceled"') > 0)))
    AND x.refund ->> 'status' IN ('failed', 'canceled') AND x.refund ->> 'id' IS NOT NULL
  GROUP BY 1, 2
)
UPDATE payments r SET undone_at = d.at
FROM ended d
WHERE r.workspace_id = d.workspace_id AND r.provider = 'stripe' AND r.provider_id = d.refund_id AND r.kind = 'refund'
  AND (r.undone_at IS NULL OR r.undone_at > d.at);

-- Charges: what the event that last wrote each row reported (or the charge fetched to settle its tie, as of then).
WITH figure AS MATERIALIZED (
  SELECT c.id, COALESCE(f.object, p.obj) -> 'amount_refunded' AS reported, f.fetched_at AS as_of
  FROM payments c
  JOIN events e ON e.workspace_id = c.workspace_id AND e.provider = c.provider AND e.provider_event_id = c.source_event_id
  CROSS JOIN LATERAL (
    SELECT (CASE WHEN e.raw_is_payload THEN sluice_jsonb_or_null(e.raw_body) ELSE e.payload END) -> 'data' -> 'object' AS obj
    OFFSET 0
  ) p
  LEFT JOIN provider_snapshots f ON f.event_id = e.id AND f.object_id = c.provider_id
    AND NOT COALESCE(f.object -> 'deleted' = 'true'::jsonb, false)
  WHERE c.provider = 'stripe' AND c.kind = 'charge' AND NOT c.stub AND NOT c.deleted AND c.source_event_id IS NOT NULL
    AND e.type IN ('charge.succeeded', 'charge.failed', 'charge.refunded', 'charge.updated')
    AND (e.payload IS NOT NULL OR e.raw_is_payload)
    AND p.obj ->> 'id' = c.provider_id
), valid AS MATERIALIZED (
  -- An integer, as every amount Stripe gives; anything else leaves the row as it is.
  SELECT id, (reported #>> '{}')::bigint AS reported, as_of FROM figure
  WHERE CASE WHEN jsonb_typeof(reported) = 'number' THEN (reported #>> '{}') ~ '^-?[0-9]{1,15}$' ELSE false END
)
UPDATE payments c SET reported_amount_refunded = v.reported, reported_as_of = v.as_of
FROM valid v
WHERE c.id = v.id AND (c.reported_amount_refunded IS DISTINCT FROM v.reported OR c.reported_as_of IS DISTINCT FROM v.as_of);

-- Charges: amount_refunded by the current rule, as recountChargeRefunded computes it.
WITH counted AS MATERIALIZED (
  SELECT c.id, GREATEST(c.reported_amount_refunded - COALESCE((
    SELECT sum(r.amount) FROM payments r
    WHERE r.workspace_id = c.workspace_id AND r.charge_provider_id = c.provider_id AND r.provider = c.provider
      AND r.kind = 'refund' AND NOT r.stub AND r.undone_at > COALESCE(c.reported_as_of, c.source_ts)
      AND (r.refund_created_at IS NULL OR r.refund_created_at <= COALESCE(c.reported_as_of, c.source_ts))), 0), 0)
    AS amount_refunded
  FROM payments c
  WHERE c.provider = 'stripe' AND c.kind = 'charge' AND NOT c.stub AND NOT c.deleted
    AND c.reported_amount_refunded IS NOT NULL AND c.source_ts IS NOT NULL
)
UPDATE payments p SET amount_refunded = n.amount_refunded, updated_at = now()
FROM counted n
WHERE p.id = n.id AND p.amount_refunded IS DISTINCT FROM n.amount_refunded;
