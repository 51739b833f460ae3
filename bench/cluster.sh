#!/usr/bin/env bash
# Scheduler benchmark: ha-ctl simulate against Pacemaker's crm_simulate on
# the same synthetic CIBs (bench/gen-cib.py), in the same run; both must
# print the same Transition Summary. Writes the cluster section of
# docs/benchmarks.md.
#
#   bench/cluster.sh                 # 5 rounds of ha-ctl, 3 of crm_simulate
#   ROUNDS=9 CRM_ROUNDS=1 CRM_LIMIT=1200 bench/cluster.sh   # crm_simulate stopped after 20 min
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v crm_simulate >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "bench/cluster.sh: install pacemaker-cli-utils (or run as root)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends pacemaker-cli-utils
fi
cargo build --release --locked --bin ha-ctl
exec python3 bench/cluster.py "$@"
