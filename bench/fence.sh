#!/usr/bin/env bash
# Fencing benchmark: time to a confirmed off and a confirmed reboot on
# OpenIPMI's simulated BMC (the lab's configuration), ha-fence against
# fence_ipmilan (Python + ipmitool), in the same run. Writes the fencing
# section of docs/benchmarks.md.
#
#   bench/fence.sh            # 7 rounds
#   ROUNDS=9 bench/fence.sh
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ipmi_sim >/dev/null 2>&1 || need+=(openipmi)
command -v ipmitool >/dev/null 2>&1 || need+=(ipmitool)
command -v fence_ipmilan >/dev/null 2>&1 || need+=(fence-agents)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if ((${#need[@]})); then
    if [ "$(id -u)" != 0 ]; then
        echo "bench/fence.sh: install ${need[*]} (or run as root)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${need[@]}"
fi
cargo build --release --locked --bin ha-fence
cargo build --release --locked -p ha-fence --example fence_probe
exec python3 bench/fence.py "$@"
