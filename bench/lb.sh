#!/usr/bin/env bash
# Whole-system benchmark of ha-lb against HAProxy and nginx, all in front of
# the same nginx backend, one worker each, pinned to one core, with the load
# generator and backend on the other core. Writes docs/benchmarks.md.
#
#   bench/lb.sh            # 3 rounds, 10 s per measurement
#   ROUNDS=5 SECONDS_PER_RUN=20 bench/lb.sh
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in haproxy nginx wrk iperf3 taskset python3; do
    command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if ((${#need[@]})); then
    pkgs=()
    for tool in "${need[@]}"; do
        case "$tool" in
            taskset) pkgs+=(util-linux) ;;
            python3) pkgs+=(python3) ;;
            *) pkgs+=("$tool") ;;
        esac
    done
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${pkgs[@]}"
fi
# The Debian packages start their daemons; the benchmark runs its own.
systemctl stop haproxy nginx 2>/dev/null || service haproxy stop 2>/dev/null || true
service nginx stop 2>/dev/null || true
pkill -x haproxy 2>/dev/null || true
pkill -x nginx 2>/dev/null || true

cargo build --release --locked --bin ha-lb
exec python3 bench/lb.py "$@"
