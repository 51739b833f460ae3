"""ha-ctl simulate against crm_simulate (see bench/cluster.sh).

For each size (primitives in groups of five, nodes) a CIB is written by
bench/gen-cib.py. Each tool's process is timed from start to exit:
`ha-ctl simulate -x FILE -R` and `crm_simulate -x FILE -R` (the scheduler
run, printing the current status and the Transition Summary), and both
with `-S`, which also simulates executing every action and prints the
revised status (crm_simulate's `-S` at 1,000 primitives ran for over 14
minutes here, so it is timed at the smallest size only). Rounds alternate
the tools; medians are reported. The Transition Summary lines of both are
compared as sets, and the current status blocks byte for byte.
"""

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import ROOT, write_section  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "5"))
CRM_ROUNDS = int(os.environ.get("CRM_ROUNDS", "3"))
# crm_simulate's limit per run (seconds): past it, the time is reported as
# "more than" the limit and the summaries cannot be compared.
CRM_LIMIT = float(os.environ.get("CRM_LIMIT", "1800"))
HA_CTL = ROOT / "target" / "release" / "ha-ctl"
SIZES = [(100, 2), (1000, 16), (10000, 64)]


def summary(text):
    lines = text.splitlines()
    if "Transition Summary:" not in lines:
        return None
    rest = lines[lines.index("Transition Summary:") + 1:]
    out = set()
    for line in rest:
        if not line.startswith("  "):
            break
        out.add(line)
    return out


def status(text):
    """The `Current cluster status:` block, as printed."""
    if text is None or "Current cluster status:" not in text:
        return None
    rest = text.split("Current cluster status:\n", 1)[1]
    return rest.split("\nTransition Summary:", 1)[0]


def timed(cmd, limit=None):
    """Seconds the command took and its output; (None, None) past `limit`."""
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return None, None
    took = time.monotonic() - start
    if p.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({p.returncode}): {p.stderr[-400:]}")
    return took, p.stdout


def main():
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for prims, nodes in SIZES:
            cib = Path(tmp) / f"cib-{prims}-{nodes}.xml"
            with open(cib, "w") as f:
                subprocess.run([sys.executable, str(ROOT / "bench" / "gen-cib.py"), str(prims), str(nodes)],
                               stdout=f, check=True)
            ours, ours_s, theirs, theirs_s = [], [], [], []
            same, same_status, over = None, None, False
            crm_rounds = CRM_ROUNDS if prims < 10000 else 1
            for r in range(max(ROUNDS, crm_rounds)):
                if r < crm_rounds:
                    t, out = timed(["crm_simulate", "-x", str(cib), "-R"], CRM_LIMIT)
                    theirs.append(t if t is not None else CRM_LIMIT)
                    over = t is None
                    reference = summary(out) if out is not None else None
                    reference_status = status(out)
                if r < ROUNDS:
                    t, out = timed([str(HA_CTL), "simulate", "-x", str(cib), "-R"])
                    ours.append(t)
                    mine = summary(out)
                    mine_status = status(out)
                    t, _ = timed([str(HA_CTL), "simulate", "-x", str(cib), "-S"])
                    ours_s.append(t)
                if r == 0 and over:
                    same = None
                    print(f"{prims}/{nodes}: crm_simulate ran past {CRM_LIMIT:.0f} s", file=sys.stderr)
                elif r == 0:
                    same = reference == mine
                    same_status = reference_status == mine_status
                    if not same:
                        print(f"{prims}/{nodes}: the summaries differ", file=sys.stderr)
                        print(sorted(reference ^ mine)[:20], file=sys.stderr)
            if prims == 100:
                for _ in range(crm_rounds):
                    t, _ = timed(["crm_simulate", "-x", str(cib), "-S"])
                    theirs_s.append(t)
            changes = len(mine)
            rows.append((prims, nodes, changes, statistics.median(ours), statistics.median(theirs),
                         statistics.median(ours_s), statistics.median(theirs_s) if theirs_s else None,
                         same, same_status, over))
            print(rows[-1])
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    crm = subprocess.run(["crm_simulate", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    lines = [
        "## Scheduler: ha-ctl simulate, crm_simulate",
        "",
        f"Command: `bench/cluster.sh` (ROUNDS={ROUNDS}, CRM_ROUNDS={CRM_ROUNDS}, CRM_LIMIT={CRM_LIMIT:.0f} s; one "
        "crm_simulate round at 10,000 primitives). Machine: " + f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}; "
        + f"{crm}.",
        "",
        "CIBs from `bench/gen-cib.py`: Dummy primitives in groups of five, every tenth group colocated "
        "(INFINITY) with and ordered after the one before, all nodes online, the last in standby (what ran there "
        "moves), every seventh group never started (starts), every 50th primitive with a failed monitor "
        "(recovers, and what is ordered after it restarts). Each tool's process is timed from start to exit; "
        "medians. `-R` (both tools) runs the scheduler and prints the current status and the Transition "
        "Summary; `-S` also simulates executing every action and prints the revised status (crm_simulate's timed "
        "at 100 primitives only: at 1,000 it ran for more than 14 minutes here and was stopped). \"same\" "
        "compares the Transition Summary lines as sets and the current status block byte for byte.",
        "",
        "| primitives | nodes | changes | same summary, status | ha-ctl -R (s) | crm_simulate -R (s) | ratio "
        "| ha-ctl -S (s) | crm_simulate -S (s) |",
        "|---:|---:|---:|:---:|---:|---:|---:|---:|---:|",
    ]
    for prims, nodes, changes, ours, theirs, ours_s, theirs_s, same, same_status, over in rows:
        s_text = f"{theirs_s:.2f}" if theirs_s is not None else "-"
        more = "> " if over else ""
        if same is None:
            same_text = "not compared (crm_simulate stopped)"
        else:
            same_text = f"{'yes' if same else 'NO'}, {'yes' if same_status else 'NO'}"
        lines.append(f"| {prims:,} | {nodes} | {changes} | {same_text} | {ours:.3f} | {more}{theirs:.2f} | "
                     f"{more}{theirs / ours:,.0f}x | {ours_s:.3f} | {s_text} |")
    lines += [
        "",
        "Target (issue #7): at least 10x faster than crm_simulate at 1,000 and 10,000 primitives, with the same "
        "Transition Summary.",
    ]
    out = write_section("cluster", "\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
