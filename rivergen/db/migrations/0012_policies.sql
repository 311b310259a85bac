-- Governance: the workspace's policies (row filters, masks, query limits, access rules), and
-- the governance a job's submitter had over its inputs, pinned when the job was accepted.
CREATE TABLE policies (
    id uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '',
    -- NULL: every dataset of the workspace.
    dataset_id uuid REFERENCES datasets (id) ON DELETE CASCADE,
    rule jsonb NOT NULL,
    -- NULL: every role.
    roles text[],
    priority integer NOT NULL DEFAULT 100 CHECK (priority BETWEEN 0 AND 10000),
    enabled boolean NOT NULL DEFAULT true,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX policies_workspace_idx ON policies (workspace_id, created_at DESC, id DESC);
CREATE INDEX policies_dataset_idx ON policies (dataset_id);

ALTER TABLE policies ENABLE ROW LEVEL SECURITY;
CREATE POLICY policies_tenant ON policies TO rivergen_app
    USING (workspace_id = app_workspace_id());

-- Per input dataset (by id), the Governed the submitter's role had at submission: the job
-- supervisor applies it when it loads the inputs, so a retry reads the same governed data.
ALTER TABLE jobs ADD COLUMN governance jsonb NOT NULL DEFAULT '{}'::jsonb;
