-- Connectors: data sources a workspace registers. `config` holds the source's settings as
-- given, its secret fields (a DSN, S3 keys) encrypted by the application ("enc:v1:..."); the
-- API only ever returns the config redacted.
CREATE TABLE data_sources (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    kind text NOT NULL CHECK (kind IN ('postgres', 's3', 'http_csv')),
    config jsonb NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    discovered_schema jsonb,
    discovered_at timestamptz,
    UNIQUE (workspace_id, name)
);
CREATE INDEX data_sources_workspace_idx ON data_sources (workspace_id, created_at DESC, id DESC);

ALTER TABLE data_sources ENABLE ROW LEVEL SECURITY;
CREATE POLICY data_sources_tenant ON data_sources TO rivergen_app
    USING (workspace_id = app_workspace_id());
