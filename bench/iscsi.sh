#!/usr/bin/env bash
# iSCSI target benchmark: ha-target against tgtd on the same LUN file on
# tmpfs, in the same run: iscsi-perf 4k random reads at depth 32, qemu-img
# bench 4k reads and writes at depth 32 (strided over the LUN) and 1 MiB
# sequential reads and writes, peak RSS. Root only (tgtd). Writes the iSCSI
# section of docs/benchmarks.md.
#
#   bench/iscsi.sh            # 3 rounds
#   ROUNDS=5 bench/iscsi.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "bench/iscsi.sh: needs root (tgtd)" >&2
    exit 1
fi
need=()
command -v tgtd >/dev/null 2>&1 || need+=(tgt)
command -v iscsi-perf >/dev/null 2>&1 || need+=(libiscsi-bin)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if ((${#need[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${need[@]}"
fi
scripts/qemu-iscsi >/dev/null
cargo build --release --locked --bin ha-target
exec python3 bench/iscsi.py "$@"
