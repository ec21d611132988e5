"""Benchmark: ARP-sweep a 40-seat exam room's /24 with probes.l2_sweep and with arp-scan.

Run as root from the repository root:  python bench/arp_sweep.py [--rounds 3]

It brings up the simulated exam room (readiness.lab, prefix rdyb<pid>s: router, proctor,
switch, UPS, exam server, 40 seats; no cameras, no agents, no faults) and, from inside
its proctor namespace, times
  ours      a child Python running l2_sweep.sweep(subnet, dhcp=False): the sweep itself
            (frames built, socket opened, every who-has sent, answers collected for the
            window) and the child's whole wall time (interpreter and scapy start-up too)
  arp-scan  `arp-scan -I eth0 198.18.10.0/24` with its defaults (wall time)
Both start through `ip netns exec`, so that overhead is the same on both sides. All
traffic stays inside the lab's namespaces, which are removed on exit whatever happens.
Goal: our sweep of a /24 takes at most 2.5 s and is no slower than arp-scan.

Exit status: 0 goal met and both found the same hosts, 1 not met, 2 cannot run here.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PREFIX = f"rdyb{os.getpid() % 10**6}s"
SUBNET = "198.18.10.0/24"
GOAL_S = 2.5

CHILD = r"""
import asyncio, json, sys, time
from probes import l2_sweep

t0 = time.perf_counter()
r = asyncio.run(l2_sweep.sweep(sys.argv[1], dhcp=False, arp_window_s=float(sys.argv[2])))
json.dump({"sweep_s": time.perf_counter() - t0, "hosts": r.hosts,
           "requests_sent": r.requests_sent}, sys.stdout)
"""


def _timed(argv: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env,
                          check=False)
    return time.perf_counter() - t0, done


def _cannot_run() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if shutil.which("arp-scan") is None:
        return "arp-scan is not installed (apt-get install -y arp-scan)"
    from readiness.lab import missing_prerequisites

    missing = missing_prerequisites()
    return "; ".join(what for what, _ in missing) if missing else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--arp-window", type=float, default=1.0,
                    help="our collection window in seconds (default %(default)s)")
    args = ap.parse_args()
    reason = _cannot_run()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    from readiness.lab import LabSpec, running

    spec = LabSpec(name="bench-arp", seats=40, agents=False, faults=[])
    ours_sweep, ours_wall, theirs_wall = [], [], []
    ours_hosts: set[str] = set()
    theirs_hosts: set[str] = set()
    with running(spec, PREFIX) as lab:
        ns = lab.ns("proctor")
        for _ in range(args.rounds):
            wall, done = _timed(["ip", "netns", "exec", ns, sys.executable, "-c", CHILD,
                                 SUBNET, str(args.arp_window)])
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1
            doc = json.loads(done.stdout)
            ours_sweep.append(doc["sweep_s"])
            ours_wall.append(wall)
            ours_hosts = set(doc["hosts"])
            wall, done = _timed(["ip", "netns", "exec", ns, "arp-scan", "-I", "eth0", SUBNET])
            if done.returncode != 0:
                print(done.stdout + done.stderr, file=sys.stderr)
                return 1
            theirs_wall.append(wall)
            theirs_hosts = {m.group(1) for m in re.finditer(
                r"^(\d+\.\d+\.\d+\.\d+)\t", done.stdout, re.MULTILINE)}
    sweep_s = statistics.median(ours_sweep)
    ours_s = statistics.median(ours_wall)
    theirs_s = statistics.median(theirs_wall)
    print(f"room: 40 seats + router, switch, UPS, exam server on {SUBNET} "
          f"(253 addresses asked), {args.rounds} rounds, medians")
    print(f"ours      sweep {sweep_s:.2f} s   process wall {ours_s:.2f} s   "
          f"hosts found {len(ours_hosts)}")
    print(f"arp-scan                 process wall {theirs_s:.2f} s   "
          f"hosts found {len(theirs_hosts)}")
    print(f"ratio ours/arp-scan (process wall): {ours_s / theirs_s:.2f}   "
          f"(sweep only: {sweep_s / theirs_s:.2f})")
    same = ours_hosts == theirs_hosts
    if not same:
        print(f"host lists differ: only ours {sorted(ours_hosts - theirs_hosts)}, "
              f"only arp-scan {sorted(theirs_hosts - ours_hosts)}")
    met = sweep_s <= GOAL_S and ours_s <= theirs_s
    print(f"goal (<= {GOAL_S} s and no slower than arp-scan): {'met' if met else 'NOT met'}")
    return 0 if met and same else 1


if __name__ == "__main__":
    sys.exit(main())
