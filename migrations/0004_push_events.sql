-- Push events: the dispatcher's marker on the outbox, webhook subscriptions and their deliveries,
-- and the notification inbox. Delivery and inbox tables are keyed by their receiver (the
-- subscription, the recipient), not by person: they hold thin references, never plan content.

ALTER TABLE outbox_events ADD COLUMN dispatched_at timestamptz;
CREATE INDEX outbox_events_undispatched_idx ON outbox_events (position) WHERE dispatched_at IS NULL;

CREATE TABLE subscriptions (
  subscription_id   uuid        NOT NULL PRIMARY KEY,
  -- the owner's verified claims when subscribing: consent is decided with them at every delivery
  owner_sub         text        NOT NULL,
  owner_name        text,
  owner_insz        text,
  owner_nihii       text,
  owner_org         text,
  url               text        NOT NULL CHECK (length(url) <= 2000),
  event_types       text[]      NOT NULL,
  person_id         uuid,
  secret            text        NOT NULL,
  status            text        NOT NULL CHECK (status IN ('active', 'disabled', 'deleted')),
  disabled_reason   text,
  last_event_number bigint      NOT NULL DEFAULT 0,
  failing_since     timestamptz,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL
);
CREATE INDEX subscriptions_owner_idx ON subscriptions (owner_sub);
CREATE INDEX subscriptions_active_idx ON subscriptions (person_id) WHERE status = 'active';

CREATE TABLE webhook_deliveries (
  subscription_id  uuid        NOT NULL REFERENCES subscriptions (subscription_id),
  -- per subscription, gapless: a receiver detects a missed event by a jump in this number
  event_number     bigint      NOT NULL,
  person_id        uuid        NOT NULL,
  event_id         uuid        NOT NULL,
  event_seq        bigint      NOT NULL,
  status           text        NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'skipped')),
  attempts         integer     NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL,
  lease_until      timestamptz,
  last_status_code integer,
  last_error       text,
  delivered_at     timestamptz,
  created_at       timestamptz NOT NULL,
  PRIMARY KEY (subscription_id, event_number),
  UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

CREATE TABLE webhook_attempts (
  subscription_id uuid        NOT NULL,
  event_number    bigint      NOT NULL,
  attempt         integer     NOT NULL,
  started_at      timestamptz NOT NULL,
  duration_ms     integer     NOT NULL,
  status_code     integer,
  error           text,
  PRIMARY KEY (subscription_id, event_number, attempt),
  FOREIGN KEY (subscription_id, event_number) REFERENCES webhook_deliveries (subscription_id, event_number)
);

CREATE TABLE notifications (
  recipient_sub   text        NOT NULL,
  notification_id uuid        NOT NULL,
  person_id       uuid        NOT NULL,
  event_id        uuid        NOT NULL,
  type            text        NOT NULL,
  reason          text        NOT NULL,
  created_at      timestamptz NOT NULL,
  read_at         timestamptz,
  PRIMARY KEY (recipient_sub, notification_id),
  UNIQUE (recipient_sub, event_id)
);
CREATE INDEX notifications_unread_idx ON notifications (recipient_sub, created_at) WHERE read_at IS NULL;
