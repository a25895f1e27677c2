-- 006: row-level security. The API runs each request's transaction as the role
-- mailroom_app (SET LOCAL ROLE) with mailroom.actor_id set to the token's user, so
-- PostgreSQL itself refuses other users' rows even where the API forgot a filter. Table
-- owners (migrations, workers, the CLI) are not subject to these policies.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mailroom_app') THEN
        CREATE ROLE mailroom_app NOLOGIN NOBYPASSRLS;  -- roles are per cluster: once for all databases
    END IF;
END
$$;

CREATE FUNCTION mailroom_actor() RETURNS uuid
LANGUAGE sql STABLE AS $$
    SELECT NULLIF(current_setting('mailroom.actor_id', true), '')::uuid
$$;

-- Runs as its owner, so the policies on users do not hide the actor's own admin flag.
CREATE FUNCTION mailroom_actor_is_admin() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT coalesce((SELECT is_admin FROM users WHERE id = mailroom_actor()), false)
$$;

-- Audit rows are written whoever the invoker is; the application role cannot write them
-- itself.
ALTER FUNCTION audit_row_change(TEXT, JSONB, JSONB, TEXT[]) SECURITY DEFINER SET search_path = public;

GRANT USAGE ON SCHEMA public TO mailroom_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON email_configurations, dns_records, email_queue, email_delivery_logs,
    google_workspace_quota, email_templates, email_suppressions, api_tokens TO mailroom_app;
GRANT SELECT ON users, audit_logs TO mailroom_app;
GRANT EXECUTE ON FUNCTION mailroom_actor(), mailroom_actor_is_admin() TO mailroom_app;

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY users_self ON users TO mailroom_app
    USING (id = mailroom_actor() OR mailroom_actor_is_admin());

ALTER TABLE audit_logs ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_logs_owner ON audit_logs FOR SELECT TO mailroom_app
    USING (user_id = mailroom_actor() OR mailroom_actor_is_admin());

DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['email_configurations', 'dns_records', 'email_queue', 'email_delivery_logs',
                             'google_workspace_quota', 'email_suppressions', 'api_tokens'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON %I TO mailroom_app '
                       'USING (user_id = mailroom_actor() OR mailroom_actor_is_admin()) '
                       'WITH CHECK (user_id = mailroom_actor() OR mailroom_actor_is_admin())', t || '_owner', t);
    END LOOP;
END
$$;

-- Templates: system templates (no owner) are readable by everyone, changeable by admins.
ALTER TABLE email_templates ENABLE ROW LEVEL SECURITY;
CREATE POLICY email_templates_read ON email_templates FOR SELECT TO mailroom_app
    USING (user_id IS NULL OR user_id = mailroom_actor() OR mailroom_actor_is_admin());
CREATE POLICY email_templates_write ON email_templates FOR ALL TO mailroom_app
    USING (user_id = mailroom_actor() OR mailroom_actor_is_admin())
    WITH CHECK (user_id = mailroom_actor() OR mailroom_actor_is_admin());
