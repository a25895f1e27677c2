-- 014: the quota gate counts like Google: over the last 24 hours (and the last hour), not per
-- calendar day, so a burst before and after midnight cannot send twice the daily limit. Each
-- counted send is kept for a day; google_workspace_quota keeps the limits, the current counts
-- and when room comes back, and `locked_until` holds a lock-out the provider announced (its
-- own count said no: Google may keep a user locked out up to 24 hours).
CREATE TABLE quota_sends (
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    counted_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_quota_sends_user_counted ON quota_sends (user_id, counted_at);

ALTER TABLE google_workspace_quota ADD COLUMN locked_until TIMESTAMPTZ;
