#!/usr/bin/env bash
# ha-target and tgtd under the same six iSCSI attacks (the adversarial
# suite, examples/tests/adversarial_target.rs, on release builds): RSS
# before, at the peak and after each attack, whether each daemon still
# serves, and memory per idle connection and per session. Root only
# (tgtd). Writes the table into the "Adversarial tests" section of
# docs/security.md.
#
#   bench/attacks.sh            # 3 rounds
#   ROUNDS=5 bench/attacks.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "bench/attacks.sh: needs root (tgtd)" >&2
    exit 1
fi
need=()
command -v tgtd >/dev/null 2>&1 || need+=(tgt)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if ((${#need[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${need[@]}"
fi
cargo test --release --locked -p ha-examples --test adversarial_target --no-run
exec python3 bench/attacks.py "$@"
