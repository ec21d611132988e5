"""Benchmark: ping a whole exam room (42 hosts, 10 echoes each) and compare with nmap.

Run as root from the repository root:  python bench/reachability.py [--rounds 3]

It builds its own room out of network namespaces (prefix rdyb<pid>): a "switch"
namespace holding a bridge, a proctor at 198.18.10.2/24, a router .1, an exam server
.10 and 40 seats .101-.140, each joined to the bridge by a veth. From inside the
proctor namespace it times a child Python that runs probes.reachability for all hosts
concurrently, and `nmap -sn -n 198.18.10.0/24` (ARP ping sweep). All traffic stays
inside these namespaces, which are removed on exit whatever happens.

Exit status: 0 all hosts reachable, 1 a host did not answer, 2 cannot run here.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PREFIX = f"rdyb{os.getpid()}"
SUBNET = "198.18.10.0/24"
PROCTOR = ("proctor", "198.18.10.2")
SWITCH = f"{PREFIX}-sw"

# The child runs inside the proctor namespace; its interpreter start-up is part of
# the measured wall time, as nmap's is.
CHILD = r"""
import asyncio, json, sys, time
from probes import reachability

cfg = json.loads(sys.argv[1])


async def main():
    t0 = time.perf_counter()
    outs = await asyncio.gather(*(
        reachability.run({"address": a, "count": cfg["count"], "interval_s": cfg["interval_s"]},
                         cfg["deadline_s"])
        for a in cfg["addresses"]))
    return time.perf_counter() - t0, outs


elapsed, outs = asyncio.run(main())
json.dump({"in_process_s": elapsed, "results": [
    {"address": a, "status": o.status.value, "message": o.message.en, **o.measured}
    for a, o in zip(cfg["addresses"], outs)]}, sys.stdout)
"""


@dataclass(frozen=True)
class Host:
    name: str
    address: str

    @property
    def netns(self) -> str:
        return f"{PREFIX}-{self.name}"

    @property
    def port(self) -> str:
        # the switch-side veth end; interface names are limited to 15 characters
        return f"p{self.address.rsplit('.', 1)[1]}"


def room(seats: int) -> tuple[Host, list[Host]]:
    targets = [Host("router", "198.18.10.1"), Host("server", "198.18.10.10")]
    targets += [Host(f"seat{n}", f"198.18.10.{n}") for n in range(101, 101 + seats)]
    return Host(*PROCTOR), targets


def _ip_batch(lines: list[str], netns: str | None = None, force: bool = False) -> None:
    argv = ["ip", *(["-n", netns] if netns else []), *(["-force"] if force else []),
            "-batch", "-"]
    subprocess.run(argv, input="\n".join(lines) + "\n", text=True, check=not force,
                   capture_output=True)


def build(proctor: Host, targets: list[Host]) -> None:
    hosts = [proctor, *targets]
    # One ip process for all namespaces and veth pairs (each pair is born with its
    # ends already in the right namespaces), then one per namespace, all in parallel.
    lines = [f"netns add {SWITCH}"] + [f"netns add {h.netns}" for h in hosts]
    lines += [f"link add eth0 netns {h.netns} type veth peer name {h.port} netns {SWITCH}"
              for h in hosts]
    _ip_batch(lines)
    jobs = {SWITCH: ["link set lo up", "link add br0 type bridge", "link set br0 up"]
            + [f"link set {h.port} master br0 up" for h in hosts]}
    for h in hosts:
        jobs[h.netns] = ["link set lo up", f"addr add {h.address}/24 dev eth0",
                         "link set eth0 up"]
    procs = [(ns, subprocess.Popen(["ip", "-n", ns, "-batch", "-"], stdin=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True))
             for ns in jobs]
    failed = []
    for ns, proc in procs:
        _, err = proc.communicate("\n".join(jobs[ns]) + "\n")
        if proc.returncode:
            failed.append(f"{ns}: {err.strip()}")
    if failed:
        raise RuntimeError("building the room failed: " + "; ".join(failed))


def teardown() -> None:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    ours = [line.split()[0] for line in listed.splitlines()
            if line.startswith(f"{PREFIX}-")]
    if ours:
        _ip_batch([f"netns del {ns}" for ns in ours], force=True)


def run_probes(proctor: Host, targets: list[Host], count: int,
               interval_s: float) -> tuple[float, dict[str, Any]]:
    cfg = {"addresses": [h.address for h in targets], "count": count,
           "interval_s": interval_s, "deadline_s": count * interval_s + 3.0}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    proc = subprocess.run(
        ["ip", "netns", "exec", proctor.netns, sys.executable, "-c", CHILD, json.dumps(cfg)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    wall = time.perf_counter() - started
    if proc.returncode:
        raise RuntimeError(f"probe child failed:\n{proc.stderr}")
    return wall, json.loads(proc.stdout)


def run_nmap(proctor: Host) -> tuple[float, int | None]:
    started = time.perf_counter()
    proc = subprocess.run(["ip", "netns", "exec", proctor.netns, "nmap", "-sn", "-n", SUBNET],
                          capture_output=True, text=True, timeout=120)
    wall = time.perf_counter() - started
    found = re.search(r"\((\d+) hosts? up\)", proc.stdout)
    return wall, int(found.group(1)) if found else None


def flush_arp(proctor: Host) -> None:
    # Every round starts cold, as on the morning of an exam: the first echo to each
    # host has to wait for ARP, just as nmap's ARP sweep does.
    subprocess.run(["ip", "-n", proctor.netns, "neigh", "flush", "all"], capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seats", type=int, default=40)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--absent", type=int, default=0,
                        help="also probe this many seat addresses that have no host "
                             "(a room with PCs switched off); exits 1 by design")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root: the benchmark builds network namespaces", file=sys.stderr)
        return 2
    nmap = shutil.which("nmap")

    # SIGTERM must unwind through the finally below, or the namespaces would leak.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    proctor, targets = room(args.seats)
    absent = [Host(f"off{n}", f"198.18.10.{n}")
              for n in range(101 + args.seats, 101 + args.seats + args.absent)]
    unreachable: set[str] = set()
    ours: list[float] = []
    ours_in_process: list[float] = []
    theirs: list[float] = []
    try:
        started = time.perf_counter()
        build(proctor, targets)
        print(f"room: {len(targets) + 2} namespaces ({len(targets)} targets, proctor, switch) "
              f"built in {time.perf_counter() - started:.2f} s")
        print(f"each round: {len(targets) + len(absent)} hosts x {args.count} echoes, "
              f"{args.interval:g} s apart, all concurrently; cold ARP cache\n")
        nmap_up: int | None = None
        for n in range(1, args.rounds + 1):
            flush_arp(proctor)
            wall, payload = run_probes(proctor, targets + absent, args.count, args.interval)
            ours.append(wall)
            ours_in_process.append(payload["in_process_s"])
            results = payload["results"]
            statuses: dict[str, int] = {}
            for r in results:
                statuses[r["status"]] = statuses.get(r["status"], 0) + 1
                if not r["received"]:
                    unreachable.add(f"{r['address']}: {r['message']}")
            up = sum(1 for r in results if r["received"])
            worst_rtt = max((r["rtt_max_ms"] or 0.0) for r in results)
            line = (f"round {n}: readiness {wall:.3f} s (probes {payload['in_process_s']:.3f} s "
                    f"in-process), {up}/{len(results)} up, worst RTT {worst_rtt:.2f} ms, "
                    f"{', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}")
            if nmap:
                flush_arp(proctor)
                nwall, nmap_up = run_nmap(proctor)
                theirs.append(nwall)
                line += f"; nmap -sn {nwall:.3f} s, {nmap_up} up"
            print(line)

        ours_med = statistics.median(ours)
        print(f"\nreadiness (median of {len(ours)}): {ours_med:.3f} s wall incl. interpreter "
              f"start, {statistics.median(ours_in_process):.3f} s in-process")
        goal_fast = ours_med < 2.0
        if theirs:
            theirs_med = statistics.median(theirs)
            print(f"nmap -sn -n {SUBNET} (median): {theirs_med:.3f} s, {nmap_up} hosts up "
                  "(nmap counts the proctor itself)")
            print(f"ratio readiness/nmap: {ours_med / theirs_med:.2f}")
            goal = goal_fast and ours_med <= theirs_med
        else:
            print("nmap not installed: comparison skipped")
            goal = goal_fast
        print(f"goal (< 2 s and no slower than nmap): {'MET' if goal else 'NOT MET'}")
        if unreachable:
            print("\nnot reachable:\n  " + "\n  ".join(sorted(unreachable)))
            return 1
        return 0
    finally:
        teardown()


if __name__ == "__main__":
    sys.exit(main())
