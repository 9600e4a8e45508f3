-- Version 6: who expired a silence and why, next to when (expired_at), so the audit trail of
-- a silence's end is as complete as that of its creation (author, comment, created_at).
-- Silences expired before this version keep NULL: their expiry was not attributed.
ALTER TABLE silences ADD COLUMN IF NOT EXISTS expired_by VARCHAR;
ALTER TABLE silences ADD COLUMN IF NOT EXISTS expiry_comment VARCHAR;
