"""Record tests/fixtures/drill_result.json from a real drill under a lab prefix of its own.

What `readiness drill` does (build config/lab/room.yaml's room, check it from the proctor
PC, remove it), without its report and under `rdytf<pid>` instead of the default lab's
prefix, so it never touches a lab someone else runs. The measured values too large to
read in a test are replaced by a marker; messages and findings are kept whole.

    sudo PYTHONPATH=$PWD python3 tests/record_drill.py [--out FILE]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from readiness import lab
from readiness.evidence.keys import init_keys

REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "drill_result.json"
STRIPPED = "(stripped for the test fixture: large)"
LARGEST_KEPT = 200  # characters of a measured value's JSON


def strip(doc: dict[str, Any]) -> dict[str, Any]:
    for result in doc["results"]:
        measured = result.get("measured") or {}
        for key, value in measured.items():
            if len(json.dumps(value, ensure_ascii=False)) > LARGEST_KEPT:
                measured[key] = STRIPPED
    return doc


def record(out: Path) -> int:
    missing = lab.missing_prerequisites()
    if os.geteuid() != 0 or missing:
        print("needs root and: " + "; ".join(what for what, _ in missing), file=sys.stderr)
        return 2
    prefix = f"rdytf{os.getpid() % 100000}"
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        init_keys(work / "keys")
        with lab.running(lab.load_spec(None), prefix) as room:
            code = subprocess.call(room.exec_argv("proctor", [
                sys.executable, "-m", "readiness", "check", str(room.site_file),
                "--json", str(work / "result.json"), "--store", str(work / "r.sqlite"),
                "--log", str(work / "evidence.jsonl"), "--dir", str(work / "keys"),
                "--lang", "en"]), timeout=900, cwd=REPO,
                env={**os.environ, "PYTHONPATH": str(REPO)})
        doc = json.loads((work / "result.json").read_text())
    out.write_text(json.dumps(strip(doc), ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {out} (readiness check exit code {code})")
    return 0


if __name__ == "__main__":
    target = Path(sys.argv[sys.argv.index("--out") + 1]) if "--out" in sys.argv else FIXTURE
    sys.exit(record(target))
