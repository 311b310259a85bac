"""Capability services: the logic the agents call. Of the design's eight, six live here and two
beside the areas whose data they own (Schema & Metadata in `rivergen/datasets/`, Data Quality &
Profiling in `rivergen/quality/` with its profiles kept by `rivergen/datasets/`).

What "service" means for each, as the code stands:

- stateless, each hosted by its own Serve deployment (`deployments/services.py`) and reached by
  handle: `planning/` (Planning), `language/` (Language & Explanation) and `execution/`
  (Execution Support, which runs SQL as Ray tasks);
- keeping state in Postgres (never in a replica): `governance/` (policies; also evaluated in
  process by every domain service that reads or returns data, the platform's choke point, and
  hosted as the `governance` deployment for Prompt Studio), `ml/` (the model registry, the
  `machine-learning` deployment), `monitoring/` (drift and performance checks, the
  `model-monitoring` deployment) and `decisions/` (guideline sets and hard limits, used by
  Decision Intelligence: no deployment of its own).

Replicas hold clients and caches only; whatever outlives a request is in Postgres or object
storage. See ARCHITECTURE.md for where each one runs.
"""
