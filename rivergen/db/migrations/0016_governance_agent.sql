-- Governance agent: what sensitive-data detection found in a dataset's columns (kept with the
-- column's other metadata, across versions by column name), and the masking policies it
-- proposes until an admin approves (the policy is created) or rejects them.
ALTER TABLE dataset_columns
    ADD COLUMN sensitive_kind text,
    ADD COLUMN sensitive_score real CHECK (sensitive_score BETWEEN 0 AND 1),
    ADD COLUMN scanned_version integer,
    ADD COLUMN scanned_at timestamptz;

CREATE TABLE governance_proposals (
    id uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    dataset_id uuid NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    column_name text NOT NULL,
    kind text NOT NULL,
    -- The PolicyCreate an approval creates.
    policy jsonb NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected')),
    policy_id uuid REFERENCES policies (id) ON DELETE SET NULL,
    reason text NOT NULL DEFAULT '',
    created_by text NOT NULL,
    decided_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz
);
CREATE INDEX governance_proposals_workspace_idx
    ON governance_proposals (workspace_id, created_at DESC, id DESC);
-- At most one open proposal per column: a second scan does not repeat it.
CREATE UNIQUE INDEX governance_proposals_open_idx
    ON governance_proposals (dataset_id, column_name) WHERE state = 'pending';

ALTER TABLE governance_proposals ENABLE ROW LEVEL SECURITY;
CREATE POLICY governance_proposals_tenant ON governance_proposals TO rivergen_app
    USING (workspace_id = app_workspace_id());
