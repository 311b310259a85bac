-- The model registry: a model (a name in a workspace), its trained versions with their held-out
-- metrics and artifact, which versions are servable (deployed), and named aliases (`champion`).
CREATE TABLE models (
    id uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name text NOT NULL,
    task text NOT NULL CHECK (task IN ('classification', 'regression')),
    target text NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name)
);
CREATE INDEX models_workspace_idx ON models (workspace_id, created_at DESC, id DESC);

CREATE TABLE model_versions (
    model_id uuid NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    version integer NOT NULL CHECK (version >= 1),
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    task text NOT NULL,
    target text NOT NULL,
    features jsonb NOT NULL,
    dataset_id uuid NOT NULL,
    dataset_version integer NOT NULL,
    params jsonb NOT NULL DEFAULT '{}',
    metrics jsonb NOT NULL DEFAULT '{}',
    artifact_key text NOT NULL,
    -- The training job and which of its candidates this is: a retried job registers once.
    job_id uuid NOT NULL,
    candidate integer NOT NULL,
    deployed boolean NOT NULL DEFAULT false,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_id, version),
    UNIQUE (job_id, candidate)
);

CREATE TABLE model_aliases (
    model_id uuid NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    alias text NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    version integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_id, alias),
    FOREIGN KEY (model_id, version) REFERENCES model_versions (model_id, version) ON DELETE CASCADE
);

ALTER TABLE models ENABLE ROW LEVEL SECURITY;
CREATE POLICY models_tenant ON models TO rivergen_app
    USING (workspace_id = app_workspace_id());
ALTER TABLE model_versions ENABLE ROW LEVEL SECURITY;
CREATE POLICY model_versions_tenant ON model_versions TO rivergen_app
    USING (workspace_id = app_workspace_id());
ALTER TABLE model_aliases ENABLE ROW LEVEL SECURITY;
CREATE POLICY model_aliases_tenant ON model_aliases TO rivergen_app
    USING (workspace_id = app_workspace_id());
