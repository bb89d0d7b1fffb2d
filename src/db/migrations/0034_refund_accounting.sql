-- What a Stripe charge's amount_refunded counts. Stripe counts a refund from its creation (pending included) until it
-- fails or is canceled; a charge event therefore counts refund r when r was created at or before the event and had
-- not ended undone by then. Sluice used to adjust the stored amount step by step (take a refund off when its failure
-- was projected, or when a charge event older than the failure was), judging "after" by the refund row's version:
-- a later metadata change of a failed refund moved that version past newer charge events and took the refund off
-- them a second time, and a wrong step could never be undone. Now each charge row keeps what its event reported and
-- each refund when it was created and the earliest time it was seen failed or canceled, and the stored amount is
-- computed from those, the same whatever order the events came in.
ALTER TABLE payments
  ADD COLUMN reported_amount_refunded bigint,
  ADD COLUMN refund_created_at timestamptz,
  ADD COLUMN undone_at timestamptz;

-- Refunds already failed or canceled: known to have ended by the event that wrote them, no earlier.
UPDATE payments SET undone_at = source_ts
WHERE provider = 'stripe' AND kind = 'refund' AND status IN ('failed', 'canceled') AND NOT stub;

-- Charges: what their event reported, as far as it can be told back: the stored amount plus what the former rule had
-- taken off it (the failed refunds of the charge whose row is newer than the charge's).
UPDATE payments c
SET reported_amount_refunded = c.amount_refunded + COALESCE((
  SELECT sum(r.amount) FROM payments r
  WHERE r.workspace_id = c.workspace_id AND r.provider = c.provider AND r.charge_provider_id = c.provider_id
    AND r.kind = 'refund' AND r.undone_at > c.source_ts), 0)
WHERE c.provider = 'stripe' AND c.kind = 'charge' AND c.amount_refunded IS NOT NULL AND NOT c.stub;
