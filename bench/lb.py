#!/usr/bin/env python3
"""ha-lb vs HAProxy vs nginx on one machine; run through bench/lb.sh.

Every proxy gets one worker pinned to core 0; the backend (nginx), wrk and
iperf3 run on core 1. Each figure is the median of ROUNDS rounds; the order
of the proxies rotates between rounds. Results go to docs/benchmarks.md.

BEFORE=PATH adds another ha-lb binary (an earlier build, e.g. of the
previous commit) to the same rounds as "before", so a change is measured
against what it changed, in the same run, next to HAProxy.
"""

import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys

from report import write_section
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("ROUNDS", "3"))
SECS = int(os.environ.get("SECONDS_PER_RUN", "10"))
CONNS = int(os.environ.get("CONNECTIONS", "50"))
# 10,000 is the target, but HAProxy reserves two descriptors per connection
# (maxconn * 2 + 14) and this machine's hard limit is 20,000: 9,900 is the
# most HAProxy can hold here, so every proxy is measured at that.
IDLE = int(os.environ.get("IDLE_CONNECTIONS", "9900"))
MAXCONN = IDLE + 90
HA_LB = ROOT / "target" / "release" / "ha-lb"
BEFORE = os.environ.get("BEFORE")
CLK = os.sysconf("SC_CLK_TCK")

BACKEND, IPERF = 18080, 5201
PORTS = {  # name: (http port, tcp port)
    "ha-lb": (18082, 18092),
    "haproxy": (18081, 18091),
    "nginx": (18083, 18093),
    "before": (18084, 18094),
}


def raise_nofile(n=65536):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY:
        n = min(n, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))


def start(cmd, core, **kw):
    return subprocess.Popen(
        ["taskset", "-c", str(core)] + cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=raise_nofile,
        **kw,
    )


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def family(pid):
    """The process and its descendants (nginx's master and worker)."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            pids += family(int(child))
    return pids


def cpu_seconds(pid):
    total = 0
    for p in family(pid):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLK


def rss_kib(pid):
    total = 0
    for p in family(pid):
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def nginx_modules():
    stream = Path("/usr/lib/nginx/modules/ngx_stream_module.so")
    return f"load_module {stream};" if stream.exists() else ""


def write_configs(d):
    (d / "backend.conf").write_text(f"""
worker_processes 1; pid {d}/backend.pid; error_log {d}/backend.err;
events {{ worker_connections 20000; }}
http {{ access_log off; keepalive_requests 1000000;
  server {{ listen 127.0.0.1:{BACKEND}; location / {{ return 200 "ok\\n"; }} }} }}
""")
    stream = nginx_modules()
    tcp = (
        f"stream {{ server {{ listen 127.0.0.1:{PORTS['nginx'][1]}; proxy_pass 127.0.0.1:{IPERF}; }} }}"
        if stream
        else ""
    )
    (d / "nginx.conf").write_text(f"""
{stream}
worker_processes 1; pid {d}/nginx.pid; error_log {d}/nginx.err; worker_rlimit_nofile 65536;
events {{ worker_connections 20000; }}
http {{ access_log off; keepalive_requests 1000000;
  upstream b {{ server 127.0.0.1:{BACKEND}; keepalive 64; }}
  server {{ listen 127.0.0.1:{PORTS['nginx'][0]};
    location / {{ proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection ""; }} }} }}
{tcp}
""")
    common = f"""
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend web
    bind 127.0.0.1:{{http}}
    default_backend app
backend app
    server s1 127.0.0.1:{BACKEND}
listen tcp
    mode tcp
    bind 127.0.0.1:{{tcp}}
    server i1 127.0.0.1:{IPERF}
"""
    for name in ("haproxy", "ha-lb", "before"):
        http, tcp = PORTS[name]
        (d / f"{name}.cfg").write_text(
            f"global\n    nbthread 1\n    maxconn {MAXCONN}\n" + common.format(http=http, tcp=tcp)
        )


def proxy_cmd(name, d):
    if name == "ha-lb":
        return [str(HA_LB), "-db", "-f", str(d / "ha-lb.cfg")]
    if name == "before":
        return [BEFORE, "-db", "-f", str(d / "before.cfg")]
    if name == "haproxy":
        return ["haproxy", "-db", "-f", str(d / "haproxy.cfg")]
    return ["nginx", "-c", str(d / "nginx.conf"), "-g", "daemon off;"]


def parse_wrk(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct, val, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        lat[pct] = float(val) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    bad = (int(errors.group(1)) if errors else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return rps, lat.get("50"), lat.get("99"), bad


def wrk(port, close, pid):
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{CONNS}", f"-d{SECS}s", "--latency"]
    if close:
        cmd += ["-H", "Connection: close"]
    cmd.append(f"http://127.0.0.1:{port}/")
    before = cpu_seconds(pid) if pid else 0
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu = (cpu_seconds(pid) - before) if pid else None
    rps, p50, p99, bad = parse_wrk(out)
    return {"rps": rps, "p50": p50, "p99": p99, "cpu": cpu, "errors": bad,
            "per_cpu": (rps * SECS / cpu) if cpu else None}


def iperf(port):
    out = subprocess.run(
        ["taskset", "-c", "1", "iperf3", "-c", "127.0.0.1", "-p", str(port), "-l", "64K",
         "-t", str(SECS), "-J"],
        capture_output=True, text=True,
    )
    if out.returncode != 0 or not out.stdout.strip():
        return None
    data = json.loads(out.stdout)
    received = data.get("end", {}).get("sum_received")
    return received["bits_per_second"] / 8 / 1e6 if received else None


def idle_rss(port, pid):
    raise_nofile()
    base = rss_kib(pid)
    socks = []
    for _ in range(IDLE):
        s = socket.socket()
        s.connect(("127.0.0.1", port))
        socks.append(s)
    time.sleep(2)
    rss = rss_kib(pid)
    for s in socks:
        s.close()
    time.sleep(1)
    return base, rss


def machine():
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} cores ({model}), kernel {os.uname().release}"


def version(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except OSError:
        return "not installed"


def main():
    d = Path(tempfile.mkdtemp(prefix="ha-lb-bench-"))
    write_configs(d)
    backend = start(["nginx", "-c", str(d / "backend.conf"), "-g", "daemon off;"], 1)
    iperf_srv = start(["iperf3", "-s", "-p", str(IPERF)], 1)
    wait_port(BACKEND)
    wait_port(IPERF)
    names = ["ha-lb", "haproxy", "nginx"] + (["before"] if BEFORE else [])
    results = {n: [] for n in names + ["backend"]}
    try:
        for r in range(ROUNDS):
            order = names[r % len(names):] + names[: r % len(names)]
            print(f"round {r + 1}/{ROUNDS}: {' '.join(order)}", flush=True)
            results["backend"].append({
                "ka": wrk(BACKEND, False, backend.pid),
                "close": wrk(BACKEND, True, backend.pid),
            })
            for name in order:
                proc = start(proxy_cmd(name, d), 0)
                try:
                    wait_port(PORTS[name][0])
                    wrk(PORTS[name][0], False, None)  # warm-up
                    res = {
                        "ka": wrk(PORTS[name][0], False, proc.pid),
                        "close": wrk(PORTS[name][0], True, proc.pid),
                        "tcp": iperf(PORTS[name][1]),
                        "rss": idle_rss(PORTS[name][0], proc.pid),
                    }
                    results[name].append(res)
                    print(f"  {name}: {res['ka']['rps']:.0f} req/s keep-alive, "
                          f"{res['close']['rps']:.0f} req/s close", flush=True)
                finally:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
    finally:
        backend.send_signal(signal.SIGTERM)
        iperf_srv.kill()
        backend.wait()
        iperf_srv.wait()
        shutil.rmtree(d, ignore_errors=True)
    write_report(results)


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=0):
    return "n/a" if v is None else f"{v:,.{digits}f}"


def ratio(a, b):
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


def write_report(results):
    rows = {}
    for name, runs in results.items():
        get = lambda f: med([f(r) for r in runs])  # noqa: E731
        rows[name] = {
            "ka_rps": get(lambda r: r["ka"]["rps"]),
            "ka_p50": get(lambda r: r["ka"]["p50"]),
            "ka_p99": get(lambda r: r["ka"]["p99"]),
            "ka_cpu": get(lambda r: r["ka"]["per_cpu"]),
            "ka_err": get(lambda r: r["ka"]["errors"]),
            "cl_rps": get(lambda r: r["close"]["rps"]),
            "cl_p99": get(lambda r: r["close"]["p99"]),
            "cl_cpu": get(lambda r: r["close"]["per_cpu"]),
            "tcp": get(lambda r: r.get("tcp")),
            "rss": get(lambda r: r["rss"][1] if "rss" in r else None),
            "rss0": get(lambda r: r["rss"][0] if "rss" in r else None),
        }
    h = rows["haproxy"]
    lines = [
        "## Load balancing: ha-lb, HAProxy, nginx",
        "",
        "Produced by `bench/lb.sh` (ha-lb vs HAProxy vs nginx; see the script's header).",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- Machine: {machine()}",
        f"- Versions: {version(['haproxy', '-v'])}; {version(['nginx', '-v'])}; {version(['wrk', '-v'])}",
        f"- Each proxy: one worker pinned to core 0 (ha-lb `nbthread 1` = current-thread runtime, "
        f"haproxy `nbthread 1`, nginx `worker_processes 1`). Backend nginx (`return 200`), wrk and iperf3 on core 1.",
        f"- wrk: `wrk -t1 -c{CONNS} -d{SECS}s --latency`; closed loop, so latency is under saturation. "
        f"TCP: `iperf3 -l 64K -t {SECS}` through `mode tcp`. Memory: VmRSS with {IDLE:,} idle client connections "
        f"(the target says 10,000, but HAProxy reserves `maxconn * 2 + 14` descriptors and this machine's hard "
        f"limit is 20,000, so 9,900 is the most HAProxy can hold here; every proxy is measured at the same count).",
        "- nginx has no TCP figure when Debian's nginx lacks the stream module.",
        f"- Medians of {ROUNDS} rounds, proxy order rotated each round. Ratios are to HAProxy from the same run.",
        "",
        "| | keep-alive req/s | p50 ms | p99 ms | req per CPU-s | close req/s | close p99 ms | close req per CPU-s | TCP MB/s | RSS idle KiB | RSS 10k conns KiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ["ha-lb", "haproxy", "nginx", "backend"] + (["before"] if BEFORE else []):
        r = rows[name]
        lines.append(
            f"| {name} | {fmt(r['ka_rps'])} | {fmt(r['ka_p50'], 2)} | {fmt(r['ka_p99'], 2)} | "
            f"{fmt(r['ka_cpu'])} | {fmt(r['cl_rps'])} | {fmt(r['cl_p99'], 2)} | {fmt(r['cl_cpu'])} | "
            f"{fmt(r['tcp'])} | {fmt(r['rss0'])} | {fmt(r['rss'])} |"
        )
    a = rows["ha-lb"]
    lines += [
        "",
        "### ha-lb against the targets (ratio to HAProxy)",
        "",
        "| measure | ratio | target |",
        "|---|---|---|",
        f"| keep-alive req/s | {ratio(a['ka_rps'], h['ka_rps'])} | >= 1.0x |",
        f"| keep-alive req per CPU-second | {ratio(a['ka_cpu'], h['ka_cpu'])} | >= 1.0x |",
        f"| keep-alive p99 | {ratio(a['ka_p99'], h['ka_p99'])} | <= 1.2x |",
        f"| close req/s | {ratio(a['cl_rps'], h['cl_rps'])} | >= 1.0x |",
        f"| close req per CPU-second | {ratio(a['cl_cpu'], h['cl_cpu'])} | >= 1.0x |",
        f"| close p99 | {ratio(a['cl_p99'], h['cl_p99'])} | <= 1.2x |",
        f"| TCP MB/s | {ratio(a['tcp'], h['tcp'])} | >= 0.9x |",
        f"| RSS with {IDLE:,} idle connections | {ratio(a['rss'], h['rss'])} | <= 1.5x |",
        "",
    ]
    if BEFORE:
        b = rows["before"]
        lines += [
            f"### This build against the earlier one (`before`: BEFORE={Path(BEFORE).name})",
            "",
            "| measure | this / before | before / HAProxy | this / HAProxy |",
            "|---|---|---|---|",
        ]
        for key, label in [("ka_rps", "keep-alive req/s"), ("ka_cpu", "keep-alive req per CPU-second"),
                           ("ka_p99", "keep-alive p99"), ("cl_rps", "close req/s"),
                           ("cl_cpu", "close req per CPU-second"), ("cl_p99", "close p99"),
                           ("tcp", "TCP MB/s"), ("rss", f"RSS with {IDLE:,} idle connections")]:
            lines.append(f"| {label} | {ratio(a[key], b[key])} | {ratio(b[key], h[key])} | {ratio(a[key], h[key])} |")
        lines.append("")
    lines += [
        "Raw per-round figures:",
        "",
        "```json",
        json.dumps(results, indent=1),
        "```",
        "",
    ]
    out = write_section("lb", "\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
