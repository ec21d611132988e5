"""Benchmark: the full filter audit of 20 blocked targets from 40 seats at once.

Run as root from the repository root:  python bench/filter_audit.py [--seats 40]

It builds a lab room of its own (prefix rdyb<pid>, removed on exit whatever happens)
with every seat, games.example open by address and the public resolver open to seats.
The coordinator (the proctor namespace) learns the targets' real addresses from the
lab's public resolver; then 40 child processes, one in each seat's namespace (its own
address, its own resolv.conf: the router), run probes.url_filter at the same time over
20 targets (games.example, video.example, blocked1..18.example) with every bypass:
direct address, the public resolver over UDP and TCP, DNS-over-HTTPS, a random
subdomain. The wall time counts from starting the children to the last one's answer,
interpreter start-up included. Target: at most 30 s.

Exit status: 0 within the target and every seat found the same leaks, 1 otherwise,
2 cannot run here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from readiness.lab import LabSpec, down, missing_prerequisites, up  # noqa: E402
from readiness.lab.internet import DOH_URL, EXTRA_BLOCKED  # noqa: E402
from readiness.planning.knobs import knobs  # noqa: E402

PREFIX = f"rdyb{os.getpid()}"
TARGET_S = 30.0
RESOLVER = "198.51.100.53"
TARGETS = ["http://games.example/", "http://video.example/",
           *(f"http://{name}/" for name in EXTRA_BLOCKED)]

CHILD = r"""
import asyncio, json, sys, time
from probes import url_filter

params = json.loads(sys.argv[1])
if params.pop("learn", False):
    names = url_filter.control_names(params)
    print(json.dumps(asyncio.run(url_filter.learn_control(names, [params["resolver"]]))))
    sys.exit(0)
t0 = time.perf_counter()
out = asyncio.run(url_filter.run(params, 30.0))
m = out.measured
print(json.dumps({"status": out.status.value, "in_process_s": time.perf_counter() - t0,
                  "leaks": m["leaks"], "attempts": m["attempt_count"],
                  "blocked": {b["url"]: b["how"] for b in m["blocked"]}}))
"""


def child(role: str, params: dict[str, Any]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = ["ip", "netns", "exec", f"{PREFIX}-{role}", sys.executable, "-c", CHILD,
            json.dumps(params)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seats", type=int, default=40)
    args = parser.parse_args()
    # the cameras' GStreamer is not needed: this room has none
    missing = [what for what, _ in missing_prerequisites()
               if "GStreamer" not in what and "/usr/bin/python3" not in what]
    if os.geteuid() != 0 or missing:
        print(f"needs root and the lab's tools (see install.sh): {missing}", file=sys.stderr)
        return 2
    spec = LabSpec(name="filter-bench-room", seats=args.seats, cameras=[], agents=False,
                   faults=[{"kind": "blocked_site_open_by_ip", "site": "games.example"},
                           {"kind": "public_resolver_open"}])
    # probes default nothing: the planners' knobs, then what this benchmark is about
    params: dict[str, Any] = {
        **knobs("url_filter"), "mode": "exam_sites_only", "keywords": [],
        "block_page_patterns": [], "block_hosts": [], "exam_windows": [],
        "vantage_is_seat": True, "icmp": False,
        "exam_urls": ["http://exam.example/"], "blocked_urls": TARGETS,
        "bypass_resolver_addresses": [RESOLVER], "doh_urls": [DOH_URL],
        "sinkhole_addresses": ["198.18.10.1"], "local_networks": ["198.18.10.0/24"],
        "subdomain_label": "rdy-bench",
    }
    try:
        started = time.monotonic()
        up(spec, PREFIX)
        print(f"lab up ({args.seats} seats) in {time.monotonic() - started:.1f} s")
        learn = child("proctor", {**params, "learn": True, "resolver": RESOLVER})
        out, err = learn.communicate(timeout=30)
        if learn.returncode:
            print(err, file=sys.stderr)
            return 1
        params["control_answers"] = json.loads(out)
        seats = [f"seat-A{n:02d}" for n in range(1, args.seats + 1)]
        started = time.monotonic()
        procs = {seat: child(seat, params) for seat in seats}
        results: dict[str, dict[str, Any]] = {}
        for seat, proc in procs.items():
            out, err = proc.communicate(timeout=90)
            if proc.returncode:
                print(f"{seat}: {err.strip()[-400:]}", file=sys.stderr)
                return 1
            results[seat] = json.loads(out)
        wall = time.monotonic() - started
    finally:
        down(PREFIX)
    first = results[seats[0]]
    in_process = [r["in_process_s"] for r in results.values()]
    same = all(sorted(r["leaks"]) == sorted(first["leaks"]) for r in results.values())
    print(f"{len(TARGETS)} targets x {len(seats)} seats, {first['attempts']} attempts per seat")
    print(f"per seat in process: median {statistics.median(in_process):.1f} s, "
          f"max {max(in_process):.1f} s")
    print(f"leaks per seat: {len(first['leaks'])} (the same on every seat: {same})")
    for seat, r in results.items():
        missing = sorted(set(first["leaks"]) ^ set(r["leaks"]))
        if missing:
            print(f"  {seat} differs: {missing[:3]}")
    for line in first["leaks"][:4]:
        print(f"  {line}")
    for url in TARGETS[:3]:
        print(f"  {url}: {first['blocked'][url]}")
    print(f"wall time, 40 seats at once: {wall:.1f} s (target <= {TARGET_S:g} s)")
    return 0 if wall <= TARGET_S and same else 1


if __name__ == "__main__":
    raise SystemExit(main())
