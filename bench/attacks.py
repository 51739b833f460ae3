"""ha-target and tgtd under the same iSCSI attacks (see bench/attacks.sh).

Runs the adversarial suite (examples/tests/adversarial_target.rs) on
release builds, one test at a time, ROUNDS times, with ATTACK_REPORT set:
each test appends what every attack did to each daemon (resident memory
before, at the peak and after, in KiB; alive; serving a normal client;
memory per connection held open). Medians over the rounds; a daemon
holds an attack if it held it in every round. The table replaces the
text between the attacks markers in the "Adversarial tests" section of
docs/security.md.
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "security.md"
SECTION = "## Adversarial tests"
START, END = "<!-- attacks:start -->", "<!-- attacks:end -->"
ROUNDS = int(os.environ.get("ROUNDS", "3"))
TARGETS = ["ha-target", "tgtd"]


def run_round(report):
    env = dict(os.environ, ATTACK_REPORT=str(report))
    cmd = ["cargo", "test", "--release", "--locked", "-p", "ha-examples", "--test", "adversarial_target",
           "--", "--test-threads=1"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    # A failing test is a finding, not a reason to lose the round: its
    # measurements were written before its assertions ran.
    if done.returncode != 0:
        failed = [l for l in done.stdout.splitlines() if l.startswith("test ") and l.endswith("FAILED")]
        print("\n".join(failed) or done.stdout[-2000:] + done.stderr[-2000:], file=sys.stderr)
    return [json.loads(line) for line in report.read_text().splitlines() if line.strip()]


def kib(value):
    return f"{value / 1024:,.1f} MiB" if value >= 10240 else f"{value:,.0f} KiB"


def verdict(rows):
    if not all(r["alive"] for r in rows):
        return "**died**"
    if any(r["panicked"] for r in rows):
        return "**panicked**"
    if not all(r["serves"] for r in rows):
        return "**stops serving**"
    return "holds"


def main():
    measured = {}
    order = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(ROUNDS):
            report = Path(tmp) / f"round{n}.jsonl"
            report.touch()
            for row in run_round(report):
                key = (row["attack"], row["target"])
                if row["attack"] not in order:
                    order.append(row["attack"])
                measured.setdefault(key, []).append(row)

    def med(attack, target, field):
        values = [r[field] for r in measured.get((attack, target), []) if r[field] is not None]
        return statistics.median(values) if values else None

    def cell(attack, target):
        rows = measured.get((attack, target))
        if not rows:
            return "not run | "
        before, peak, after = (med(attack, target, f) for f in ("before_kib", "peak_kib", "after_kib"))
        if not all(r["alive"] for r in rows):
            return f"{kib(before)} → died | {verdict(rows)}"
        return f"{kib(before)} → {kib(peak)} (+{kib(peak - before)}) → {kib(after)} | {verdict(rows)}"

    cpu = next((l.split(":", 1)[1].strip() for l in subprocess.run(
        ["lscpu"], capture_output=True, text=True).stdout.splitlines() if l.startswith("Model name")), "?")
    tgt_version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "tgt"],
                                 capture_output=True, text=True).stdout or "?"
    lines = [
        "Produced by `bench/attacks.sh` (see the header of `bench/attacks.py`): the adversarial suite on",
        "release builds, each attack against a fresh ha-target and a fresh tgtd.",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- Machine: {cpu}, {os.cpu_count()} cores, kernel {platform.release()}; tgt {tgt_version}",
        f"- Medians of {ROUNDS} rounds. RSS is VmRSS before the attack (after one normal session), VmHWM during",
        "  it, and VmRSS after its connections closed. \"holds\": still running, no panic, and a normal client",
        "  (login, 4 KiB write and read back) served afterwards, in every round.",
        "",
        "| attack | ha-target RSS before → peak → after | ha-target | tgtd RSS before → peak → after | tgtd |",
        "|---|---|---|---|---|",
    ]
    for attack in order:
        lines.append(f"| {attack} | {cell(attack, 'ha-target')} | {cell(attack, 'tgtd')} |")
    per = [a for a in order if med(a, "ha-target", "per_connection_kib") is not None]
    if per:
        lines += ["", "| memory per connection held | ha-target | tgtd |", "|---|---|---|"]
        for attack in per:
            values = [med(attack, t, "per_connection_kib") for t in TARGETS]
            lines.append(f"| {attack} | " + " | ".join("-" if v is None else f"{v:.1f} KiB" for v in values) + " |")
    lines += ["", "What each attack did, from the last round:", ""]
    for attack in order:
        for target in TARGETS:
            rows = measured.get((attack, target))
            if rows:
                lines.append(f"- {attack}, {target}: {rows[-1]['note']}")
    write_section("\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {OUT}")


def write_section(text):
    """Replaces the text between the markers, or puts them at the end of
    the Adversarial tests section (the last of the page)."""
    current = OUT.read_text()
    block = f"{START}\n{text.rstrip()}\n{END}\n"
    if START in current and END in current:
        before = current[: current.index(START)]
        after = current[current.index(END) + len(END):].lstrip("\n")
        current = before + block + ("\n" + after if after else "")
    elif SECTION in current:
        current = current.rstrip("\n") + "\n\n" + block
    else:
        current = current.rstrip("\n") + f"\n\n{SECTION}\n\n" + block
    OUT.write_text(current)


if __name__ == "__main__":
    main()
