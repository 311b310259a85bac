-- Abandoned uploads end as `expired` (the sweeper aborts them in object storage first).
ALTER TABLE uploads DROP CONSTRAINT uploads_status_check;
ALTER TABLE uploads ADD CONSTRAINT uploads_status_check
    CHECK (status IN ('open', 'completing', 'completed', 'aborted', 'failed', 'expired'));

-- What the sweeper looks for: uploads that may still hold parts in object storage.
DROP INDEX uploads_open_idx;
CREATE INDEX uploads_unfinished_idx ON uploads (expires_at)
    WHERE status IN ('open', 'completing', 'failed');
