"""Benchmark: `readiness serve` while 2 000 idle connections are held open against it.

Run from the repository root:  python3 bench/serve_idle_connections.py [--idle 2000]
    [--hold 10] [--case LIMIT:SEATS ...]

Loopback only. For each case (default: open-files limit 1024, what a unit without
LimitNOFILE gets, and 8192, what config/readiness-serve.service sets; the idle connections
from one seat PC, and from forty) it starts the real command, `python3 -m readiness serve`,
on 127.0.0.1 with a temporary copy of the lab's site file, whose runs check only
SERVER-SPARE (not a rule of that certificate: a run sends nothing anywhere). Then:

  * opens `--idle` TCP connections that never send a byte, from SEATS source addresses
    (127.0.0.2, 127.0.0.3, ...: the seat PCs), and for `--hold` seconds keeps that many
    open: every one the service closes or drops is opened again at once, as an attacker
    would;
  * meanwhile asks /healthz every 0.1 s and sends a signed "run now" every second from
    127.0.0.1 (Prometheus, the staff's browser), each on a new connection, and times the
    answers (5 s at most each);
  * stops the service (SIGTERM) and prints the figures.

Goal: every /healthz and every "run now" answered, within 1 s. Exit status 0 when met.
Bounded: at most 5 000 connections and 60 s of holding per limit; the service is always
stopped, the connections always closed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # serve_site: the lab site the serve tests use

from serve_site import RUN_NOW_TOKEN, make_site  # noqa: E402

from readiness.redact import Secret  # noqa: E402
from readiness.serve.run_now import sign  # noqa: E402

CODE = "BENCH-IDLE"
GOAL_S = 1.0
ANSWER_TIMEOUT_S = 5.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(port: int, method: str, path: str, headers: dict[str, str] | None = None,
            ) -> tuple[int | None, float]:
    """(status or None on failure, seconds) of one request on a new connection."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_TIMEOUT_S)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    except OSError:
        return None, time.monotonic() - started
    finally:
        conn.close()


class IdleCrowd(threading.Thread):
    """Holds `count` idle connections open; reopens each one the service drops."""

    def __init__(self, port: int, count: int, seats: int):
        super().__init__(daemon=True)
        self.port, self.count, self.seats = port, count, seats
        self.selector = selectors.DefaultSelector()
        self.stop = threading.Event()
        self.opened = 0
        self.reopened = 0
        self.failed = 0
        self.ready = threading.Event()

    def _open(self) -> None:
        seat = f"127.0.0.{2 + self.opened % self.seats}"
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=3,
                                            source_address=(seat, 0))
        except OSError:
            self.failed += 1
            return
        sock.setblocking(False)
        self.selector.register(sock, selectors.EVENT_READ)
        self.opened += 1

    def held(self) -> int:
        return len(self.selector.get_map())

    def run(self) -> None:
        for _ in range(self.count):
            self._open()
        self.ready.set()
        while not self.stop.is_set():
            for key, _ in self.selector.select(timeout=0.1):
                sock = key.fileobj
                try:
                    gone = sock.recv(1) == b""  # type: ignore[union-attr]
                except BlockingIOError:
                    gone = False
                except OSError:
                    gone = True
                if gone:
                    self.selector.unregister(sock)
                    sock.close()  # type: ignore[union-attr]
                    if not self.stop.is_set():
                        self._open()
                        self.reopened += 1

    def close(self) -> None:
        self.stop.set()
        self.join(10)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self.selector.close()


def start_service(folder: Path, site: Path, port: int, file_limit: int) -> subprocess.Popen:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (file_limit, file_limit))

    return subprocess.Popen(
        [sys.executable, "-m", "readiness", "--lang", "en", "serve", str(site),
         "--store", str(folder / "readiness.sqlite"), "--log", str(folder / "evidence.jsonl"),
         "--dir", str(folder / "keys"), "--jobs", str(folder / "schedule.sqlite"),
         "--only", "SERVER-SPARE", "--listen", f"127.0.0.1:{port}",
         "--log-file", str(folder / "serve.log")],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=open(folder / "stderr.txt", "wb"),  # noqa: SIM115
        preexec_fn=limit, env=dict(os.environ, PYTHONPATH=str(REPO)))


def one_case(file_limit: int, seats: int, idle: int, hold_s: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="readiness-bench-idle-") as tmp:
        folder = Path(tmp)
        site = make_site(folder, CODE, exam_in=timedelta(days=30))
        port = free_port()
        proc = start_service(folder, site, port, file_limit)
        crowd: IdleCrowd | None = None
        try:
            deadline = time.monotonic() + 30
            while request(port, "GET", "/healthz")[0] != 200:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("readiness serve did not come up: "
                                     + (folder / "stderr.txt").read_text()[-2000:])
                time.sleep(0.2)
            quiet = sorted(request(port, "GET", "/healthz")[1] for _ in range(20))

            crowd = IdleCrowd(port, idle, seats)
            opening = time.monotonic()
            crowd.start()
            crowd.ready.wait(120)
            opened_in = time.monotonic() - opening
            health: list[tuple[int | None, float]] = []
            runs: list[tuple[int | None, float]] = []
            token = Secret(RUN_NOW_TOKEN, "secret:run_now_token")
            held_start = time.monotonic()
            next_run = held_start
            while time.monotonic() - held_start < hold_s:
                health.append(request(port, "GET", "/healthz"))
                if time.monotonic() >= next_run:
                    runs.append(request(port, "POST", "/run", sign(token, CODE)))
                    next_run += 1.0
                time.sleep(0.1)
            held_at_end = crowd.held()
        finally:
            if crowd is not None:
                crowd.close()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        tracebacks = (folder / "stderr.txt").read_text(errors="replace").count("Traceback")

    def figures(samples: list[tuple[int | None, float]]) -> dict:
        times = sorted(t for _, t in samples)
        return {"count": len(samples), "failed": sum(1 for s, _ in samples if s is None),
                "statuses": sorted({s for s, _ in samples if s is not None}),
                "median_s": round(statistics.median(times), 4),
                "p95_s": round(times[int(0.95 * (len(times) - 1))], 4),
                "max_s": round(times[-1], 4)}

    return {"file_limit": file_limit, "seats": seats, "idle": idle,
            "opened_in_s": round(opened_in, 2),
            "reopened": crowd.reopened, "open_failures": crowd.failed,
            "still_open_at_end": held_at_end,
            "quiet_healthz_max_s": round(quiet[-1], 4),
            "healthz": figures(health), "run_now": figures(runs),
            "tracebacks": tracebacks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--hold", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument("--case", action="append", metavar="LIMIT:SEATS",
                        help="the service's open-files limit and the number of seat PCs the "
                             "idle connections come from (repeat; default 1024:1, 8192:1, "
                             "8192:40)")
    args = parser.parse_args(argv)
    idle = max(1, min(args.idle, 5000))
    hold_s = max(1.0, min(args.hold, 60.0))
    cases = [tuple(int(x) for x in c.split(":")) for c in args.case or
             ["1024:1", "8192:1", "8192:40"]]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = idle + 512  # this process holds the crowd's side of every connection
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(wanted, soft)), hard))

    ok = True
    for file_limit, seats in cases:
        seats = max(1, min(seats, 200))
        found = one_case(file_limit, seats, idle, hold_s)
        h, r = found["healthz"], found["run_now"]
        print(f"open-files limit {file_limit}, {seats} seat PC(s): {idle} idle connections "
              f"opened in "
              f"{found['opened_in_s']} s, held {hold_s:.0f} s ({found['reopened']} reopened "
              f"after the service dropped them, {found['still_open_at_end']} open at the end)")
        print(f"  /healthz:  {h['count']} asked, {h['failed']} unanswered, median "
              f"{h['median_s'] * 1000:.1f} ms, p95 {h['p95_s'] * 1000:.1f} ms, max "
              f"{h['max_s'] * 1000:.1f} ms (quiet: max {found['quiet_healthz_max_s'] * 1000:.1f}"
              f" ms); statuses {h['statuses']}")
        print(f"  run now:   {r['count']} signed, {r['failed']} unanswered, median "
              f"{r['median_s'] * 1000:.1f} ms, max {r['max_s'] * 1000:.1f} ms; statuses "
              f"{r['statuses']} (202 queued, 200 joined the queued or running run)")
        print(f"  tracebacks on stderr: {found['tracebacks']}")
        met = (h["failed"] == 0 and r["failed"] == 0 and h["max_s"] <= GOAL_S
               and r["max_s"] <= GOAL_S and set(h["statuses"]) == {200}
               and set(r["statuses"]) <= {200, 202} and found["tracebacks"] == 0)
        ok = ok and met
        print(json.dumps(found))
    print(f"goal: every /healthz and run now answered within {GOAL_S:.0f} s: "
          + ("met" if ok else "NOT MET"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
