-- What is kept from a computation over datasets records the governance it ran under, so a reader
-- whose own policies hide more of those datasets is not shown it (403
-- derived_from_governed_data, or its data withheld): {"<dataset id>": <Governed as JSON>} for
-- each dataset whose data the creator's policies changed (one left out was seen unchanged).
-- NULL: kept before this column existed, taken as computed by an ungoverned caller.

-- A model version: its trainer's governance of the training dataset (the training job's pin).
ALTER TABLE model_versions ADD COLUMN governance jsonb;
UPDATE model_versions v SET governance = j.governance FROM jobs j WHERE j.id = v.job_id;

-- A decision (its row's dataset, the scoring model's training dataset), a simulation, a
-- monitoring report (its current and reference datasets).
ALTER TABLE decisions ADD COLUMN governance jsonb;
ALTER TABLE decision_simulations ADD COLUMN governance jsonb;
ALTER TABLE model_monitoring_reports ADD COLUMN governance jsonb;

-- The same data under another id: a data source's key is "data_source:" and the SHA-256 of its
-- normalized non-secret config (rivergen/connectors/config.py: source_key), a file's is "file:"
-- and its content's SHA-256. A dataset version records the key of what it was imported from
-- (source->>'key'), so two sources with one key are one source to governance, even once the
-- first is deleted. NULL here: registered before, filled in by the application.
ALTER TABLE data_sources ADD COLUMN source_key text;
CREATE INDEX data_sources_source_key_idx ON data_sources (workspace_id, source_key);
UPDATE dataset_versions v SET source = v.source || jsonb_build_object('key', 'file:' || f.sha256)
  FROM files f
 WHERE v.source->>'kind' = 'file' AND f.id::text = v.source->>'id';
