#!/usr/bin/env bash
# Ray head node of docker/compose.yaml (and the image's default command).
#   1. start Ray with the dashboard and Jobs API on loopback only,
#   2. apply the SQL migrations straight to Postgres (RIVERGEN_POSTGRES__MIGRATE_DSN),
#   3. deploy the Serve applications of deployments/serve_config.yaml,
#   4. stay in the foreground until Ray stops.
# Extra `ray start` options (e.g. --num-cpus=4) go in RAY_START_EXTRA_ARGS.
set -euo pipefail

cd "$(dirname "$0")/.."  # the project root in the image: /home/ray/rivergen

# Serve performance flags: every Ray process inherits them from `ray start`.
export RAY_SERVE_ENABLE_HA_PROXY="${RAY_SERVE_ENABLE_HA_PROXY:-1}"
export RAY_SERVE_THROUGHPUT_OPTIMIZED="${RAY_SERVE_THROUGHPUT_OPTIMIZED:-1}"

dashboard="http://127.0.0.1:8265"
read -r -a extra_args <<< "${RAY_START_EXTRA_ARGS:-}"

# The dashboard and Jobs API run code for anyone who reaches them: bind them to loopback.
ray start --head --port=6379 --dashboard-host=127.0.0.1 --dashboard-port=8265 \
    "${extra_args[@]}" --block &
ray_pid=$!
trap 'ray stop >/dev/null 2>&1 || true' TERM INT

python docker/wait-for.py "${dashboard}/api/gcs_healthz" 180

rivergen migrate
serve deploy --address "${dashboard}" deployments/serve_config.yaml

wait "${ray_pid}"
