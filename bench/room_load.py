"""Benchmark: LAN-SPEED in a 40-seat room: every seat alone (both directions), then the
room load test (every seat at once). Prints the wall time of each part.

    sudo python bench/room_load.py [--seats 40] [--profile cbec] [--load-runs 3]

Builds a lab room (prefix rdyb<pid>: 40 seats, A07's cable shaped to 100 Mbit/s, no
cameras, so no video encoder competes for the CPU), then runs the real command,
`readiness check --only LAN-SPEED --no-store`, from the proctor PC's namespace, and
after it the room load alone `--load-runs` more times to show how steady its figures
are. The lab is torn down at the end, also after an error or Ctrl+C.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from readiness.lab import LabSpec, missing_prerequisites, running  # noqa: E402

PREFIX = f"rdyb{os.getpid()}"
SLOW_SEAT = "A07"


def _site(lab: Any, folder: Path, seats: int, profile: str) -> Path:
    import yaml

    site = yaml.safe_load(lab.site_file.read_text(encoding="utf-8"))
    site["profile"] = profile
    site["rooms"][0]["seats"] = {f"A01-A{seats:02d}": f"198.18.10.101-{100 + seats}"}
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True, sort_keys=False))
    return path


def _check(lab: Any, site: Path, out: Path) -> tuple[float, list[dict[str, Any]]]:
    started = time.monotonic()
    proc = subprocess.run(
        lab.exec_argv("proctor", [sys.executable, "-m", "readiness", "check", str(site),
                                  "--only", "LAN-SPEED", "--json", str(out), "--no-store",
                                  "--lang", "en"]),
        capture_output=True, text=True, timeout=900, cwd=REPO)
    wall = time.monotonic() - started
    if not out.exists():
        raise RuntimeError(f"readiness check wrote no results (exit {proc.returncode}): "
                           f"{proc.stderr.strip()[-500:]}")
    return wall, json.loads(out.read_text(encoding="utf-8"))["results"]


def _load_only(lab: Any, site: Path) -> dict[str, Any]:
    """The room load check alone, planned and run in the proctor's namespace."""
    code = (
        "import json, sys, time\n"
        "from readiness.check_run import execute, load, select, plan_run\n"
        "from readiness.planning import Plan\n"
        "site, profile = load(sys.argv[1])\n"
        "plan = plan_run(site, profile, select(site, profile, None, ['LAN-SPEED']))\n"
        "check = next(c for c in plan.checks if c.check_id.endswith('/load'))\n"
        "t = time.monotonic()\n"
        "(out,) = execute(site, profile, Plan([check], [], set())).results\n"
        "print(json.dumps({'s': time.monotonic() - t, 'status': out.status.value,\n"
        "                  'measured': out.measured}))\n")
    proc = subprocess.run(lab.exec_argv("proctor", [sys.executable, "-c", code, str(site)]),
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"the room load run failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _figures(results: list[dict[str, Any]]) -> None:
    seat = [r for r in results if r["id"].endswith(("/upload", "/download"))]
    load = next(r for r in results if r["id"].endswith("/load"))
    healthy = [r["measured"]["throughput_mbps"] for r in seat
               if "throughput_mbps" in r["measured"] and f"/{SLOW_SEAT}/" not in r["id"]]
    slow = {r["id"].rsplit("/", 1)[1]: (r["status"], r["measured"].get("throughput_mbps"))
            for r in seat if f"/{SLOW_SEAT}/" in r["id"]}
    seat_s = sum(r["duration_s"] for r in seat)
    counts: dict[str, int] = {}
    for r in seat:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    print(f"per-seat tests: {len(seat)} checks, {seat_s:.1f} s in all "
          f"({seat_s / max(1, len(seat)):.2f} s each), statuses {counts}")
    if healthy:
        print(f"  healthy seats: min {min(healthy):.0f}, median {statistics.median(healthy):.0f}, "
              f"max {max(healthy):.0f} Mbit/s")
    print(f"  {SLOW_SEAT} (100 Mbit/s): {slow}")
    m = load["measured"]
    print(f"room load: {load['duration_s']:.1f} s, {load['status']}, {m.get('seats')} seats "
          f"at once ({m.get('concurrent')} ports, {m.get('waves')} wave(s)), aggregate "
          f"{m.get('aggregate_mbps')} Mbit/s, even share {m.get('fair_share_mbps')}, "
          f"slowest {m.get('slowest')}")
    print(f"  {load['message']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seats", type=int, default=40)
    parser.add_argument("--profile", default="cbec", choices=("cbec", "eda"))
    parser.add_argument("--load-runs", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root: the bench builds network namespaces", file=sys.stderr)
        return 2
    if missing := missing_prerequisites():
        print("lab prerequisites missing: " + "; ".join(w for w, _ in missing), file=sys.stderr)
        return 2
    spec = LabSpec(seats=args.seats, cameras=[], faults=[
        {"kind": "seat_link_rate", "seat": SLOW_SEAT, "rate_mbit": 100}])
    started = time.monotonic()
    with running(spec, PREFIX) as lab, tempfile.TemporaryDirectory() as tmp:
        print(f"lab of {args.seats} seats up in {time.monotonic() - started:.1f} s")
        site = _site(lab, Path(tmp), args.seats, args.profile)
        wall, results = _check(lab, site, Path(tmp) / "results.json")
        print(f"`readiness check --only LAN-SPEED` ({args.profile}): {wall:.1f} s wall time")
        _figures(results)
        runs = [_load_only(lab, site) for _ in range(args.load_runs)]
        for i, run in enumerate(runs, 1):
            m = run["measured"]
            per = list(m.get("per_seat", {}).values())
            fair = m.get("fair_share_mbps") or 0
            spread = f"{min(per) / fair:.0%}-{max(per) / fair:.0%} of an even share" \
                if per and fair else "-"
            print(f"room load again #{i}: {run['s']:.1f} s, {run['status']}, aggregate "
                  f"{m.get('aggregate_mbps')} Mbit/s, per seat {spread}, slowest "
                  f"{m.get('slowest')}")
    seat_s = sum(r["duration_s"] for r in results
                 if r["id"].endswith(("/upload", "/download")))
    load_s = next(r["duration_s"] for r in results if r["id"].endswith("/load"))
    print(f"\nREADME: a {args.seats}-seat room takes {wall:.0f} s for LAN-SPEED "
          f"({seat_s:.0f} s of per-seat tests, both directions, one seat at a time; "
          f"{load_s:.0f} s for the room load, every seat at once)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
