-- 009: the application role (mailroom_app, the API's role for each request) cannot give
-- itself more than row-level security (006) lets it see: no admin for a non-admin actor,
-- no row of its own that points at another user's row, no rewriting of what the workers count
-- or log. Table owners (migrations, workers, the CLI run by the operator) are not limited.

-- Quota counters are the workers'; the API only reads them.
REVOKE INSERT, UPDATE, DELETE ON google_workspace_quota FROM mailroom_app;
-- Delivery history is appended (enqueue, retry, cancel), never rewritten or removed.
REVOKE UPDATE, DELETE ON email_delivery_logs FROM mailroom_app;

-- Admin is granted by an admin (or the operator, as the owner), never by the user it makes one.
CREATE FUNCTION mailroom_refuse_admin_grant() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.is_admin AND (TG_OP = 'INSERT' OR NOT OLD.is_admin) AND NOT mailroom_actor_is_admin() THEN
        RAISE EXCEPTION 'only an admin can make a token admin (%.is_admin)', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER api_tokens_admin_grant BEFORE INSERT OR UPDATE OF is_admin ON api_tokens
    FOR EACH ROW WHEN (current_user = 'mailroom_app') EXECUTE FUNCTION mailroom_refuse_admin_grant();

-- A foreign key is checked past row-level security: without this, a user could queue email
-- through another user's configuration (sent with that user's credentials), log against
-- another user's email, or file a record under another user's zone.
CREATE FUNCTION mailroom_refuse_foreign_owner() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    referenced_owner uuid;
    referenced TEXT;
BEGIN
    IF TG_TABLE_NAME = 'email_queue' THEN
        IF NEW.email_configuration_id IS NULL THEN RETURN NEW; END IF;
        referenced := 'email configuration';
        SELECT user_id INTO referenced_owner FROM email_configurations WHERE id = NEW.email_configuration_id;
    ELSIF TG_TABLE_NAME = 'email_delivery_logs' THEN
        referenced := 'email';
        SELECT user_id INTO referenced_owner FROM email_queue WHERE id = NEW.email_queue_id;
    ELSE  -- dns_records
        IF NEW.zone_id IS NULL THEN RETURN NEW; END IF;
        referenced := 'DNS zone';
        SELECT user_id INTO referenced_owner FROM dns_zones WHERE id = NEW.zone_id;
    END IF;
    IF referenced_owner IS DISTINCT FROM NEW.user_id THEN
        RAISE EXCEPTION '%: the row refers to another user''s %', TG_TABLE_NAME, referenced
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER email_queue_same_owner BEFORE INSERT OR UPDATE OF user_id, email_configuration_id ON email_queue
    FOR EACH ROW WHEN (current_user = 'mailroom_app') EXECUTE FUNCTION mailroom_refuse_foreign_owner();
CREATE TRIGGER email_delivery_logs_same_owner BEFORE INSERT ON email_delivery_logs
    FOR EACH ROW WHEN (current_user = 'mailroom_app') EXECUTE FUNCTION mailroom_refuse_foreign_owner();
CREATE TRIGGER dns_records_same_owner BEFORE INSERT OR UPDATE OF user_id, zone_id ON dns_records
    FOR EACH ROW WHEN (current_user = 'mailroom_app') EXECUTE FUNCTION mailroom_refuse_foreign_owner();
