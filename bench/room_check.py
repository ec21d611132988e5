"""Benchmark: the drill room (config/lab/room.yaml, 40 seats) fully checked with the lab
already up: the wall time of `readiness check` with link-aware scheduling and seat
pairs, next to the same check with `--serial` (one throughput test at a time, each seat
against the exam server: the schedule of before), the coordinator's peak memory, the
checks that took longest, and whether the two runs agree (same verdict per check).

    sudo flock /tmp/readiness-lab.lock python bench/room_check.py [--runs 1]

The lab (prefix rdyc<pid>) is built first (not timed) and removed at the end, also
after an error or Ctrl+C.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from readiness.lab import missing_prerequisites, running  # noqa: E402
from readiness.lab.spec import load_spec  # noqa: E402

PREFIX = f"rdyc{os.getpid()}"
GOAL_S = 30.0
GOAL_MIB = 300


def check(lab: Any, out: Path, serial: bool) -> tuple[float, float, dict[str, Any]]:
    """(wall time, peak RSS in MiB of the largest process so far, the results)."""
    argv = [sys.executable, "-m", "readiness", "check", str(lab.site_file), "--json",
            str(out), "--no-store", "--lang", "en", *(["--serial"] if serial else [])]
    started = time.monotonic()
    proc = subprocess.run(lab.exec_argv("proctor", argv), capture_output=True, text=True,
                          timeout=900, cwd=REPO)
    wall = time.monotonic() - started
    # `ip netns exec` execs the command: the child's peak is the coordinator's
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if not out.exists():
        raise RuntimeError(f"readiness check wrote no results (exit {proc.returncode}): "
                           f"{proc.stderr.strip()[-500:]}")
    return wall, peak_mib, json.loads(out.read_text(encoding="utf-8"))


def slowest(doc: dict[str, Any], n: int = 6) -> str:
    ranked = sorted(doc["results"], key=lambda r: -r["duration_s"])[:n]
    return "\n".join(f"    {r['duration_s']:6.1f} s  {r['id']}  ({r['status']})" for r in ranked)


def agreement(new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    """Checks whose verdict differs between the two schedules."""
    a = {r["id"]: r["status"] for r in new["results"]}
    b = {r["id"]: r["status"] for r in old["results"]}
    return [f"{k}: {b[k]} (serial) -> {a[k]}" for k in sorted(set(a) & set(b)) if a[k] != b[k]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="runs of each schedule")
    parser.add_argument("--keep", metavar="DIR",
                        help="keep each run's result.json in DIR (to read what differed)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root: the bench builds network namespaces", file=sys.stderr)
        return 2
    if missing := missing_prerequisites():
        print("lab prerequisites missing: " + "; ".join(w for w, _ in missing), file=sys.stderr)
        return 2
    spec = load_spec()
    started = time.monotonic()
    with running(spec, PREFIX) as lab, tempfile.TemporaryDirectory() as tmp:
        print(f"drill room ({spec.seats} seats) up in {time.monotonic() - started:.1f} s")
        for i in range(args.runs):
            wall, peak, new = check(lab, Path(tmp) / f"new{i}.json", serial=False)
            print(f"readiness check           : {wall:6.1f} s wall, peak {peak:.0f} MiB, "
                  f"verdict {new['verdict']}  (goal <= {GOAL_S:g} s, <= {GOAL_MIB} MB)")
            print("  longest checks:\n" + slowest(new))
            wall_s, _, old = check(lab, Path(tmp) / f"serial{i}.json", serial=True)
            print(f"readiness check --serial  : {wall_s:6.1f} s wall, verdict {old['verdict']}")
            print("  longest checks:\n" + slowest(old))
            differ = agreement(new, old)
            if args.keep:
                Path(args.keep).mkdir(parents=True, exist_ok=True)
                for name, doc in ((f"new{i}.json", new), (f"serial{i}.json", old)):
                    (Path(args.keep) / name).write_text(json.dumps(doc), encoding="utf-8")
            print(f"checks whose verdict differs: {len(differ)}")
            for line in differ:
                print("    " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
