-- Plan content: life goals, care goals, tasks, versioned notes, care documents (wishes, safety
-- plan) and meetings. Current state lives in one row per resource; every version is kept.

CREATE TABLE life_goals (
  person_id        uuid        NOT NULL REFERENCES persons (person_id),
  life_goal_id     uuid        NOT NULL,
  version          integer     NOT NULL DEFAULT 1,
  title            text        NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
  description      text        CHECK (length(description) <= 10000),
  status           text        NOT NULL CHECK (status IN ('active', 'achieved', 'let_go')),
  -- who expressed it: the person, a representative on their behalf, or a member writing it down with the person
  expressed_by_kind              text NOT NULL CHECK (expressed_by_kind IN ('person', 'representative', 'member')),
  expressed_by_name              text,
  expressed_by_member_id         uuid,
  expressed_by_representative_id uuid,
  created_by_sub   text        NOT NULL,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  PRIMARY KEY (person_id, life_goal_id)
);
CREATE INDEX life_goals_updated_idx ON life_goals (person_id, updated_at);

CREATE TABLE care_goals (
  person_id       uuid        NOT NULL REFERENCES persons (person_id),
  care_goal_id    uuid        NOT NULL,
  version         integer     NOT NULL DEFAULT 1,
  title           text        NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
  description     text        CHECK (length(description) <= 10000),
  status          text        NOT NULL CHECK (status IN ('proposed', 'active', 'achieved', 'not_achieved', 'cancelled')),
  owner_member_id uuid,
  review_date     date,
  created_by_sub  text        NOT NULL,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  PRIMARY KEY (person_id, care_goal_id),
  FOREIGN KEY (person_id, owner_member_id) REFERENCES care_team_members (person_id, member_id)
);
CREATE INDEX care_goals_owner_idx ON care_goals (person_id, owner_member_id);
CREATE INDEX care_goals_updated_idx ON care_goals (person_id, updated_at);

-- Care goals serve one or more life goals of the same person (the composite keys enforce it).
CREATE TABLE care_goal_life_goals (
  person_id    uuid NOT NULL,
  care_goal_id uuid NOT NULL,
  life_goal_id uuid NOT NULL,
  PRIMARY KEY (person_id, care_goal_id, life_goal_id),
  FOREIGN KEY (person_id, care_goal_id) REFERENCES care_goals (person_id, care_goal_id),
  FOREIGN KEY (person_id, life_goal_id) REFERENCES life_goals (person_id, life_goal_id)
);
CREATE INDEX care_goal_life_goals_life_goal_idx ON care_goal_life_goals (person_id, life_goal_id);

CREATE TABLE tasks (
  person_id              uuid        NOT NULL REFERENCES persons (person_id),
  task_id                uuid        NOT NULL,
  version                integer     NOT NULL DEFAULT 1,
  title                  text        NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
  description            text        CHECK (length(description) <= 10000),
  care_goal_id           uuid,
  assignee_member_id     uuid        NOT NULL,
  -- a due date (YYYY-MM-DD) or a due moment; never both
  due_date               date,
  due_at                 timestamptz,
  status                 text        NOT NULL CHECK (status IN ('open', 'in_progress', 'done', 'cancelled')),
  completed_by_sub       text,
  completed_by_member_id uuid,
  completed_at           timestamptz,
  created_by_sub         text        NOT NULL,
  created_by_member_id   uuid,
  created_at             timestamptz NOT NULL,
  updated_at             timestamptz NOT NULL,
  PRIMARY KEY (person_id, task_id),
  FOREIGN KEY (person_id, care_goal_id) REFERENCES care_goals (person_id, care_goal_id),
  FOREIGN KEY (person_id, assignee_member_id) REFERENCES care_team_members (person_id, member_id),
  CHECK (due_date IS NULL OR due_at IS NULL)
);
CREATE INDEX tasks_assignee_idx ON tasks (person_id, assignee_member_id, status);
CREATE INDEX tasks_care_goal_idx ON tasks (person_id, care_goal_id);
CREATE INDEX tasks_open_idx ON tasks (person_id, status, task_id);
CREATE INDEX tasks_updated_idx ON tasks (person_id, updated_at);

CREATE TABLE notes (
  person_id        uuid        NOT NULL REFERENCES persons (person_id),
  note_id          uuid        NOT NULL,
  version          integer     NOT NULL DEFAULT 1,
  phase            text        NOT NULL CHECK (phase IN ('acute', 'follow_up', 'info')),
  visibility       text        NOT NULL CHECK (visibility IN ('team', 'professionals', 'members')),
  visible_to       uuid[]      NOT NULL DEFAULT '{}',
  about_type       text        CHECK (about_type IN ('life_goal', 'care_goal', 'task')),
  about_id         uuid,
  author_sub       text        NOT NULL,
  author_name      text,
  author_role      text        NOT NULL,
  author_member_id uuid,
  retracted_at     timestamptz,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  PRIMARY KEY (person_id, note_id),
  CHECK ((about_type IS NULL) = (about_id IS NULL))
);
CREATE INDEX notes_created_idx ON notes (person_id, created_at, note_id);
CREATE INDEX notes_updated_idx ON notes (person_id, updated_at);
CREATE INDEX notes_author_idx ON notes (person_id, author_member_id);

-- Append-only versions: nothing written is ever lost; a retraction is a tombstone version.
CREATE TABLE note_versions (
  person_id  uuid        NOT NULL,
  note_id    uuid        NOT NULL,
  version    integer     NOT NULL,
  body       text,
  phase      text        NOT NULL,
  retracted  boolean     NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (person_id, note_id, version),
  FOREIGN KEY (person_id, note_id) REFERENCES notes (person_id, note_id),
  CHECK (retracted OR body IS NOT NULL)
);

CREATE FUNCTION note_versions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'note versions are append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER note_versions_no_update_or_delete
  BEFORE UPDATE OR DELETE ON note_versions
  FOR EACH ROW EXECUTE FUNCTION note_versions_append_only();

-- Wishes (advance care planning) and the safety plan: one current version per person each.
CREATE TABLE care_documents (
  person_id  uuid        NOT NULL REFERENCES persons (person_id),
  kind       text        NOT NULL CHECK (kind IN ('wishes', 'safety_plan')),
  version    integer     NOT NULL,
  content    jsonb       NOT NULL,
  updated_by_sub text    NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (person_id, kind)
);

CREATE TABLE meetings (
  person_id                uuid        NOT NULL REFERENCES persons (person_id),
  meeting_id               uuid        NOT NULL,
  version                  integer     NOT NULL DEFAULT 1,
  title                    text        NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
  starts_at                timestamptz NOT NULL,
  ends_at                  timestamptz NOT NULL,
  video_url                text        CHECK (length(video_url) <= 2000),
  location                 text        CHECK (length(location) <= 500),
  agenda                   text        CHECK (length(agenda) <= 10000),
  participant_member_ids   uuid[]      NOT NULL,
  status                   text        NOT NULL CHECK (status IN ('scheduled', 'cancelled')),
  created_by_sub           text        NOT NULL,
  created_at               timestamptz NOT NULL,
  updated_at               timestamptz NOT NULL,
  PRIMARY KEY (person_id, meeting_id),
  CHECK (ends_at > starts_at),
  CHECK (video_url IS NOT NULL OR location IS NOT NULL)
);
CREATE INDEX meetings_starts_idx ON meetings (person_id, starts_at);
CREATE INDEX meetings_updated_idx ON meetings (person_id, updated_at);

-- Every version of goals, tasks, care documents and meetings, as the API showed it, with who
-- changed it and what: the history endpoints and FHIR vread read from here.
CREATE TABLE resource_versions (
  person_id       uuid        NOT NULL REFERENCES persons (person_id),
  resource_type   text        NOT NULL CHECK (resource_type IN ('life_goal', 'care_goal', 'task', 'wishes', 'safety_plan', 'meeting')),
  resource_id     uuid        NOT NULL,
  version         integer     NOT NULL,
  snapshot        jsonb       NOT NULL,
  changed_fields  text[]      NOT NULL,
  changed_by_sub  text        NOT NULL,
  changed_by_name text,
  changed_by_role text        NOT NULL,
  changed_by_member_id uuid,
  changed_at      timestamptz NOT NULL,
  PRIMARY KEY (person_id, resource_type, resource_id, version)
);
