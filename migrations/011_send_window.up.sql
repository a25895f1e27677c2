-- 011: what a configuration overrides of its plugin's sending policy (docs/queue.md): the
-- window of sends in flight and the pace. NULL: what the plugin declares (and, for the
-- window, the host's workers.window).
ALTER TABLE email_configurations
    ADD COLUMN send_window INTEGER CHECK (send_window BETWEEN 1 AND 1000),
    ADD COLUMN requests_per_second DOUBLE PRECISION CHECK (requests_per_second > 0 AND requests_per_second <= 100000);
