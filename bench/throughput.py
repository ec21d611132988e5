#!/usr/bin/env python3
"""Bench: the pure-Python iperf3 client against stock `iperf3 -c`, run as root.

Builds two network namespaces joined by a veth (198.18.20.1/24 and .2/24), runs a
stock `iperf3 -s` in one and, from the other, alternates stock `iperf3 -c` with our
client on a link shaped to 1 Gbit/s, one shaped to 100 Mbit/s, and an unshaped one.
For information it also runs stock `iperf3 -c` (forward and -R) against our server.

Goals: our client within +-5 % of iperf3 on the shaped links (mean of the runs), and
our best unshaped run at least 90 % of iperf3's best. Exit 1 if a goal is missed,
2 if the bench could not run. The namespaces are removed whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PREFIX = f"rdyb{os.getpid()}"
NS_CLIENT, NS_SERVER = f"{PREFIX}c", f"{PREFIX}s"
VETH_CLIENT, VETH_SERVER = f"{PREFIX}c0", f"{PREFIX}s0"
ADDR_CLIENT, ADDR_SERVER = "198.18.20.1", "198.18.20.2"
STOCK_PORT, OUR_PORT = 5201, 5202
# (name, tbf rate or None, runs of each client, goal)
PROFILES: list[tuple[str, str | None, int]] = [
    ("1 Gbit/s shaped", "1gbit", 2),
    ("100 Mbit/s shaped", "100mbit", 2),
    ("unshaped", None, 3),
]
SHAPED_TOLERANCE = 0.05
UNSHAPED_MIN_RATIO = 0.90


def sh(*args: str, check: bool = True, timeout: float = 30) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def in_ns(ns: str, *args: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *args]


def build() -> None:
    sh("ip", "netns", "add", NS_CLIENT)
    sh("ip", "netns", "add", NS_SERVER)
    sh("ip", "link", "add", VETH_CLIENT, "type", "veth", "peer", "name", VETH_SERVER)
    for ns, dev, addr in ((NS_CLIENT, VETH_CLIENT, ADDR_CLIENT),
                          (NS_SERVER, VETH_SERVER, ADDR_SERVER)):
        sh("ip", "link", "set", dev, "netns", ns)
        sh(*in_ns(ns, "ip", "addr", "add", f"{addr}/24", "dev", dev))
        sh(*in_ns(ns, "ip", "link", "set", dev, "up"))
        sh(*in_ns(ns, "ip", "link", "set", "lo", "up"))


def shape(rate: str | None) -> None:
    for ns, dev in ((NS_CLIENT, VETH_CLIENT), (NS_SERVER, VETH_SERVER)):
        sh(*in_ns(ns, "tc", "qdisc", "del", "dev", dev, "root"), check=False)
        if rate:
            sh(*in_ns(ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", rate,
                      "burst", "256kb", "latency", "20ms"))


def teardown(procs: list[subprocess.Popen[Any]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
    for ns in (NS_CLIENT, NS_SERVER):
        sh("ip", "netns", "del", ns, check=False)


def wait_listening(port: int, proc: subprocess.Popen[Any]) -> None:
    # Ask the kernel: a probe connection would sit idle on the stock server.
    until = time.monotonic() + 10
    while time.monotonic() < until:
        if sh(*in_ns(NS_SERVER, "ss", "-Hltn", f"sport = :{port}")).strip():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"no server listening on port {port}")


def stock_client(port: int, duration: int, omit: int, reverse: bool = False) -> float:
    args = ["iperf3", "-c", ADDR_SERVER, "-p", str(port), "-t", str(duration), "-O", str(omit),
            "-J", *(["-R"] if reverse else [])]
    report = json.loads(sh(*in_ns(NS_CLIENT, *args), check=False, timeout=duration + omit + 30))
    if "error" in report:
        raise RuntimeError(f"iperf3 -c: {report['error']}")
    return float(report["end"]["sum_received"]["bits_per_second"])


def our_client(port: int, duration: int, omit: int) -> float:
    args = [sys.executable, str(Path(__file__).resolve()), "_client", ADDR_SERVER, str(port),
            str(duration), str(omit)]
    report = json.loads(sh(*in_ns(NS_CLIENT, *args), timeout=duration + omit + 30))
    return float(report["end"]["sum_received"]["bits_per_second"])


def _client_main(host: str, port: int, duration: int, omit: int) -> int:
    sys.path.insert(0, str(REPO))
    from probes.engines.iperf3_client import run_test_sync

    result = run_test_sync(host, port, duration_s=duration, omit_s=omit)
    print(json.dumps(result.to_json()))
    return 0


def mbps(values: list[float]) -> str:
    return " ".join(f"{v / 1e6:8.1f}" for v in values)


def run_bench(duration: int, omit: int) -> bool:
    procs: list[subprocess.Popen[Any]] = []
    ok = True
    try:
        build()
        stock = subprocess.Popen(in_ns(NS_SERVER, "iperf3", "-s", "-B", ADDR_SERVER, "-p",
                                       str(STOCK_PORT)),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(stock)
        ours = subprocess.Popen(in_ns(NS_SERVER, sys.executable, "-m",
                                      "readiness.commands.throughput_server",
                                      "--bind", ADDR_SERVER, "--port", str(OUR_PORT)),
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(ours)
        wait_listening(STOCK_PORT, stock)
        wait_listening(OUR_PORT, ours)
        print(f"veth {ADDR_CLIENT} <-> {ADDR_SERVER}, {duration} s per run after {omit} s "
              "omitted; Mbit/s received")
        for name, rate, runs in PROFILES:
            shape(rate)
            theirs: list[float] = []
            mine: list[float] = []
            for _ in range(runs):  # alternate, so drift hits both alike
                theirs.append(stock_client(STOCK_PORT, duration, omit))
                mine.append(our_client(STOCK_PORT, duration, omit))
            ok &= report(name, rate, theirs, mine)
            fwd = stock_client(OUR_PORT, duration, omit)
            rev = stock_client(OUR_PORT, duration, omit, reverse=True)
            print(f"  info: iperf3 -c against our server: {fwd / 1e6:.1f} forward, "
                  f"{rev / 1e6:.1f} reverse (-R); against iperf3 -s "
                  f"{statistics.mean(theirs) / 1e6:.1f}")
    finally:
        teardown(procs)
    return ok


def report(name: str, rate: str | None, theirs: list[float], mine: list[float]) -> bool:
    print(f"{name}:")
    print(f"  iperf3 -c      {mbps(theirs)}")
    print(f"  our client     {mbps(mine)}")
    if rate:
        ratio = statistics.mean(mine) / statistics.mean(theirs)
        met = abs(ratio - 1) <= SHAPED_TOLERANCE
        goal = f"mean ratio {ratio:.3f}, goal 1 +- {SHAPED_TOLERANCE:.2f}"
    else:
        ratio = max(mine) / max(theirs)
        met = ratio >= UNSHAPED_MIN_RATIO
        goal = f"best ratio {ratio:.3f}, goal >= {UNSHAPED_MIN_RATIO:.2f}"
    print(f"  {goal}: {'met' if met else 'MISSED'}")
    return met


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_client":
        host, port, duration, omit = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
        return _client_main(host, port, duration, omit)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=3, help="seconds measured per run")
    parser.add_argument("--omit", type=int, default=1, help="seconds left out at the start")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("bench/throughput.py builds network namespaces: run it as root", file=sys.stderr)
        return 2

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through the teardown

    signal.signal(signal.SIGTERM, stop)
    try:
        ok = run_bench(args.duration, args.omit)
    except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 2
    print("all goals met" if ok else "a goal was missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
