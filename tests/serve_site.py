"""A site for the serve tests: the lab's site file with its own code, secrets file and
an exam session in the future, plus stored runs made from the recorded drill result."""

from __future__ import annotations

import copy
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
# a real drill's result.json (recorded; long measured values cut)
DRILL_RESULT = REPO / "tests" / "fixtures" / "drill_result.json"
TOKEN = "haCrqHuRfuqKR1fnrb9SMSzn244FnvPLOAXdLtZnKRg"  # 256 bits: validate refuses less
RUN_NOW_TOKEN = "q7Vx2LmR9tWk4PzN8sYc3JdH6fBg1KaEoU5iXy0Zt2M"  # "run now" on the live page


def drill_doc(code: str) -> dict:
    doc = json.loads(DRILL_RESULT.read_text(encoding="utf-8"))
    doc = copy.deepcopy(doc)
    doc["site"]["code"] = code
    return doc


def make_site(folder: Path, code: str, *, exam_in: timedelta = timedelta(days=2),
              run_now: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    secrets = folder / "secrets.yaml"
    text = (REPO / "config" / "lab" / "site.yaml").read_text(encoding="utf-8")
    # every secret the lab's site file names (others add some), each with a value
    names = sorted(set(re.findall(r"secret:([A-Za-z0-9_]+)", text)) - {"agent_token"})
    secrets.write_text(f"agent_token: {TOKEN}\nrun_now_token: {RUN_NOW_TOKEN}\n"
                       + "".join(f"{n}: lab-{n.replace('_', '-')}-value\n" for n in names))
    os.chmod(secrets, 0o600)
    data = yaml.safe_load(text)
    data["site"]["code"] = code
    data["secrets_file"] = str(secrets)
    if run_now:
        data["serve"] = {"run_now_token": "secret:run_now_token"}
    start = (datetime.now(UTC) + exam_in).astimezone().replace(tzinfo=None, microsecond=0)
    data["timezone"] = "UTC"
    data["exam_sessions"] = [{"name": "exam", "start": start.astimezone(UTC).replace(
        tzinfo=None).isoformat(), "duration_min": 120}]
    site = folder / "site.yaml"
    site.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    from readiness.evidence.keys import init_keys

    init_keys(folder / "keys")
    return site


def store_drill(folder: Path, code: str, *, shift: timedelta = timedelta(0),
                fix_seats: bool = False) -> int | None:
    """Store the recorded drill as a run of `code`, `shift` later than recorded;
    `fix_seats`: the same run with every seat result passing (a second, better run)."""
    from readiness.serve.importing import run_from_json, store_run

    doc = drill_doc(code)
    for key in ("started_at", "finished_at"):
        doc[key] = (datetime.fromisoformat(doc[key]) + shift).isoformat()
    if fix_seats:
        for r in doc["results"]:
            if r["subject"]["kind"] == "seat" and r["status"] in ("fail", "error"):
                r["status"] = "pass"
    run = run_from_json(doc)
    return store_run(run, store=str(folder / "readiness.sqlite"),
                     log=str(folder / "evidence.jsonl"), key_dir=str(folder / "keys"))
