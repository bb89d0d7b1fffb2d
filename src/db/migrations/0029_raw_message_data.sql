-- A raw provider message (`stripe.<type>`, `piano.<type>`) carries its event's payload as its data. It used to
-- hold a copy: 2 KB or more per event into the messages' TOAST and the WAL, a third of what projection wrote
-- (docs/benchmarks.md, "Thirteenth session"). Now such a message names its event (data_event_id) and leaves data
-- NULL; messages_with_data is what readers of message data select from. The copy is made only when the event
-- row is about to go: retention copies the payload into the message before it deletes the event, and a customer
-- erasure writes the message's redacted data into it (so that an attempt in flight sees the message change).
-- Messages stored before keep their copies.
ALTER TABLE messages
  ALTER COLUMN data DROP NOT NULL,
  ADD COLUMN data_event_id text,
  -- NOT VALID: every existing row has its data; checking them would read the whole table for nothing.
  ADD CONSTRAINT messages_data_present CHECK (data IS NOT NULL OR data_event_id IS NOT NULL) NOT VALID;

-- The columns of messages as they were (SELECT * keeps its shape), data resolved. The join goes by the events'
-- primary key, and only for a message without data of its own.
CREATE VIEW messages_with_data AS
  SELECT m.id, m.workspace_id, m.type, COALESCE(m.data, e.payload) AS data, m.source_provider, m.source_event_id,
         m.dedupe_key, m.created_at, m.test, m.recovered
  FROM messages m LEFT JOIN events e ON m.data IS NULL AND e.id = m.data_event_id;
