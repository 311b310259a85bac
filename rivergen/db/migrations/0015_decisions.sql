-- Decision Intelligence: a workspace's guideline sets (thresholds, refining rules, hard
-- limits), every decision made, and the simulations of a guideline set over a dataset.
CREATE TABLE decision_guidelines (
    id uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    thresholds jsonb NOT NULL,
    fallback_outcome text NOT NULL,
    rules jsonb NOT NULL DEFAULT '[]',
    limits jsonb NOT NULL DEFAULT '[]',
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX decision_guidelines_workspace_idx
    ON decision_guidelines (workspace_id, created_at DESC, id DESC);

CREATE TABLE decisions (
    id uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    model_id uuid NOT NULL,
    model_version integer,
    scored_by text NOT NULL,
    guideline_id uuid REFERENCES decision_guidelines (id) ON DELETE SET NULL,
    dataset_id uuid,
    row_index bigint,
    features jsonb NOT NULL,
    score double precision NOT NULL,
    adjusted_score double precision NOT NULL,
    outcome text NOT NULL,
    rules_applied jsonb NOT NULL DEFAULT '[]',
    limits_hit jsonb NOT NULL DEFAULT '[]',
    explanation jsonb NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX decisions_workspace_idx ON decisions (workspace_id, created_at DESC, id DESC);

CREATE TABLE decision_simulations (
    id uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    model_id uuid NOT NULL,
    model_version text,
    dataset_id uuid NOT NULL,
    guideline_id uuid REFERENCES decision_guidelines (id) ON DELETE SET NULL,
    requested_role text NOT NULL,
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    result jsonb,
    error jsonb,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX decision_simulations_workspace_idx
    ON decision_simulations (workspace_id, created_at DESC, id DESC);

ALTER TABLE decision_guidelines ENABLE ROW LEVEL SECURITY;
CREATE POLICY decision_guidelines_tenant ON decision_guidelines TO rivergen_app
    USING (workspace_id = app_workspace_id());
ALTER TABLE decisions ENABLE ROW LEVEL SECURITY;
CREATE POLICY decisions_tenant ON decisions TO rivergen_app
    USING (workspace_id = app_workspace_id());
ALTER TABLE decision_simulations ENABLE ROW LEVEL SECURITY;
CREATE POLICY decision_simulations_tenant ON decision_simulations TO rivergen_app
    USING (workspace_id = app_workspace_id());
