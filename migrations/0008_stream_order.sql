-- The live stream's order: a position given to each event after its transaction committed, in
-- commit order, so a resume cursor ("everything up to here") never skips an event that was still
-- being written when a later one was sent. The outbox's own `position` is taken at insert time:
-- two writers can commit out of that order, which is why the stream cannot use it.
--
-- One sequencer at a time (it locks the single stream_sequencer row) numbers the events that became
-- visible since its last run: those whose writing transaction was not yet visible in the snapshot it
-- stored then. Each run commits before the next one starts, so a reader who sees stream position N
-- sees every position below it.
--
-- Under Citus, event_stream is co-located by person_id like the outbox; the global order itself (the
-- sequencer row and the xid index) spans the region, as a live stream across plans must.

-- The writing transaction (top level), stamped at insert. Events written before this migration
-- have none and are not part of the stream.
ALTER TABLE outbox_events ADD COLUMN writer_xid xid8;
ALTER TABLE outbox_events ALTER COLUMN writer_xid SET DEFAULT pg_current_xact_id();
CREATE INDEX outbox_events_writer_xid_idx ON outbox_events (writer_xid);

CREATE TABLE event_stream (
  person_id       uuid   NOT NULL,
  seq             bigint NOT NULL,
  stream_position bigint NOT NULL,
  PRIMARY KEY (person_id, seq),
  FOREIGN KEY (person_id, seq) REFERENCES outbox_events (person_id, seq)
);
-- Replay for one caller walks their persons' events in stream order; the live hub walks them all.
CREATE INDEX event_stream_person_position_idx ON event_stream (person_id, stream_position);
CREATE INDEX event_stream_position_idx ON event_stream (stream_position);

CREATE TABLE stream_sequencer (
  singleton     boolean     NOT NULL PRIMARY KEY DEFAULT true CHECK (singleton),
  last_position bigint      NOT NULL,
  -- what the last run could see: events of transactions visible in it are numbered
  seen          pg_snapshot NOT NULL
);
INSERT INTO stream_sequencer (singleton, last_position, seen) VALUES (true, 0, pg_current_snapshot());
