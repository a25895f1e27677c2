-- 007: what the DNS engine needs beyond 003's dns_records (which stays as the seed has it).

-- A zone mailroom manages for a user, with the DNS plugin and credentials that reach it.
-- `provider` keeps the seed's three values (dns_records.provider copies it); `plugin`, when
-- set, names another plugin that speaks for it (a third party's, or a test double).
CREATE TABLE dns_zones (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id            UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name               TEXT NOT NULL CHECK (name ~ '^([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'
                                            AND length(name) <= 253),
    provider           TEXT NOT NULL CHECK (provider IN ('cloudflare', 'route53', 'azure_dns')),
    plugin             TEXT CHECK (plugin ~ '^[a-z][a-z0-9_]{0,62}$'),
    provider_zone_id   TEXT,                 -- the provider's id, learned on the first plan
    settings           JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
    secrets_encrypted  TEXT CHECK (secrets_encrypted LIKE 'v1:%'),  -- AES-256-GCM of a JSON object
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX idx_dns_zones_user_name ON dns_zones (user_id, name);

ALTER TABLE dns_records
    ADD COLUMN zone_id UUID REFERENCES dns_zones (id) ON DELETE CASCADE,
    -- 'absent': the user removed it; the next apply deletes it at the provider, then the row.
    ADD COLUMN desired TEXT NOT NULL DEFAULT 'present' CHECK (desired IN ('present', 'absent')),
    ADD COLUMN last_error TEXT,          -- the provider's message when status is 'failed'
    ADD COLUMN served_value TEXT,        -- what the last validation found in DNS
    ADD COLUMN validated_at TIMESTAMPTZ;
CREATE INDEX idx_dns_records_zone ON dns_records (zone_id, name);

CREATE FUNCTION log_dns_zone_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM audit_row_change('dns_zone',
        CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
        CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END,
        ARRAY['name', 'provider', 'plugin']);
    RETURN NULL;
END
$$;
CREATE TRIGGER dns_zones_audit_trigger
    AFTER INSERT OR UPDATE OR DELETE ON dns_zones
    FOR EACH ROW EXECUTE FUNCTION log_dns_zone_changes();
CREATE TRIGGER dns_zones_updated_at_trigger
    BEFORE UPDATE ON dns_zones FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

GRANT SELECT, INSERT, UPDATE, DELETE ON dns_zones TO mailroom_app;
ALTER TABLE dns_zones ENABLE ROW LEVEL SECURITY;
CREATE POLICY dns_zones_owner ON dns_zones TO mailroom_app
    USING (user_id = mailroom_actor() OR mailroom_actor_is_admin())
    WITH CHECK (user_id = mailroom_actor() OR mailroom_actor_is_admin());
