"""Benchmark: our WAN-FLOOR figure against stock iperf3 on the same path, same run.

Run as root from the repository root:  python bench/wan_floor.py [--uplink 60]

It builds a lab room of its own (prefix rdyb<pid>, removed on exit whatever happens)
whose uplink is shaped to `--uplink` Mbit/s, then from the exam server's namespace:

  1. probes.wan_bandwidth against the LibreSpeed-style endpoint (http://speed.example/),
  2. probes.wan_bandwidth against the iperf3 server (198.51.100.80:5201),
  3. stock `iperf3 -c 198.51.100.80 -t 5 -O 1` (upload) and the same with -R (download),

and prints the figures side by side with the difference in percent.

Exit status: 0 when every figure of ours is within 10 % of stock iperf3's, 1 otherwise,
2 cannot run here.
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

CHILD = r"""
import asyncio, json, sys
from probes import wan_bandwidth
from readiness.config.profile import WanFloorThresholds
from readiness.judges.filtering import wan_floor
params = json.loads(sys.argv[1])
th = WanFloorThresholds(floor_mbps=params["floor_mbps"], vantage="room",
                        overhead_allowance_pct=params["overhead_allowance_pct"])
out = wan_floor(asyncio.run(wan_bandwidth.run(params, 120)), {"thresholds": th})
print(json.dumps({"status": out.status.value, "message": out.message.en, **out.measured}))
"""


def in_srv(argv: list[str], timeout: float = 150) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(["ip", "netns", "exec", f"{PREFIX}-srv", *argv], capture_output=True,
                          text=True, timeout=timeout, env=env, check=True)
    return done.stdout


def ours(params: dict[str, Any]) -> dict[str, Any]:
    return json.loads(in_srv([sys.executable, "-c", CHILD, json.dumps(params)]))


def stock(reverse: bool) -> float:
    argv = ["iperf3", "-c", SERVER, "-t", "5", "-O", "1", "-J"] + (["-R"] if reverse else [])
    return json.loads(in_srv(argv))["end"]["sum_received"]["bits_per_second"] / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uplink", type=int, default=60, help="uplink shaping, Mbit/s")
    parser.add_argument("--floor", type=float, default=100, help="floor to judge, Mbit/s")
    args = parser.parse_args()
    missing = [what for what, _ in missing_prerequisites()
               if "GStreamer" not in what and "/usr/bin/python3" not in what]
    if os.geteuid() != 0 or missing:
        print(f"needs root and the lab's tools (see install.sh): {missing}", file=sys.stderr)
        return 2
    spec = LabSpec(name="wan-bench-room", seats=1, cameras=[], agents=False,
                   faults=[{"kind": "slow_uplink", "rate_mbit": args.uplink}])
    common = {"floor_mbps": args.floor, "overhead_allowance_pct": 10, "streams": 4,
              "warmup_s": 1, "duration_s": 5, "runs": 3}
    try:
        up(spec, PREFIX)
        started = time.monotonic()
        libre = ours({"kind": "librespeed", "url": "http://speed.example/", **common})
        libre_s = time.monotonic() - started
        started = time.monotonic()
        iperf = ours({"kind": "iperf3", "host": SERVER, **common})
        iperf_s = time.monotonic() - started
        ref_up, ref_down = stock(reverse=False), stock(reverse=True)
    finally:
        down(PREFIX)
    print(f"uplink shaped to {args.uplink} Mbit/s; floor {args.floor:g} Mbit/s")
    print(f"{'':34}{'download':>10}{'upload':>10}{'latency':>10}")
    rows = [("ours, LibreSpeed-style, 4 streams", libre, libre_s),
            ("ours, iperf3 endpoint, 4 streams", iperf, iperf_s)]
    ok = True
    for name, m, took in rows:
        print(f"{name:34}{m['download_mbps']:>10.1f}{m['upload_mbps']:>10.1f}"
              f"{m['latency_ms'] or 0:>8.2f}ms  ({took:.0f} s, {m['status']})")
        for figure, ref in ((m["download_mbps"], ref_down), (m["upload_mbps"], ref_up)):
            ok &= abs(figure - ref) <= 0.1 * ref
    print(f"{'stock iperf3 -c (-R for download)':34}{ref_down:>10.1f}{ref_up:>10.1f}")
    for name, m, _ in rows:
        print(f"{name}: download {100 * (m['download_mbps'] - ref_down) / ref_down:+.1f} %, "
              f"upload {100 * (m['upload_mbps'] - ref_up) / ref_up:+.1f} % vs stock iperf3")
    print(f"verdict against the floor: {libre['message']}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
