-- Endpoint states: 'enabled' (delivering), 'paused' (deliveries are created and wait), 'disabled' (none are
-- created; recover resends). `enabled` stays, derived from the state, for readers written before states.
ALTER TABLE endpoints ADD COLUMN state text NOT NULL DEFAULT 'enabled' CHECK (state IN ('enabled', 'paused', 'disabled'));
UPDATE endpoints SET state = CASE WHEN enabled THEN 'enabled' ELSE 'disabled' END;
ALTER TABLE endpoints DROP COLUMN enabled;
ALTER TABLE endpoints ADD COLUMN enabled boolean GENERATED ALWAYS AS (state = 'enabled') STORED;

-- Test messages (`POST …/endpoints/:id/test`) are flagged so they are never presented as real data.
ALTER TABLE messages ADD COLUMN test boolean NOT NULL DEFAULT false;

-- Custom types already published in a workspace are valid in filters; this keeps that look-up small.
CREATE INDEX messages_custom_types ON messages (workspace_id, type) WHERE dedupe_key LIKE 'custom:%';
