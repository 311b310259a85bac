-- Hybrid compute: jobs. The job supervisor (a detached Ray actor) owns a job while it runs and
-- records every state change here, so a job survives the supervisor's restart.
CREATE TABLE jobs (
    id uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind text NOT NULL,
    name text,
    params jsonb NOT NULL,
    state text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    progress real NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    message text NOT NULL DEFAULT '',
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts integer NOT NULL CHECK (max_attempts >= 1),
    error jsonb,
    result_dataset_id uuid,
    result_version integer,
    cancel_requested boolean NOT NULL DEFAULT false,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    compute_seconds double precision NOT NULL DEFAULT 0 CHECK (compute_seconds >= 0),
    heartbeat_at timestamptz
);
CREATE INDEX jobs_workspace_idx ON jobs (workspace_id, created_at DESC, id DESC);
-- What the supervisor resumes after a restart, and what the concurrent-jobs quota counts.
CREATE INDEX jobs_active_idx ON jobs (workspace_id) WHERE state IN ('queued', 'running');

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY jobs_tenant ON jobs TO rivergen_app USING (workspace_id = app_workspace_id());
