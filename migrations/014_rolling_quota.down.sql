ALTER TABLE IF EXISTS google_workspace_quota DROP COLUMN IF EXISTS locked_until;
DROP TABLE IF EXISTS quota_sends;
