-- Piano: how each webhook arrived (forwards resend it the same way), the term of an access row, and people
-- known to two providers (a Piano user and a Stripe customer with the same email) linked as one person.
ALTER TABLE events ADD COLUMN inbound_method text;
ALTER TABLE access ADD COLUMN term_id text;
ALTER TABLE customers ADD COLUMN person_id text;
CREATE INDEX customers_person ON customers (person_id) WHERE person_id IS NOT NULL;
