-- Storage Service: files and the direct uploads that create them.
CREATE TABLE files (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name text NOT NULL,
    content_type text NOT NULL,
    size bigint NOT NULL CHECK (size > 0),
    sha256 text NOT NULL,
    object_key text NOT NULL UNIQUE,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX files_workspace_idx ON files (workspace_id, created_at DESC, id DESC);

-- An upload in progress. Its file row appears only once the bytes are verified, so a failed or
-- abandoned upload leaves no file behind.
CREATE TABLE uploads (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    file_id uuid NOT NULL,
    name text NOT NULL,
    content_type text NOT NULL,
    size bigint NOT NULL CHECK (size > 0),
    sha256 text NOT NULL,
    object_key text NOT NULL,
    store_upload_id text NOT NULL,
    part_size bigint NOT NULL,
    part_count integer NOT NULL,
    status text NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'completing', 'completed', 'aborted', 'failed')),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX uploads_open_idx ON uploads (expires_at) WHERE status = 'open';

ALTER TABLE files ENABLE ROW LEVEL SECURITY;
CREATE POLICY files_tenant ON files TO rivergen_app USING (workspace_id = app_workspace_id());
ALTER TABLE uploads ENABLE ROW LEVEL SECURITY;
CREATE POLICY uploads_tenant ON uploads TO rivergen_app USING (workspace_id = app_workspace_id());
