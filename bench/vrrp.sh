#!/usr/bin/env bash
# Failover benchmark: ha-vrrpd against keepalived, each as a master/backup
# pair on a bridged LAN of network namespaces (made and deleted here), with
# a client in a third namespace. Root only. Writes the VRRP section of
# docs/benchmarks.md.
#
#   bench/vrrp.sh             # 5 rounds per case
#   ROUNDS=9 bench/vrrp.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "bench/vrrp.sh: needs root (network namespaces, raw sockets)" >&2
    exit 1
fi
need=()
command -v keepalived >/dev/null 2>&1 || need+=(keepalived)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if ((${#need[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${need[@]}"
fi
# The Debian package may start its own keepalived; the benchmark runs its own.
systemctl stop keepalived 2>/dev/null || service keepalived stop 2>/dev/null || true

cargo build --release --locked --bin ha-vrrpd
cargo build --release --locked -p ha-vrrp --example failover_probe
exec python3 bench/vrrp.py "$@"
