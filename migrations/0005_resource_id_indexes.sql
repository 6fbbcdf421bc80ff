-- Reads by a resource's own id (FHIR read, /v1/me lists) find its person first: index the ids.
-- Primary keys lead with person_id (the distribution key), so these lookups had no index.
CREATE INDEX life_goals_id_idx ON life_goals (life_goal_id);
CREATE INDEX care_goals_id_idx ON care_goals (care_goal_id);
CREATE INDEX tasks_id_idx ON tasks (task_id);
CREATE INDEX notes_id_idx ON notes (note_id);
CREATE INDEX meetings_id_idx ON meetings (meeting_id);
