-- The access version of a person's plan: bumped in the same transaction as any change to what the
-- access policy reads (the person's owner and steward, members and their grants, representatives,
-- emergency accesses). A read decides access without locks and then writes its audit entry in a
-- batch with other reads; the batch locks the person's journal head and compares versions, so a
-- read whose access changed meanwhile is decided again instead of being answered.
-- Row-level triggers touching the same person_id only: co-located under Citus.
ALTER TABLE person_sequences ADD COLUMN access_version bigint NOT NULL DEFAULT 0;

CREATE FUNCTION person_access_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE person_sequences SET access_version = access_version + 1
  WHERE person_id = CASE WHEN TG_OP = 'DELETE' THEN OLD.person_id ELSE NEW.person_id END;
  RETURN NULL;
END
$$;

CREATE TRIGGER care_team_members_access_changed
  AFTER INSERT OR UPDATE OR DELETE ON care_team_members
  FOR EACH ROW EXECUTE FUNCTION person_access_changed();
CREATE TRIGGER representatives_access_changed
  AFTER INSERT OR UPDATE OR DELETE ON representatives
  FOR EACH ROW EXECUTE FUNCTION person_access_changed();
CREATE TRIGGER emergency_accesses_access_changed
  AFTER INSERT OR UPDATE OR DELETE ON emergency_accesses
  FOR EACH ROW EXECUTE FUNCTION person_access_changed();
CREATE TRIGGER persons_access_changed
  AFTER UPDATE OF owner_sub, steward_sub, claimed_at, identifier_system, identifier_value ON persons
  FOR EACH ROW EXECUTE FUNCTION person_access_changed();
