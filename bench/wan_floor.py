"""Benchmark: our WAN-FLOOR figure and time against stock iperf3 on the same shaped uplink.

Run as root from the repository root, under the lab lock:
  flock /tmp/readiness-lab.lock python3 bench/wan_floor.py [--uplinks 60,100]

For each uplink rate it builds a lab room of its own (prefix rdyb<pid>, removed on
exit whatever happens) whose uplink is shaped with tc to that rate, then from the exam
server's namespace:

  1. probes.wan_bandwidth against the LibreSpeed-style endpoint (http://speed.example/),
  2. probes.wan_bandwidth against the iperf3 server (198.51.100.80:5201),
  3. stock `iperf3 -c 198.51.100.80 -P 4 -t 5 -O 1` (upload) and the same with -R
     (download): the same four streams as ours, one second of slow start left out,

and prints each one's wall time and figures, with ours' difference from stock iperf3.

Goal (issue 14): each endpoint of ours in <= 10 s, both figures within ±3 % of stock
iperf3's. Exit status: 0 when every row meets it, 1 otherwise, 2 cannot run here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from readiness.lab import LabSpec, down, missing_prerequisites, up  # noqa: E402

PREFIX = f"rdyb{os.getpid()}"
SERVER = "198.51.100.80"
GOAL_S = 10.0
GOAL_PCT = 3.0

CHILD = r"""
import asyncio, json, sys, time
from probes import wan_bandwidth
params = json.loads(sys.argv[1])
started = time.monotonic()
out = asyncio.run(wan_bandwidth.run(params, 60))
print(json.dumps({"status": out.status.value, "message": out.message.en,
                  "wall_s": time.monotonic() - started, **out.measured}))
"""


def in_srv(argv: list[str], timeout: float = 90) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(["ip", "netns", "exec", f"{PREFIX}-srv", *argv], capture_output=True,
                          text=True, timeout=timeout, env=env, check=True)
    return done.stdout


def ours(params: dict[str, Any]) -> dict[str, Any]:
    return json.loads(in_srv([sys.executable, "-c", CHILD, json.dumps(params)]))


def stock(reverse: bool) -> tuple[float, float]:
    """(Mbit/s received, wall seconds) of one stock iperf3 test."""
    argv = ["iperf3", "-c", SERVER, "-P", "4", "-t", "5", "-O", "1", "-J"]
    started = time.monotonic()
    out = json.loads(in_srv(argv + (["-R"] if reverse else [])))
    return out["end"]["sum_received"]["bits_per_second"] / 1e6, time.monotonic() - started


def _pct(figure: float | None, ref: float) -> float | None:
    return None if figure is None else 100 * (figure - ref) / ref


def one_rate(rate: int) -> bool:
    spec = LabSpec(name="wan-bench-room", seats=1, cameras=[], agents=False,
                   faults=[{"kind": "slow_uplink", "rate_mbit": rate}])
    common = {"floor_mbps": 100, "overhead_allowance_pct": 10, "streams": 4, "max_s": 5}
    try:
        up(spec, PREFIX)
        libre = ours({"kind": "librespeed", "url": "http://speed.example/", **common})
        iperf = ours({"kind": "iperf3", "host": SERVER, **common})
        (ref_up, up_s), (ref_down, down_s) = stock(reverse=False), stock(reverse=True)
    finally:
        down(PREFIX)
    print(f"\nuplink shaped to {rate} Mbit/s")
    print(f"{'':36}{'time':>8}{'download':>10}{'upload':>10}   vs stock iperf3")
    print(f"{'stock iperf3 -P 4 -t 5 -O 1 (+ -R)':36}{up_s + down_s:>7.1f}s"
          f"{ref_down:>10.1f}{ref_up:>10.1f}")
    ok = True
    for name, m in (("ours, LibreSpeed-style endpoint", libre), ("ours, iperf3 endpoint", iperf)):
        d_pct, u_pct = _pct(m["download_mbps"], ref_down), _pct(m["upload_mbps"], ref_up)
        row_ok = m["wall_s"] <= GOAL_S and all(
            p is not None and abs(p) <= GOAL_PCT for p in (d_pct, u_pct))
        ok &= row_ok
        settled = {k: ("settled" if v["settled"] else "CAPPED") + f" {v['seconds']:.1f}s"
                   for k, v in m["directions"].items()}
        print(f"{name:36}{m['wall_s']:>7.1f}s{m['download_mbps'] or 0:>10.1f}"
              f"{m['upload_mbps'] or 0:>10.1f}   {d_pct or 0:+.1f} % / {u_pct or 0:+.1f} %  "
              f"{'ok' if row_ok else 'MISSES THE GOAL'}  ({settled}, {m['status']})")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uplinks", default="60,100",
                        help="uplink rates to shape, Mbit/s, comma-separated")
    args = parser.parse_args()
    missing = [what for what, _ in missing_prerequisites()
               if "GStreamer" not in what and "/usr/bin/python3" not in what]
    if os.geteuid() != 0 or missing:
        print(f"needs root and the lab's tools (see install.sh): {missing}", file=sys.stderr)
        return 2
    rates = [int(r) for r in args.uplinks.split(",") if r.strip()]
    ok = all([one_rate(rate) for rate in rates])
    print(f"\ngoal: each endpoint <= {GOAL_S:g} s, figures within ±{GOAL_PCT:g} % of stock "
          f"iperf3: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
