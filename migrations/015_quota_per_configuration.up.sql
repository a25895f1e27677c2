-- 015: Google's sending limits belong to a mailbox, and each configuration sends as one, so the
-- quota gate counts per configuration, with limits a configuration may set (a trial account's
-- 500 a day) over the plugin's defaults. A counted send names its email, so a send the provider
-- refused gives its count back in the transaction that records the refusal. And verify() keeps
-- what it could not check (for example the From address, when the token may not read aliases).
ALTER TABLE email_configurations
    ADD COLUMN daily_limit INTEGER CHECK (daily_limit BETWEEN 1 AND 1000000),
    ADD COLUMN hourly_limit INTEGER CHECK (hourly_limit BETWEEN 1 AND 1000000),
    ADD COLUMN verify_unchecked TEXT[] NOT NULL DEFAULT '{}';

-- The counters of a user become those of each of its configurations; the rows are rebuilt from
-- quota_sends by the next send. A user's sends of the last day count for every one of its
-- configurations until they age out (never more sends than the limit allowed before).
DELETE FROM google_workspace_quota;
DROP INDEX idx_google_workspace_quota_user_unique;
ALTER TABLE google_workspace_quota
    ADD COLUMN email_configuration_id UUID NOT NULL REFERENCES email_configurations (id) ON DELETE CASCADE;
CREATE UNIQUE INDEX idx_google_workspace_quota_configuration ON google_workspace_quota (email_configuration_id);

ALTER TABLE quota_sends
    ADD COLUMN email_configuration_id UUID REFERENCES email_configurations (id) ON DELETE CASCADE,
    ADD COLUMN email_id UUID;
INSERT INTO quota_sends (user_id, counted_at, email_configuration_id)
    SELECT s.user_id, s.counted_at, c.id FROM quota_sends s JOIN email_configurations c ON c.user_id = s.user_id
    WHERE s.email_configuration_id IS NULL;
DELETE FROM quota_sends WHERE email_configuration_id IS NULL;
ALTER TABLE quota_sends ALTER COLUMN email_configuration_id SET NOT NULL;
CREATE INDEX idx_quota_sends_configuration_counted ON quota_sends (email_configuration_id, counted_at);
CREATE INDEX idx_quota_sends_email_id ON quota_sends (email_id) WHERE email_id IS NOT NULL;
