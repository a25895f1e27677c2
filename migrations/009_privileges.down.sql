-- Tolerates tables already gone (a partial schema being repaired by `migrate down`).
DROP TRIGGER IF EXISTS dns_records_same_owner ON dns_records;
DO $$
BEGIN
    IF to_regclass('email_delivery_logs') IS NOT NULL THEN
        DROP TRIGGER IF EXISTS email_delivery_logs_same_owner ON email_delivery_logs;
        GRANT UPDATE, DELETE ON email_delivery_logs TO mailroom_app;
    END IF;
    IF to_regclass('email_queue') IS NOT NULL THEN
        DROP TRIGGER IF EXISTS email_queue_same_owner ON email_queue;
    END IF;
    IF to_regclass('google_workspace_quota') IS NOT NULL THEN
        GRANT INSERT, UPDATE, DELETE ON google_workspace_quota TO mailroom_app;
    END IF;
END
$$;
DROP FUNCTION IF EXISTS mailroom_refuse_foreign_owner();
DROP TRIGGER IF EXISTS api_tokens_admin_grant ON api_tokens;
DROP FUNCTION IF EXISTS mailroom_refuse_admin_grant();
