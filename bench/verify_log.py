"""Benchmark: `readiness verify` of a 100 000-record evidence log, time and peak memory.

Run from the repository root:  python bench/verify_log.py [--records 100000]

It writes, in a temporary folder, a log the way `readiness check` does: runs of 90
results each (one `run` record and its results per append, every record signed), then
verifies it in a fresh process (so the peak RSS is the verifier's, not the writer's):

  1. verify(): the full streaming check of every record,
  2. `readiness verify LOG --pub site.pub` as a script would call it (exit code too),
  3. verify(resume=...): the report's incremental check after one more run.

Goal: <= 5 s and <= 100 MB for the full check. Exit status 0 when met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from readiness.evidence.chain import EvidenceLog  # noqa: E402
from readiness.evidence.keys import init_keys, load_private  # noqa: E402
from readiness.evidence.record import append_run  # noqa: E402
from readiness.results import (  # noqa: E402
    CheckResult,
    Citation,
    RunRecord,  # noqa: E402
    Status,
    Text,
    Verdict,
)

RESULTS_PER_RUN = 90  # a 40-seat room: reachability, ARP, speed both ways, filtering...
GOAL_S, GOAL_MB = 5.0, 100.0

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from readiness.evidence.chain import verify
from readiness.evidence.keys import load_public
log, pub = Path(sys.argv[1]), load_public(Path(sys.argv[2]))
t0 = time.perf_counter()
report = verify(log, pub)
full_s = time.perf_counter() - t0
print(json.dumps({"ok": report.ok, "count": report.count, "seconds": full_s,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

RESUME_CHILD = r"""
import json, sys, time
from pathlib import Path
from readiness.evidence.chain import Position, verify
from readiness.evidence.keys import load_public
log, pub = Path(sys.argv[1]), load_public(Path(sys.argv[2]))
at = Position(**json.loads(sys.argv[3]))
t0 = time.perf_counter()
report = verify(log, pub, resume=at)
print(json.dumps({"ok": report.ok, "count": report.count, "seconds": time.perf_counter() - t0}))
"""


def make_run(index: int, start: datetime) -> RunRecord:
    when = start + timedelta(hours=index)
    results = [CheckResult(
        requirement="LAN-SPEED", title=Text("Gigabit LAN to every seat", "局域网千兆到桌面"),
        target=f"seat A{i % 40 + 1:02d} (198.18.{index % 200}.{i % 250 + 1}) -> exam server",
        vantage=f"agent A{i % 40 + 1:02d}", status=Status.PASS if i % 7 else Status.WARN,
        message=Text(f"{930 + i % 20} Mbit/s to the exam server",
                     f"到考试服务器 {930 + i % 20} Mbit/s"),
        measured={"throughput_mbps": 930.5 + i % 20, "retransmits": i % 3, "duration_s": 2.0,
                  "direction": "send" if i % 2 else "receive"},
        threshold={"floor_mbps": 900, "recommended_mbps": 940},
        citation=Citation("002_778480b43cbac38e.txt", "第十一条(二)",
                          "考场局域网须千兆到桌面"),
        started_at=when, duration_s=2.05, check_id=f"LAN-SPEED/room301/seat-{i}/send")
        for i in range(RESULTS_PER_RUN - 1)]
    return RunRecord(
        site_name="第一考点", site_code="SITE01", profile_id="cbec",
        certificate=Text("Cross-border e-commerce", "跨境电子商务多平台运营"),
        started_at=when, finished_at=when + timedelta(minutes=3), verdict=Verdict.NOT_READY,
        results=results, required={"LAN-SPEED", "WAN-FLOOR"})


def child(code: str, *args: str) -> tuple[dict, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return json.loads(out), max(peak, before) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rdy-bench-verify-") as tmp:
        folder = Path(tmp)
        keys = init_keys(folder / "keys")
        log = EvidenceLog(folder / "evidence.jsonl", load_private(folder / "keys"))
        start = datetime(2024, 5, 1, 12, tzinfo=UTC)
        t0 = time.perf_counter()
        runs = -(-args.records // RESULTS_PER_RUN)
        for index in range(runs):
            append_run(log, make_run(index, start))
        written_s = time.perf_counter() - t0
        size_mb = log.path.stat().st_size / 1e6
        print(f"log: {runs * RESULTS_PER_RUN} records, {size_mb:.1f} MB, written in "
              f"{written_s:.1f} s ({RESULTS_PER_RUN} per append, every record signed)")

        full, _ = child(CHILD, str(log.path), str(keys.public_path))
        print(f"verify():        {full['seconds']:.2f} s, peak RSS {full['peak_mb']:.0f} MB, "
              f"{full['count']} records, ok={full['ok']}")

        t0 = time.perf_counter()
        cli = subprocess.run([sys.executable, "-m", "readiness", "verify", str(log.path),
                              "--pub", str(keys.public_path), "--lang", "en"],
                             cwd=REPO, capture_output=True, text=True)
        cli_s = time.perf_counter() - t0
        print(f"readiness verify: {cli_s:.2f} s (process start included), exit {cli.returncode}")

        from readiness.evidence.chain import verify
        from readiness.evidence.keys import load_public

        end = verify(log.path, load_public(keys.public_path)).end
        append_run(log, make_run(runs, start))
        assert end is not None
        resumed, _ = child(RESUME_CHILD, str(log.path), str(keys.public_path),
                           json.dumps(end.__dict__))
        print(f"incremental verify after one more run: {resumed['seconds'] * 1000:.0f} ms, "
              f"ok={resumed['ok']}")

    met = full["ok"] and full["seconds"] <= GOAL_S and full["peak_mb"] <= GOAL_MB
    print(f"goal <= {GOAL_S:.0f} s and <= {GOAL_MB:.0f} MB: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
