-- Schema & Metadata: the dataset registry, its versions, column metadata, lineage and profiles.
CREATE TABLE datasets (
    id uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '',
    tags text[] NOT NULL DEFAULT '{}',
    current_version integer NOT NULL DEFAULT 0,
    -- The catalog's search document, rebuilt by the service whenever what it covers changes
    -- (name A, tags B, columns C, descriptions D).
    search tsvector NOT NULL DEFAULT ''::tsvector,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name)
);
CREATE INDEX datasets_workspace_idx ON datasets (workspace_id, created_at DESC, id DESC);
CREATE INDEX datasets_search_idx ON datasets USING gin (search);

-- Each version is one immutable Parquet object.
CREATE TABLE dataset_versions (
    dataset_id uuid NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    version integer NOT NULL CHECK (version > 0),
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    object_key text NOT NULL UNIQUE,
    source_format text NOT NULL,
    row_count bigint NOT NULL,
    size_bytes bigint NOT NULL,
    columns jsonb NOT NULL,
    source jsonb NOT NULL,
    invalid_row_count bigint NOT NULL DEFAULT 0,
    invalid_rows jsonb NOT NULL DEFAULT '[]',
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset_id, version)
);

-- Descriptions and tags of columns, kept across versions by column name.
CREATE TABLE dataset_columns (
    dataset_id uuid NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    name text NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    description text NOT NULL DEFAULT '',
    tags text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (dataset_id, name)
);

-- Lineage: what each dataset version was made from (a file, a data source, another dataset,
-- a job), and later what was made from it.
CREATE TABLE lineage_edges (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    source_kind text NOT NULL CHECK (source_kind IN ('file', 'data_source', 'dataset', 'job')),
    source_id uuid NOT NULL,
    source_version integer,
    target_kind text NOT NULL CHECK (target_kind IN ('dataset', 'job')),
    target_id uuid NOT NULL,
    target_version integer,
    relation text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lineage_target_idx ON lineage_edges (target_id);
CREATE INDEX lineage_source_idx ON lineage_edges (source_id);

CREATE TABLE dataset_profiles (
    dataset_id uuid NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    version integer NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    profile jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset_id, version)
);

ALTER TABLE datasets ENABLE ROW LEVEL SECURITY;
CREATE POLICY datasets_tenant ON datasets TO rivergen_app
    USING (workspace_id = app_workspace_id());
ALTER TABLE dataset_versions ENABLE ROW LEVEL SECURITY;
CREATE POLICY dataset_versions_tenant ON dataset_versions TO rivergen_app
    USING (workspace_id = app_workspace_id());
ALTER TABLE dataset_columns ENABLE ROW LEVEL SECURITY;
CREATE POLICY dataset_columns_tenant ON dataset_columns TO rivergen_app
    USING (workspace_id = app_workspace_id());
ALTER TABLE lineage_edges ENABLE ROW LEVEL SECURITY;
CREATE POLICY lineage_edges_tenant ON lineage_edges TO rivergen_app
    USING (workspace_id = app_workspace_id());
ALTER TABLE dataset_profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY dataset_profiles_tenant ON dataset_profiles TO rivergen_app
    USING (workspace_id = app_workspace_id());
