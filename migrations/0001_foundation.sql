-- Foundation: persons, their identifiers, the audit chain, the outbox and idempotency keys.
-- Every table of person data leads with person_id (primary key, unique constraints, indexes)
-- so it can be distributed by person (Citus) without a rewrite.

CREATE TABLE persons (
  person_id              uuid        NOT NULL PRIMARY KEY,
  identifier_system      text        NOT NULL CHECK (identifier_system IN ('insz', 'passport', 'other')),
  identifier_value       text        NOT NULL CHECK (length(identifier_value) BETWEEN 1 AND 64),
  given_name             text        NOT NULL CHECK (length(given_name) BETWEEN 1 AND 200),
  family_name            text        NOT NULL CHECK (length(family_name) BETWEEN 1 AND 200),
  birth_date             date,
  gender                 text        CHECK (length(gender) BETWEEN 1 AND 100),
  language               text        CHECK (language IN ('nl', 'fr', 'de', 'en')),
  interpreter_needed     boolean     NOT NULL DEFAULT false,
  allow_emergency_access boolean     NOT NULL DEFAULT true,
  -- the person's own login (sub) once they created or claimed the plan
  owner_sub              text,
  -- the professional who started the plan; they steer it until the person claims it
  steward_sub            text,
  steward_name           text,
  claimed_at             timestamptz,
  created_by_sub         text        NOT NULL,
  version                integer     NOT NULL DEFAULT 1,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  CHECK (owner_sub IS NOT NULL OR steward_sub IS NOT NULL)
);
CREATE INDEX persons_owner_sub_idx ON persons (owner_sub) WHERE owner_sub IS NOT NULL;
CREATE INDEX persons_steward_sub_idx ON persons (steward_sub) WHERE steward_sub IS NOT NULL AND claimed_at IS NULL;

-- Global lookup from an identifier to its person: keyed by the identifier (not by person) so
-- "one plan per INSZ" stays enforceable when persons are distributed.
CREATE TABLE person_identifiers (
  identifier_system text NOT NULL,
  identifier_value  text NOT NULL,
  person_id         uuid NOT NULL,
  PRIMARY KEY (identifier_system, identifier_value)
);
CREATE INDEX person_identifiers_person_idx ON person_identifiers (person_id);

-- Per-person counters: the head of the audit hash chain and the event sequence. Writers lock
-- this row, which orders a person's audit entries and events in commit order.
CREATE TABLE person_sequences (
  person_id  uuid   NOT NULL PRIMARY KEY REFERENCES persons (person_id),
  audit_seq  bigint NOT NULL DEFAULT 0,
  audit_hash text   NOT NULL DEFAULT '',
  event_seq  bigint NOT NULL DEFAULT 0
);

CREATE TABLE audit_entries (
  person_id       uuid        NOT NULL REFERENCES persons (person_id),
  seq             bigint      NOT NULL,
  occurred_at     timestamptz NOT NULL,
  actor_sub       text        NOT NULL,
  actor_name      text,
  actor_role      text        NOT NULL,
  actor_member_id uuid,
  on_behalf       boolean     NOT NULL DEFAULT false,
  action          text        NOT NULL,
  resource_type   text        NOT NULL,
  resource_id     uuid,
  reason          text,
  request_id      text,
  prev_hash       text        NOT NULL,
  hash            text        NOT NULL,
  PRIMARY KEY (person_id, seq)
);
CREATE INDEX audit_entries_person_time_idx ON audit_entries (person_id, occurred_at);

-- Audit entries are append-only: the database itself refuses to change or remove them.
CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit entries are append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_entries_no_update_or_delete
  BEFORE UPDATE OR DELETE ON audit_entries
  FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();

-- Transactional outbox: every write records its thin event here in the same transaction.
CREATE TABLE outbox_events (
  person_id   uuid        NOT NULL REFERENCES persons (person_id),
  seq         bigint      NOT NULL,
  event_id    uuid        NOT NULL,
  type        text        NOT NULL,
  occurred_at timestamptz NOT NULL,
  data        jsonb       NOT NULL,
  position    bigint      GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY (person_id, seq),
  UNIQUE (person_id, event_id)
);
CREATE INDEX outbox_events_position_idx ON outbox_events (position);

-- Idempotency keys are per caller (token subject), not per person.
CREATE TABLE idempotency_keys (
  actor_sub       text        NOT NULL,
  key             text        NOT NULL,
  request_hash    text        NOT NULL,
  status_code     integer,
  response_body   text,
  response_type   text,
  response_location text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  completed_at    timestamptz,
  PRIMARY KEY (actor_sub, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
