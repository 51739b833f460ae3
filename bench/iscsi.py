"""ha-target against tgtd (see bench/iscsi.sh).

Both serve the same 1 GiB LUN file on tmpfs (written full first, so reads
touch real pages), one target at a time, pinned to core 0; the clients run
on core 1. Per round and target: iscsi-perf (4k random reads, depth 32,
SECONDS long), qemu-img bench 4k reads and writes at depth 32 with a
1 MiB + 4 KiB stride (scattered over the LUN; qemu-img bench has no random
mode), and 1 MiB sequential reads and writes at depth 4. The order of the
targets alternates between rounds; medians of ROUNDS rounds.

BEFORE=PATH adds another ha-target binary (an earlier build, e.g. of the
previous commit) to the same rounds, so a change is measured against what
it changed, in the same run, next to tgtd.
"""

import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import ROOT, write_section  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "3"))
SECONDS = float(os.environ.get("SECONDS_PER_RUN", "5"))
WORK = Path("/dev/shm/ha-rs-iscsi-bench")
LUN = WORK / "lun.img"
LUN_SIZE = 1 << 30
HA_TARGET = ROOT / "target" / "release" / "ha-target"
QEMU = Path(os.environ.get("HA_QEMU_ISCSI", "/opt/ha-rs/qemu-iscsi"))
BEFORE = os.environ.get("BEFORE")
IQN = {"ha-target": "iqn.2025-09.com.example:storage", "tgtd": "iqn.2025-09.com.example:tgt",
       "before": "iqn.2025-09.com.example:storage"}
LUN_NUMBER = {"ha-target": 0, "tgtd": 1, "before": 0}
PORT = {"ha-target": 3290, "tgtd": 3291, "before": 3292}
BINARY = {"ha-target": HA_TARGET, "before": Path(BEFORE) if BEFORE else None}
IMPLS = ["ha-target", "tgtd"] + (["before"] if BEFORE else [])
CONTROL = "917"
STRIDE = 1052672


def url(impl):
    return f"iscsi://127.0.0.1:{PORT[impl]}/{IQN[impl]}/{LUN_NUMBER[impl]}"


def wait_port(port):
    import socket

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port}")


def start(impl):
    if impl in BINARY:
        proc = subprocess.Popen(
            ["taskset", "-c", "0", str(BINARY[impl]), "--iqn", IQN[impl], "--lun", f"disk1={LUN}",
             "--portal", f"127.0.0.1:{PORT[impl]}"],
            stderr=subprocess.DEVNULL,
        )
        wait_port(PORT[impl])
        return proc
    proc = subprocess.Popen(
        ["taskset", "-c", "0", "tgtd", "-f", "--iscsi", f"portal=127.0.0.1:{PORT[impl]}", "-C", CONTROL],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    adm = ["tgtadm", "-C", CONTROL, "--lld", "iscsi"]
    deadline = time.monotonic() + 10
    while subprocess.run(adm + ["--op", "show", "--mode", "target"], capture_output=True).returncode != 0:
        if time.monotonic() > deadline:
            sys.exit("tgtd did not start")
        time.sleep(0.05)
    for args in (
        ["--op", "new", "--mode", "target", "--tid", "1", "-T", IQN[impl]],
        ["--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", str(LUN)],
        ["--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL"],
    ):
        subprocess.run(adm + args, check=True, capture_output=True)
    wait_port(PORT[impl])
    return proc


def stop(impl, proc):
    if impl == "tgtd":
        subprocess.run(["tgtadm", "-C", CONTROL, "--op", "delete", "--mode", "system"], capture_output=True)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def memory_kib(pid, key):
    """VmRSS or VmHWM of a process and its threads (tgtd's I/O threads share it)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def iscsi_perf(impl):
    proc = subprocess.Popen(
        ["taskset", "-c", "1", "iscsi-perf", "-m", "32", "-b", "8", "-r", url(impl)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    time.sleep(SECONDS)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    averages = re.findall(r"iops average (\d+)", out)
    if not averages:
        sys.exit(f"iscsi-perf against {impl} printed no figure:\n{out[-2000:]}")
    return float(averages[-1])


def qemu_bench(impl, size, depth, count, write, stride=None):
    cmd = ["taskset", "-c", "1", str(QEMU / "usr/bin/qemu-img"), "bench", "-f", "raw",
           "-c", str(count), "-d", str(depth), "-s", str(size)]
    if stride:
        cmd += ["-S", str(stride)]
    if write:
        cmd.append("-w")
    cmd.append(url(impl))
    env = dict(os.environ, QEMU_MODULE_DIR=str(QEMU / "usr/lib/x86_64-linux-gnu/qemu"))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    m = re.search(r"Run completed in ([0-9.]+) seconds", out.stdout)
    if out.returncode != 0 or not m:
        sys.exit(f"qemu-img bench against {impl} failed:\n{out.stdout}{out.stderr}")
    return count / float(m.group(1))


def cpu_seconds(pid):
    """User and system CPU time of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sequential(impl, pid, write):
    """1 MiB sequential MB/s, and MB per CPU-second of the target: the
    second holds still on a busy machine, where throughput does not."""
    before = cpu_seconds(pid)
    mbs = qemu_bench(impl, 1 << 20, 4, 3_000, write) * 1.048576
    used = cpu_seconds(pid) - before
    return mbs, 3_000 * 1.048576 / max(used, 0.01)


def round_for(impl):
    proc = start(impl)
    try:
        idle = memory_kib(proc.pid, "VmRSS")
        r = {
            "perf_read_iops": iscsi_perf(impl),
            "qemu_read_iops": qemu_bench(impl, 4096, 32, 100_000, False, STRIDE),
            "qemu_write_iops": qemu_bench(impl, 4096, 32, 100_000, True, STRIDE),
        }
        r["seq_read_mbs"], r["seq_read_mb_per_cpu_s"] = sequential(impl, proc.pid, False)
        r["seq_write_mbs"], r["seq_write_mb_per_cpu_s"] = sequential(impl, proc.pid, True)
        r |= {
            "rss_idle_kib": idle,
            "rss_peak_kib": memory_kib(proc.pid, "VmHWM"),
        }
    finally:
        stop(impl, proc)
    return r


def main():
    for path in (HA_TARGET, QEMU / "usr/bin/qemu-img"):
        if not path.exists():
            sys.exit(f"{path} is missing: run bench/iscsi.sh")
    WORK.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dd", "if=/dev/zero", f"of={LUN}", "bs=1M", f"count={LUN_SIZE >> 20}"],
                   check=True, capture_output=True)
    results = {impl: [] for impl in IMPLS}
    try:
        for r in range(ROUNDS):
            for impl in IMPLS[r % len(IMPLS):] + IMPLS[:r % len(IMPLS)]:
                results[impl].append(round_for(impl))
                print(f"round {r + 1} {impl:9} {results[impl][-1]}", flush=True)
    finally:
        LUN.unlink(missing_ok=True)

    def med(impl, key):
        return statistics.median(x[key] for x in results[impl])

    tgt_version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "tgt"], capture_output=True, text=True).stdout
    lib_version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "libiscsi-bin"], capture_output=True, text=True).stdout
    qemu_version = subprocess.run(
        [str(QEMU / "usr/bin/qemu-img"), "--version"], capture_output=True, text=True,
        env=dict(os.environ, QEMU_MODULE_DIR=str(QEMU / "usr/lib/x86_64-linux-gnu/qemu")),
    ).stdout.splitlines()[0]
    cols = [
        ("perf_read_iops", "iscsi-perf 4k read IOPS", 1.5),
        ("qemu_read_iops", "qemu-img 4k read IOPS", 1.5),
        ("qemu_write_iops", "qemu-img 4k write IOPS", 1.5),
        ("seq_read_mbs", "1 MiB read MB/s", 1.0),
        ("seq_write_mbs", "1 MiB write MB/s", 1.0),
    ]
    efficiency = [
        ("seq_read_mb_per_cpu_s", "1 MiB read MB per CPU-second"),
        ("seq_write_mb_per_cpu_s", "1 MiB write MB per CPU-second"),
    ]
    lines = [
        "## iSCSI target: ha-target, tgtd",
        "",
        "Produced by `bench/iscsi.sh` (see the header of `bench/iscsi.py`).",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- Machine: {os.cpu_count()} cores, kernel {platform.release()}; tgt {tgt_version}; libiscsi-bin {lib_version};"
        f" {qemu_version}; ha-target release build",
        "- One 1 GiB LUN file on tmpfs, written full first, served by one target at a time, pinned to core 0"
        " (ha-target: its runtime's threads; tgtd: its process and I/O threads); clients on core 1.",
        f"- `iscsi-perf -m 32 -b 8 -r` for {SECONDS:g} s; `qemu-img bench -d 32 -s 4k -S {STRIDE} -c 100000 [-w]`"
        " (a stride of 1 MiB + 4 KiB scatters the I/O over the LUN); `qemu-img bench -d 4 -s 1M -c 3000 [-w]`.",
        "- RSS: VmRSS idle after start, VmHWM (peak) after the round's single session.",
        f"- Medians of {ROUNDS} rounds, target order rotated each round. Ratios are ha-target / tgtd from the same run.",
        "",
        "| | " + " | ".join(c[1] for c in cols) + " | RSS idle KiB | peak RSS KiB |",
        "|---|" + "---|" * (len(cols) + 2),
    ]
    for impl in IMPLS:
        lines.append(
            f"| {impl} | " + " | ".join(f"{med(impl, k):,.0f}" for k, _, _ in cols)
            + f" | {med(impl, 'rss_idle_kib'):,.0f} | {med(impl, 'rss_peak_kib'):,.0f} |"
        )
    lines += ["", "### ha-target against the targets", "", "| measure | ratio to tgtd | target | verdict |", "|---|---|---|---|"]
    for key, name, target in cols:
        ratio = med("ha-target", key) / med("tgtd", key)
        lines.append(f"| {name} | {ratio:.2f}x | >= {target:.1f}x | {'met' if ratio >= target else 'MISSED'} |")
    if BEFORE:
        lines += ["", "### This build against the earlier one (`before`: BEFORE=" + Path(BEFORE).name + ")", "",
                  "| measure | this / before | before / tgtd | this / tgtd |", "|---|---|---|---|"]
        for key, name in [(k, n) for k, n, _ in cols] + efficiency:
            lines.append(
                f"| {name} | {med('ha-target', key) / med('before', key):.2f}x"
                f" | {med('before', key) / med('tgtd', key):.2f}x | {med('ha-target', key) / med('tgtd', key):.2f}x |"
            )
    lines += ["", "CPU cost of the 1 MiB runs (the target's user and system time, all threads):", "",
              "| | " + " | ".join(n for _, n in efficiency) + " |", "|---|" + "---|" * len(efficiency)]
    for impl in IMPLS:
        lines.append(f"| {impl} | " + " | ".join(f"{med(impl, k):,.0f}" for k, _ in efficiency) + " |")
    peak = med("ha-target", "rss_peak_kib") - med("ha-target", "rss_idle_kib")
    lines += [
        "",
        f"Peak RSS growth for one session at depth 32: ha-target {peak:,.0f} KiB,"
        f" tgtd {med('tgtd', 'rss_peak_kib') - med('tgtd', 'rss_idle_kib'):,.0f} KiB.",
        "",
        "Raw per-round figures:",
        "",
        "```json",
        json.dumps(results, indent=1),
        "```",
    ]
    out = write_section("iscsi", "\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
