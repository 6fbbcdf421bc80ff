-- Care team, consent grants, representatives (mandates), invitations and emergency access.

-- A team member: a professional, an informal carer, a volunteer or an organisation. The
-- member row carries the current grant (scopes, validity, revocation) so that the access
-- query reads and share-locks one row: a revoke that commits is seen by the next request.
CREATE TABLE care_team_members (
  person_id          uuid        NOT NULL REFERENCES persons (person_id),
  member_id          uuid        NOT NULL,
  kind               text        NOT NULL CHECK (kind IN ('professional', 'informal_carer', 'volunteer', 'organisation')),
  display_name       text        NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  nihii              text        CHECK (nihii ~ '^[0-9]{11}$'),
  organisation_id    text        CHECK (length(organisation_id) BETWEEN 1 AND 255),
  discipline_code    text        CHECK (length(discipline_code) BETWEEN 1 AND 100),
  discipline_display text        CHECK (length(discipline_display) BETWEEN 1 AND 200),
  function           text        NOT NULL DEFAULT 'member' CHECK (function IN ('coordinator', 'case_manager', 'member')),
  status             text        NOT NULL CHECK (status IN ('invited', 'active', 'ended')),
  -- the login that accepted the invitation (for organisations: the staff member who accepted)
  user_sub           text,
  scopes             text[]      NOT NULL DEFAULT '{}',
  grant_valid_until  timestamptz,
  grant_revoked_at   timestamptz,
  invited_by_sub     text        NOT NULL,
  invited_at         timestamptz NOT NULL,
  joined_at          timestamptz,
  ended_at           timestamptz,
  ended_by_sub       text,
  version            integer     NOT NULL DEFAULT 1,
  updated_at         timestamptz NOT NULL,
  PRIMARY KEY (person_id, member_id),
  CHECK (kind <> 'professional' OR nihii IS NOT NULL),
  CHECK (kind <> 'organisation' OR organisation_id IS NOT NULL)
);
CREATE INDEX care_team_members_user_idx ON care_team_members (user_sub) WHERE user_sub IS NOT NULL AND kind <> 'organisation';
CREATE INDEX care_team_members_organisation_idx ON care_team_members (organisation_id) WHERE kind = 'organisation';

-- Every change of a member's access is a new grant record: who, when, old and new scopes.
CREATE TABLE grants (
  person_id       uuid        NOT NULL,
  grant_id        uuid        NOT NULL,
  member_id       uuid        NOT NULL,
  change          text        NOT NULL CHECK (change IN ('granted', 'changed', 'revoked')),
  scopes          text[]      NOT NULL,
  previous_scopes text[],
  valid_until     timestamptz,
  changed_by_sub  text        NOT NULL,
  changed_by_name text,
  changed_at      timestamptz NOT NULL,
  PRIMARY KEY (person_id, grant_id),
  FOREIGN KEY (person_id, member_id) REFERENCES care_team_members (person_id, member_id)
);
CREATE INDEX grants_member_idx ON grants (person_id, member_id, changed_at);

-- Mandates: a family member or an organisation acting for the person, full or limited.
CREATE TABLE representatives (
  person_id         uuid        NOT NULL REFERENCES persons (person_id),
  representative_id uuid        NOT NULL,
  display_name      text        NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  insz              text        CHECK (insz ~ '^[0-9]{11}$'),
  level             text        NOT NULL CHECK (level IN ('full', 'limited')),
  basis             text        NOT NULL CHECK (basis IN ('chosen', 'legal', 'organisation_mandate')),
  valid_until       timestamptz,
  status            text        NOT NULL CHECK (status IN ('invited', 'active', 'ended')),
  user_sub          text,
  created_by_sub    text        NOT NULL,
  created_at        timestamptz NOT NULL,
  accepted_at       timestamptz,
  ended_at          timestamptz,
  ended_by_sub      text,
  PRIMARY KEY (person_id, representative_id)
);
CREATE INDEX representatives_user_idx ON representatives (user_sub) WHERE user_sub IS NOT NULL;

-- Invitations to join the team or to become a representative. Only a hash of the code is kept.
CREATE TABLE invitations (
  person_id         uuid        NOT NULL REFERENCES persons (person_id),
  invitation_id     uuid        NOT NULL,
  code_hash         text        NOT NULL,
  member_id         uuid,
  representative_id uuid,
  expires_at        timestamptz NOT NULL,
  created_at        timestamptz NOT NULL,
  accepted_at       timestamptz,
  accepted_by_sub   text,
  PRIMARY KEY (person_id, invitation_id),
  CHECK ((member_id IS NULL) <> (representative_id IS NULL)),
  FOREIGN KEY (person_id, member_id) REFERENCES care_team_members (person_id, member_id),
  FOREIGN KEY (person_id, representative_id) REFERENCES representatives (person_id, representative_id)
);
CREATE INDEX invitations_member_idx ON invitations (person_id, member_id);
CREATE INDEX invitations_representative_idx ON invitations (person_id, representative_id);

-- Global lookup from a code's hash to its invitation (accepting knows only the code).
CREATE TABLE invitation_codes (
  code_hash     text NOT NULL PRIMARY KEY,
  person_id     uuid NOT NULL,
  invitation_id uuid NOT NULL
);

-- Break the glass: an on-call professional outside the team, for a limited time, with a reason.
CREATE TABLE emergency_accesses (
  person_id           uuid        NOT NULL REFERENCES persons (person_id),
  emergency_access_id uuid        NOT NULL,
  actor_sub           text        NOT NULL,
  actor_nihii         text        NOT NULL,
  actor_name          text,
  reason              text        NOT NULL CHECK (length(reason) BETWEEN 10 AND 2000),
  scopes              text[]      NOT NULL,
  opened_at           timestamptz NOT NULL,
  expires_at          timestamptz NOT NULL,
  PRIMARY KEY (person_id, emergency_access_id)
);
CREATE INDEX emergency_accesses_actor_idx ON emergency_accesses (actor_sub, expires_at);
