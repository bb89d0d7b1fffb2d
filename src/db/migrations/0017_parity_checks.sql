-- Parity checks: who is checking a customer right now, and the indexes the batched state loader reads by.

-- The event-triggered checker claims a due customer by moving check_due_at into this lease (check_due_at is set
-- to NULL, so a change projected while the check runs asks for a new check). Two checkers never hold one
-- customer at once; a checker that died leaves a lease that expires, and the customer is claimed again.
ALTER TABLE customers ADD COLUMN check_lease_until timestamptz;
CREATE INDEX customers_check_lease ON customers (check_lease_until) WHERE check_lease_until IS NOT NULL;

-- A refunded charge → the invoice it paid: charges of API versions since 2025-03-31 name no invoice, and the
-- InvoicePayment rows that link them are found by charge or payment intent.
CREATE INDEX payments_charge_ref ON payments (workspace_id, charge_provider_id) WHERE charge_provider_id IS NOT NULL;
CREATE INDEX payments_intent_ref ON payments (workspace_id, payment_intent_provider_id) WHERE kind = 'invoice_payment';
