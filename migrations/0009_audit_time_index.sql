-- Every read and every write appends an audit entry, and each index on audit_entries is one more
-- insertion into a large, randomly touched tree. No query reads the log by time: the access log,
-- the chain check and the journal all go by (person_id, seq), which the primary key serves, and
-- a person's seq grows with time. The time index only cost writes.
DROP INDEX audit_entries_person_time_idx;
