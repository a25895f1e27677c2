DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'audit_logs', 'email_configurations', 'dns_records', 'email_queue',
                             'email_delivery_logs', 'google_workspace_quota', 'email_suppressions', 'api_tokens',
                             'email_templates'] LOOP
        IF to_regclass(t) IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t);
        END IF;
    END LOOP;
END
$$;
DROP POLICY IF EXISTS users_self ON users;
DROP POLICY IF EXISTS audit_logs_owner ON audit_logs;
DROP POLICY IF EXISTS email_configurations_owner ON email_configurations;
DROP POLICY IF EXISTS dns_records_owner ON dns_records;
DROP POLICY IF EXISTS email_queue_owner ON email_queue;
DROP POLICY IF EXISTS email_delivery_logs_owner ON email_delivery_logs;
DROP POLICY IF EXISTS google_workspace_quota_owner ON google_workspace_quota;
DROP POLICY IF EXISTS email_suppressions_owner ON email_suppressions;
DROP POLICY IF EXISTS api_tokens_owner ON api_tokens;
DROP POLICY IF EXISTS email_templates_read ON email_templates;
DROP POLICY IF EXISTS email_templates_write ON email_templates;
DO $$
BEGIN
    IF to_regprocedure('audit_row_change(text, jsonb, jsonb, text[])') IS NOT NULL THEN
        ALTER FUNCTION audit_row_change(TEXT, JSONB, JSONB, TEXT[]) SECURITY INVOKER RESET search_path;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mailroom_app') THEN
        EXECUTE 'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM mailroom_app';
        EXECUTE 'REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM mailroom_app';
        EXECUTE 'REVOKE USAGE ON SCHEMA public FROM mailroom_app';
    END IF;
END
$$;
DROP FUNCTION IF EXISTS mailroom_actor_is_admin();
DROP FUNCTION IF EXISTS mailroom_actor();
-- The role stays: other databases of the cluster may use it.
