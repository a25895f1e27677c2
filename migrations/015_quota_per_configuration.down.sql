-- Back to one quota row per user: the configurations' counters go (the next send rebuilds
-- them); a user's counted sends are kept once each.
DROP INDEX IF EXISTS idx_quota_sends_email_id;
DROP INDEX IF EXISTS idx_quota_sends_configuration_counted;
DO $$
BEGIN
    IF to_regclass('quota_sends') IS NOT NULL THEN
        DELETE FROM quota_sends a USING quota_sends b
            WHERE a.user_id = b.user_id AND a.counted_at = b.counted_at AND a.ctid > b.ctid;
        ALTER TABLE quota_sends DROP COLUMN IF EXISTS email_configuration_id, DROP COLUMN IF EXISTS email_id;
    END IF;
    IF to_regclass('google_workspace_quota') IS NOT NULL THEN
        DELETE FROM google_workspace_quota;
        DROP INDEX IF EXISTS idx_google_workspace_quota_configuration;
        ALTER TABLE google_workspace_quota DROP COLUMN IF EXISTS email_configuration_id;
        CREATE UNIQUE INDEX IF NOT EXISTS idx_google_workspace_quota_user_unique ON google_workspace_quota (user_id);
    END IF;
END
$$;
ALTER TABLE IF EXISTS email_configurations
    DROP COLUMN IF EXISTS daily_limit, DROP COLUMN IF EXISTS hourly_limit, DROP COLUMN IF EXISTS verify_unchecked;
