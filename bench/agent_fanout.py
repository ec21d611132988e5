"""Benchmark: one signed self-report fanned out to 40 seat agents. Goal: <= 2 s wall time.

    sudo python bench/agent_fanout.py [--seats 40] [--rounds 5] [--concurrency 32]

Builds its own network namespaces (prefix rdyb<pid>): a bridge, 40 seats at
198.18.30.101-140 each running `python -m readiness.agent` (the real command, with a
generated site file and secrets file), and a coordinator at 198.18.30.2 that runs the
fan-out with readiness.agent.client.fan_out. Everything is torn down at the end, also
after an error or Ctrl+C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from readiness.lab.netns import add_all, delete_all, exec_argv, list_netns, pids_in  # noqa: E402
from readiness.lab.shell import run, run_all  # noqa: E402
from readiness.redact import Secret  # noqa: E402

SUBNET = "198.18.30"
COORDINATOR = f"{SUBNET}.2"
PORT = 8765


def _site_files(folder: Path, seats: int) -> Path:
    import secrets as random_secrets

    import yaml

    secrets_file = folder / "secrets.yaml"
    secrets_file.write_text(f"agent_token: {random_secrets.token_urlsafe(32)}\n")
    secrets_file.chmod(0o600)
    site = {
        "site": {"name": "agent fan-out bench", "code": "BENCH"}, "profile": "cbec",
        "secrets_file": str(secrets_file),
        "agent": {"port": PORT, "token": "secret:agent_token"},
        "rooms": [{"id": "bench", "subnet": f"{SUBNET}.0/24",
                   "router": {"address": f"{SUBNET}.1"},
                   "exam_servers": {"primary": {"address": f"{SUBNET}.10"}},
                   "proctor": {"address": COORDINATOR},
                   "seats": {f"A01-A{seats:02d}": f"{SUBNET}.101-{100 + seats}"}}],
    }
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(site, sort_keys=False))
    return path


def _build(prefix: str, seats: int) -> dict[str, str]:
    """Namespaces and cabling; returns namespace -> address."""
    bridge = f"{prefix}-br"
    hosts = {f"{prefix}-co": COORDINATOR}
    hosts.update({f"{prefix}-s{101 + i}": f"{SUBNET}.{101 + i}" for i in range(seats)})
    add_all([bridge, *hosts])
    lines = ["link set lo up", "link add br0 type bridge stp_state 0", "link set br0 up"]
    for index, ns in enumerate(hosts):
        # the peer goes straight into the host's namespace: nothing appears in the root one
        lines += [f"link add p{index} type veth peer name eth0 netns {ns}",
                  f"link set p{index} master br0 up"]
    run(["ip", "-n", bridge, "-batch", "-"], stdin="\n".join(lines) + "\n",
        what="cabling the bench bridge", timeout=60)
    run_all([(["ip", "-n", ns, "-batch", "-"],
              f"link set lo up\naddr add {address}/24 dev eth0\nlink set eth0 up\n",
              f"addressing {ns}") for ns, address in hosts.items()])
    return hosts


def _teardown(prefix: str, procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    names = list_netns(prefix)
    for pid in pids_in(names):  # anything else left inside our namespaces
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if names:
        delete_all(names)


def outer(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("run as root: the bench builds network namespaces", file=sys.stderr)
        return 2
    prefix = f"rdyb{os.getpid()}"
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    procs: list[subprocess.Popen[bytes]] = []
    # SIGTERM must tear down too, not only Ctrl+C
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        site = _site_files(folder, args.seats)
        started = time.monotonic()
        hosts = _build(prefix, args.seats)
        built_s = time.monotonic() - started
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        launched = time.time()
        for ns, address in hosts.items():
            if ns.endswith("-co"):
                continue
            # the child keeps its own copy of the log's descriptor
            with open(folder / f"{ns}.log", "wb") as log:
                procs.append(subprocess.Popen(
                    exec_argv(ns, [sys.executable, "-m", "readiness.agent", "--config",
                                   str(site), "--bind", address, "--port", str(PORT),
                                   "--lang", "en"]),
                    cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log))
        coordinator = [ns for ns in hosts if ns.endswith("-co")][0]
        done = subprocess.run(
            exec_argv(coordinator, [sys.executable, str(Path(__file__).resolve()),
                                    "--coordinator", "--site", str(site),
                                    "--seats", str(args.seats), "--rounds", str(args.rounds),
                                    "--concurrency", str(args.concurrency),
                                    "--since", str(launched)]),
            cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        result = json.loads(done.stdout)
        rounds = result["rounds"]
        walls = [r["wall_s"] for r in rounds]
        slowest = max(rounds, key=lambda r: r["slowest_s"])
        print(f"namespaces and cabling: {built_s:.2f} s; all {args.seats} agents answering "
              f"{result['startup_s']:.2f} s after they were launched")
        for i, r in enumerate(rounds, 1):
            print(f"round {i}: {r['ok']}/{args.seats} ok in {r['wall_s'] * 1000:.0f} ms; "
                  f"slowest {r['slowest']} {r['slowest_s'] * 1000:.0f} ms")
        best, worst_wall = min(walls), max(walls)
        median = sorted(walls)[len(walls) // 2]
        print(f"fan-out of self-report to {args.seats} agents (concurrency "
              f"{args.concurrency}): median {median * 1000:.0f} ms, best {best * 1000:.0f} ms, "
              f"worst {worst_wall * 1000:.0f} ms; slowest agent {slowest['slowest']} "
              f"{slowest['slowest_s'] * 1000:.0f} ms; goal <= 2000 ms: "
              f"{'met' if worst_wall <= 2.0 else 'MISSED'}")
        bad = [r for r in rounds if r["ok"] != args.seats]
        return 1 if bad or worst_wall > 2.0 else 0
    finally:
        _teardown(prefix, procs)
        shutil.rmtree(folder, ignore_errors=True)
        left = list_netns(prefix)
        if left:
            print(f"could not delete: {', '.join(left)}", file=sys.stderr)


async def _wait_for_agents(addresses: list[str], token: Secret, timeout_s: float,
                           since: float) -> float:
    from readiness.agent.client import call_agent

    pending = sorted(addresses)
    while pending:
        if time.time() - since > timeout_s:
            raise SystemExit(f"agents not answering after {timeout_s:g} s: "
                             f"{', '.join(pending)}")
        replies = await asyncio.gather(*(call_agent(a, PORT, "/v1/health", None, token,
                                                    method="GET", timeout_s=1.0)
                                         for a in pending))
        pending = [a for a, r in zip(pending, replies, strict=True) if r.status != "ok"]
        if pending:
            await asyncio.sleep(0.05)
    return time.time() - since


async def _fan_out_rounds(args: argparse.Namespace) -> dict[str, object]:
    from readiness.agent.client import AgentTarget, fan_out
    from readiness.config.load import load_site

    site = load_site(args.site)
    token = site.secret("agent.token")
    assert token is not None
    seats = site.seats["bench"]
    startup_s = await _wait_for_agents([s.address for s in seats], token, 60, args.since)
    targets = [AgentTarget(s.label, s.address) for s in seats]
    rounds = []
    for _ in range(args.rounds):
        started = time.monotonic()
        replies = await fan_out(targets, "/v1/self-report", {}, token, PORT,
                                concurrency=args.concurrency, timeout_s=5.0)
        wall = time.monotonic() - started
        slowest = max(replies, key=lambda label: replies[label].elapsed_s)
        rounds.append({"wall_s": wall, "ok": sum(r.status == "ok" for r in replies.values()),
                       "slowest": slowest, "slowest_s": replies[slowest].elapsed_s})
    return {"startup_s": startup_s, "rounds": rounds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seats", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    # internal: the half that runs inside the coordinator's namespace
    parser.add_argument("--coordinator", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--site", help=argparse.SUPPRESS)
    parser.add_argument("--since", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 1 <= args.seats <= 150:
        parser.error("--seats must be 1..150")
    if args.coordinator:
        print(json.dumps(asyncio.run(_fan_out_rounds(args))))
        return 0
    return outer(args)


if __name__ == "__main__":
    sys.exit(main())
