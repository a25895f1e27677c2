-- 010: a provider is any plugin, not only the seed's six. 003 names the seed's providers in
-- CHECK constraints (email_configurations, email_delivery_logs, dns_records) and 007 in
-- dns_zones; here each becomes "a plugin name", the manifest's own rule. Every existing row
-- already holds one (the seed's names are plugin names), so nothing is rewritten.
ALTER TABLE email_configurations DROP CONSTRAINT email_configurations_provider_check,
    ADD CONSTRAINT email_configurations_provider_check CHECK (provider ~ '^[a-z][a-z0-9_]{0,62}$');
ALTER TABLE email_delivery_logs DROP CONSTRAINT email_delivery_logs_provider_check,
    ADD CONSTRAINT email_delivery_logs_provider_check CHECK (provider ~ '^[a-z][a-z0-9_]{0,62}$');
ALTER TABLE dns_records DROP CONSTRAINT dns_records_provider_check,
    ADD CONSTRAINT dns_records_provider_check CHECK (provider ~ '^[a-z][a-z0-9_]{0,62}$');
ALTER TABLE dns_zones DROP CONSTRAINT dns_zones_provider_check,
    ADD CONSTRAINT dns_zones_provider_check CHECK (provider ~ '^[a-z][a-z0-9_]{0,62}$');
