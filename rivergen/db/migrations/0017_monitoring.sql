-- Model Monitoring: each check of a model version against a dataset (drift, and performance
-- when the data holds labels), kept for the model's history.
CREATE TABLE model_monitoring_reports (
    id uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- No foreign keys to the model or the datasets: a report outlives what it describes.
    model_id uuid NOT NULL,
    model_version integer NOT NULL,
    dataset_id uuid NOT NULL,
    dataset_version integer NOT NULL,
    reference_dataset_id uuid NOT NULL,
    reference_version integer NOT NULL,
    drifted boolean NOT NULL,
    performance_degraded boolean,
    report jsonb NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX model_monitoring_reports_model_idx
    ON model_monitoring_reports (workspace_id, model_id, created_at DESC, id DESC);

ALTER TABLE model_monitoring_reports ENABLE ROW LEVEL SECURITY;
CREATE POLICY model_monitoring_reports_tenant ON model_monitoring_reports TO rivergen_app
    USING (workspace_id = app_workspace_id());
