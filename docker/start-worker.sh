#!/usr/bin/env bash
# Ray worker node of docker/compose.yaml: wait for the head, then join it and stay in the
# foreground. The head address defaults to ray-head:6379 (RAY_HEAD_ADDRESS overrides it);
# extra `ray start` options (e.g. --num-cpus=4) go in RAY_START_EXTRA_ARGS.
set -euo pipefail

cd "$(dirname "$0")/.."  # the project root in the image: /home/ray/rivergen

# Serve performance flags: every Ray process inherits them from `ray start`.
export RAY_SERVE_ENABLE_HA_PROXY="${RAY_SERVE_ENABLE_HA_PROXY:-1}"
export RAY_SERVE_THROUGHPUT_OPTIMIZED="${RAY_SERVE_THROUGHPUT_OPTIMIZED:-1}"

head_address="${RAY_HEAD_ADDRESS:-ray-head:6379}"
read -r -a extra_args <<< "${RAY_START_EXTRA_ARGS:-}"

python docker/wait-for.py "tcp://${head_address}" 300

exec ray start --address="${head_address}" "${extra_args[@]}" --block
