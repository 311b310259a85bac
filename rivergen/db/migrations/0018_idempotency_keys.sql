-- Idempotency keys: a retried unsafe request (same `Idempotency-Key`, same principal, same
-- workspace) replays the first one's response instead of repeating its effect. The row commits
-- in the same transaction as the request's effect, so one never exists without the other.
CREATE TABLE idempotency_keys (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- "user:<id>" or "api_key:<id>": a key is the caller's own, never shared with another.
    principal text NOT NULL,
    key text NOT NULL,
    -- sha256 of the method, path, query and body: a reused key with another request is refused.
    fingerprint text NOT NULL,
    -- NULL while the request that holds the key has not answered yet.
    response_status integer,
    response_content_type text,
    response_body bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, principal, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY idempotency_keys_tenant ON idempotency_keys TO rivergen_app
    USING (workspace_id = app_workspace_id());
