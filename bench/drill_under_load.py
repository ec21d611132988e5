"""Benchmark: does a loaded proctor PC change a verdict? The drill room
(config/lab/room.yaml) is drilled twice with its own prefix: once on an idle machine and
once with every CPU kept busy by spinning processes (the way other work on the proctor
PC competes with the coordinator), and the verdict of every check is compared by its id.
A check whose verdict differs is printed with both messages; the run's wall time and
the checks that ended in `error` are printed for each run.

On a real site the cameras, seat PCs, switch, UPS and router are other machines: work on
the proctor PC does not slow them. In the lab they share this machine's CPUs, so the lab
itself weighs them (readiness/lab/services.py): the devices at nice -10, the coordinator
and the spinning processes at 0, the forty seats' agents at nice 5. Without it a busy
machine turns camera encoders and iperf3 into the fault, which is not what is measured
here.

    sudo flock /tmp/readiness-lab.lock python bench/drill_under_load.py [--hogs N]

Each drill builds its room (prefix rdyl<pid>) and removes it; the spinning processes
are started here and ended here by their ids, also after an error or Ctrl+C.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PREFIX = f"rdyl{os.getpid()}"
SPIN = "while True: pass"
def drill(out: Path) -> tuple[float, dict[str, Any]]:
    """(wall time, result.json) of one `readiness drill` into `out`."""
    argv = [sys.executable, "-m", "readiness", "drill", "--prefix", PREFIX, "--out",
            str(out), "--no-report", "--lang", "en"]
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1200, cwd=REPO)
    wall = time.monotonic() - started
    found = sorted(out.glob("drill-*/result.json"))
    if not found:
        raise RuntimeError(f"the drill wrote no result.json (exit {proc.returncode}): "
                           f"{proc.stderr.strip()[-800:]}")
    return wall, json.loads(found[-1].read_text(encoding="utf-8"))


def verdicts(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in doc["results"]}


def differences(idle: dict[str, Any], loaded: dict[str, Any]) -> list[str]:
    a, b = verdicts(idle), verdicts(loaded)
    lines = []
    for check_id in sorted(a.keys() | b.keys()):
        ra, rb = a.get(check_id), b.get(check_id)
        sa = ra["status"] if ra else "(missing)"
        sb = rb["status"] if rb else "(missing)"
        if sa != sb:
            lines.append(f"  {check_id}: idle {sa}, loaded {sb}\n"
                         f"      idle:   {(ra or {}).get('message', '')[:160]}\n"
                         f"      loaded: {(rb or {}).get('message', '')[:160]}")
    return lines


def errors(doc: dict[str, Any]) -> list[str]:
    return [f"  {r['id']}: {r['message'][:140]}" for r in doc["results"]
            if r["status"] == "error"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hogs", type=int, default=os.cpu_count() or 2,
                    help="spinning processes during the loaded run (default: one per CPU)")
    ap.add_argument("--keep", type=Path, default=None,
                    help="copy both runs' result.json into this folder")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("the drill builds network namespaces: run as root", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="rdy-load-") as tmp:
        idle_wall, idle = drill(Path(tmp, "idle"))
        hogs = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(args.hogs)]
        try:
            loaded_wall, loaded = drill(Path(tmp, "loaded"))
        finally:
            for hog in hogs:
                hog.send_signal(signal.SIGKILL)
                hog.wait()
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for name, doc in (("idle", idle), ("loaded", loaded)):
                (args.keep / f"{name}.json").write_text(json.dumps(doc), encoding="utf-8")
    diff = differences(idle, loaded)
    print(f"drill idle:   {idle_wall:6.1f} s, {len(idle['results'])} checks, "
          f"{len(errors(idle))} error")
    print(f"drill loaded: {loaded_wall:6.1f} s, {len(loaded['results'])} checks, "
          f"{len(errors(loaded))} error ({args.hogs} spinning processes on "
          f"{os.cpu_count()} CPUs)")
    for name, doc in (("idle", idle), ("loaded", loaded)):
        for line in errors(doc):
            print(f"error ({name}):{line}")
    print(f"same verdict for every check: {'yes' if not diff else 'NO'}")
    for line in diff:
        print(line)
    return 0 if not diff else 1


if __name__ == "__main__":
    sys.exit(main())
