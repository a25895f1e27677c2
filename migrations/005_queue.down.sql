-- Tolerates a partial schema (tables dropped by hand), like 003's down.
DO $$
BEGIN
    IF to_regclass('email_templates') IS NOT NULL THEN
        DELETE FROM email_templates WHERE is_system_template AND name IN ('welcome', 'password_reset', 'notification');
    END IF;
END
$$;
DROP INDEX IF EXISTS idx_email_templates_owner_name;
DROP INDEX IF EXISTS idx_google_workspace_quota_user_unique;
DROP TABLE IF EXISTS email_suppressions;
DROP INDEX IF EXISTS idx_email_queue_idempotency;
DROP INDEX IF EXISTS idx_email_queue_due;
DROP INDEX IF EXISTS idx_email_queue_lease;
ALTER TABLE IF EXISTS email_queue
    DROP COLUMN IF EXISTS email_configuration_id, DROP COLUMN IF EXISTS from_address,
    DROP COLUMN IF EXISTS from_name, DROP COLUMN IF EXISTS reply_to_address, DROP COLUMN IF EXISTS cc,
    DROP COLUMN IF EXISTS bcc, DROP COLUMN IF EXISTS priority, DROP COLUMN IF EXISTS run_at,
    DROP COLUMN IF EXISTS locked_by, DROP COLUMN IF EXISTS locked_until, DROP COLUMN IF EXISTS last_error,
    DROP COLUMN IF EXISTS last_error_kind, DROP COLUMN IF EXISTS idempotency_key;
ALTER TABLE IF EXISTS email_configurations DROP COLUMN IF EXISTS plugin;
