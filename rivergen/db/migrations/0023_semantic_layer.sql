-- Semantic layer: a workspace's business vocabulary over its datasets (business names and
-- synonyms, column roles, measures, relationships, verified queries), one row per saved
-- version with the whole document. The newest version is the current one; the prompt
-- providers use the newest confirmed one.
CREATE TABLE semantic_layer_versions (
    id uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    version integer NOT NULL CHECK (version >= 1),
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'confirmed')),
    -- How the version was made: 'draft' built from the catalog and profiles, 'edit' a PUT.
    source text NOT NULL CHECK (source IN ('draft', 'edit')),
    layer jsonb NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    confirmed_by text,
    confirmed_at timestamptz,
    UNIQUE (workspace_id, version)
);
CREATE INDEX semantic_layer_versions_workspace_idx
    ON semantic_layer_versions (workspace_id, created_at DESC, id DESC);
-- The providers' version: the newest confirmed one.
CREATE INDEX semantic_layer_versions_confirmed_idx
    ON semantic_layer_versions (workspace_id, version DESC) WHERE status = 'confirmed';

ALTER TABLE semantic_layer_versions ENABLE ROW LEVEL SECURITY;
CREATE POLICY semantic_layer_versions_tenant ON semantic_layer_versions TO rivergen_app
    USING (workspace_id = app_workspace_id());
