"""Benchmark: `readiness serve` over 100 runs: the service's memory, and the time from a
check finishing to the page receiving it.

Run from the repository root:  python bench/serve.py [--runs 100] [--pace 0.002]

In a temporary folder it serves a copy of the lab's site (loopback only) and feeds it
the recorded drill (tests/fixtures/drill_result.json, 323 checks) `--runs` times through
the schedule's watchers, exactly as a scheduled run reaches them (readiness.serve.replay:
"start", each check as it finishes, the run signed into the evidence log and stored,
"end"). A page's event stream (/events) is read over HTTP the whole time, and after every
run /metrics and /api/state are fetched, as Prometheus and the page do.

  * memory: the resident size of the process (service + feeder + reader: an upper bound)
    after run 50 and after the last run; goal <= 150 MB and no growth between them
    (<= 5 MB: the allocator's noise);
  * latency: for every check, the time from the runner telling the watchers to the event
    line arriving at the reader; goal <= 1 s (p95 and max printed).

Exit status 0 when the goals are met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # serve_site: the lab site the serve tests use

from serve_site import drill_doc, make_site  # noqa: E402

from readiness.schedule import runner as schedule  # noqa: E402
from readiness.schedule.runner import settings_from  # noqa: E402
from readiness.serve import service  # noqa: E402
from readiness.serve.importing import run_from_json  # noqa: E402
from readiness.serve.replay import replay  # noqa: E402

MEMORY_GOAL_MB = 150.0
GROWTH_LIMIT_MB = 5.0
LATENCY_GOAL_S = 1.0


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class EventReader(threading.Thread):
    """The page's side of /events: the arrival time of every `check` event, in order."""

    def __init__(self, host: str, port: int):
        super().__init__(daemon=True)
        self.host, self.port = host, port
        self.arrived: list[float] = []
        self.ready = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        conn.request("GET", "/events")
        response = conn.getresponse()
        self.ready.set()
        event = ""
        while True:
            line = response.fp.readline()
            if not line:
                return
            if line.startswith(b"event:"):
                event = line[6:].strip().decode()
            elif line.startswith(b"data:") and event == "check":
                self.arrived.append(time.monotonic())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--pace", type=float, default=0.002,
                        help="seconds between two checks of a run (default %(default)s)")
    args = parser.parse_args(argv)

    recorded = run_from_json(drill_doc("BENCH-1"))
    told: list[float] = []

    def stamp(event: str, _payload: object) -> None:
        if event == "check":
            told.append(time.monotonic())

    with tempfile.TemporaryDirectory(prefix="readiness-bench-serve-") as tmp:
        folder = Path(tmp)
        site = make_site(folder, "BENCH-1")
        paths = {"store": str(folder / "readiness.sqlite"), "log": str(folder / "evidence.jsonl"),
                 "key_dir": str(folder / "keys")}
        settings = settings_from(site, store=paths["store"], log_path=paths["log"],
                                 key_dir=paths["key_dir"], jobs=folder / "schedule.sqlite")
        serving = service.start(settings, ("127.0.0.1", 0))
        schedule.WATCHERS.insert(0, stamp)  # first: the moment the runner tells
        try:
            host, port = serving.address
            reader = EventReader(host, port)
            reader.start()
            reader.ready.wait(10)
            while not serving.state._subscribers:
                time.sleep(0.01)
            memory: dict[int, float] = {}
            started = time.monotonic()
            for n in range(1, args.runs + 1):
                replay(recorded, job_id=f"bench-{n}", pace_s=args.pace, **paths)
                for path in ("/metrics", "/api/state"):
                    client = http.client.HTTPConnection(host, port, timeout=30)
                    client.request("GET", path)
                    assert client.getresponse().read(), path
                    client.close()
                if n in (args.runs // 2, args.runs):
                    gc.collect()
                    memory[n] = rss_mb()
            took = time.monotonic() - started
            deadline = time.monotonic() + 10
            while len(reader.arrived) < len(told) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            schedule.WATCHERS.remove(stamp)
            service.stop(serving)

    lost = len(told) - len(reader.arrived)
    latencies = sorted(b - a for a, b in zip(told, reader.arrived, strict=False))
    half, last = memory[args.runs // 2], memory[args.runs]
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(f"runs: {args.runs} of {len(recorded.results)} checks each in {took:.1f} s "
          f"({took / args.runs:.2f} s a run, checks {args.pace * 1000:.0f} ms apart)")
    print(f"memory (RSS): {half:.1f} MB after run {args.runs // 2}, {last:.1f} MB after run "
          f"{args.runs} (growth {last - half:+.1f} MB); goal <= {MEMORY_GOAL_MB:.0f} MB, "
          f"growth <= {GROWTH_LIMIT_MB:.0f} MB")
    print(f"check finished -> page has it: median {statistics.median(latencies) * 1000:.1f} ms,"
          f" p95 {p95 * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms over "
          f"{len(latencies)} checks ({lost} not received); goal <= {LATENCY_GOAL_S:.0f} s")
    ok = (last <= MEMORY_GOAL_MB and last - half <= GROWTH_LIMIT_MB and lost == 0
          and latencies[-1] <= LATENCY_GOAL_S)
    print("goals met" if ok else "GOALS NOT MET")
    print(json.dumps({"rss_mb_half": round(half, 1), "rss_mb_end": round(last, 1),
                      "latency_p95_s": round(p95, 4), "latency_max_s": round(latencies[-1], 4),
                      "lost": lost}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
