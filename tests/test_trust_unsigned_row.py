"""Issue 20, break 1: one row added to the results store with SQL (verdict ready, no
signature, no key needed) must not be believed on any channel.

The site has a key and a signed drill run; the forger inserts a later copy of it that
says `ready` with every check passing. The report, the live page (/api/state and the
verdict it draws), /metrics, `history` and the alerts must all say "not signed", and
the report must name the real cause (the key existed), not "no key".
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from serve_site import make_site, store_drill

from readiness.commands.evidence import OK, history
from readiness.commands.report import report
from readiness.schedule.runner import settings_from
from readiness.serve import service
from readiness.serve.page import PAGE
from readiness.store import ResultsStore

CODE = "SITE-F"


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=300, highlight=False, color_system=None), out


def insert_ready_row(store: Path) -> int:
    """What the issue's forger did: a later copy of run 1, verdict ready, every check
    passing, no evidence reference. Plain SQL, no key."""
    with sqlite3.connect(store) as db:
        db.row_factory = sqlite3.Row
        run = dict(db.execute("SELECT * FROM runs WHERE id = 1").fetchone())
        later = {k: (datetime.fromisoformat(run[k]) + timedelta(hours=1)).isoformat()
                 for k in ("started_at", "finished_at")}
        run.update(later, verdict="ready", evidence_ref=None, trigger="manual")
        del run["id"]
        cur = db.execute(f"INSERT INTO runs ({', '.join(run)}) VALUES "
                         f"({', '.join('?' * len(run))})", list(run.values()))
        new_id = int(cur.lastrowid or 0)
        for row in db.execute("SELECT * FROM results WHERE run_id = 1").fetchall():
            result = dict(row)
            del result["id"]
            result.update(run_id=new_id, status="pass")
            db.execute(f"INSERT INTO results ({', '.join(result)}) VALUES "
                       f"({', '.join('?' * len(result))})", list(result.values()))
    return new_id


@pytest.fixture()
def forged(tmp_path: Path) -> dict:
    site = make_site(tmp_path, CODE)
    store_drill(tmp_path, CODE)
    paths = {"site": site, "store": tmp_path / "readiness.sqlite",
             "log": tmp_path / "evidence.jsonl", "keys": tmp_path / "keys", "tmp": tmp_path}
    signed = ResultsStore(paths["store"]).load_run(1)
    assert signed is not None and signed.verdict.value != "ready"  # the drill room fails
    paths["forged_id"] = insert_ready_row(paths["store"])
    return paths


def test_the_trust_of_the_inserted_row_is_not_signed_naming_the_real_cause(forged):
    # imported here: the other tests show the break on code that predates run_trust
    from readiness.evidence.run_trust import NOT_SIGNED, VERIFIED, run_trust

    signed = ResultsStore(forged["store"]).load_run(1)
    assert run_trust(signed, log=forged["log"], key_dir=forged["keys"],
                     store=forged["store"]).status == VERIFIED
    run = ResultsStore(forged["store"]).load_run(forged["forged_id"])
    trust = run_trust(run, log=forged["log"], key_dir=forged["keys"], store=forged["store"])
    assert trust.status == NOT_SIGNED
    assert "not in the signed evidence log" in trust.why.en and "by hand" in trust.why.en
    assert "no key" not in trust.why.en and "签名" in trust.why.zh


def test_the_report_says_not_signed_instead_of_ready_on_page_one(forged):
    console, buf = _console()
    out = forged["tmp"] / "report"
    code = report(console, forged["store"], out, latest=True, evidence_log=forged["log"],
                  key_dir=forged["keys"], lang="en", pdf=False)
    assert code == OK, buf.getvalue()
    page = next(out.glob("*.html")).read_text()
    cover = page[:page.index("<section")]
    assert "NOT SIGNED" in cover and "未签名" in cover
    # the big verdict box is the NOT SIGNED one, not a READY over a small box
    box = re.search(r'<div class="verdict ([a-z_]+)">(.*?)</div>', cover, re.S)
    assert box is not None and box.group(1) == "not_signed", cover[:3000]
    word = re.sub(r"<[^>]+>", " ", box.group(2))
    assert "NOT SIGNED" in word and "未签名" in word
    assert "ready" not in word.lower() and "就绪" not in word
    assert "The results store says “ready”; no signature backs it." in cover  # small print
    assert "not in the signed evidence log" in cover  # the cause: the key existed
    assert "had no key" not in cover and "尚无密钥" not in cover
    assert "not in the signed evidence log" in buf.getvalue()


def test_the_live_page_and_metrics_say_not_signed(forged):
    settings = settings_from(forged["site"], store=forged["store"], log_path=forged["log"],
                             key_dir=forged["keys"], jobs=forged["tmp"] / "schedule.sqlite")
    s = service.start(settings, ("127.0.0.1", 0))
    try:
        host, port = s.address

        def get(path: str) -> bytes:
            return urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5).read()

        state = json.loads(get("/api/state"))
        metrics = get("/metrics").decode()
    finally:
        service.stop(s)
    assert state["last_run"]["run_id"] == forged["forged_id"]
    assert state["trust"]["status"] == "not_signed" and state["signed"] is False
    assert "not in the signed evidence log" in state["trust"]["why"]["en"]
    # the verdict the page draws is NOT SIGNED; the store's claim is kept aside
    assert state["verdict"]["value"] == "not_signed"
    assert state["verdict"]["en"] == "NOT SIGNED" and state["verdict"]["zh"] == "未签名"
    assert state["stored_verdict"]["value"] == "ready"
    assert "s.trust.why" in PAGE  # the page writes the reason beside the verdict
    assert f'readiness_run_verdict{{site="{CODE}",verdict="not_signed"}} 1.0' in metrics
    assert f'readiness_run_verdict{{site="{CODE}",verdict="ready"}} 0.0' in metrics
    assert f'readiness_run_signed{{site="{CODE}"}} 0.0' in metrics
    # the only ready run is the unsigned one: no ready time
    assert f'readiness_last_ready_timestamp_seconds{{site="{CODE}"}} 0.0' in metrics
    # nor any per-rule or per-seat pass that a province rule would take for proof
    for family in ("readiness_requirement_status", "readiness_check_success",
                   "readiness_seat_success", "readiness_run_checks"):
        assert f"\n{family}{{" not in metrics, family


def test_history_marks_it_not_signed_and_never_ready(forged):
    console, buf = _console()
    assert history(console, forged["store"], evidence_log=forged["log"],
                   key_dir=forged["keys"], lang="en") == OK
    text = buf.getvalue()
    row = next(line for line in text.splitlines()
               if re.match(rf"\W*{forged['forged_id']}\s", line))
    assert re.search(r"\bNO\b", row) and "unproven" in row  # the Signed column, the verdict
    assert f"#{forged['forged_id']} not signed" in text and "by hand" in text


def test_an_alert_never_announces_an_all_clear_from_it(forged):
    from readiness.alerts import believed_changes, build_alert, load_believed_runs

    store = ResultsStore(forged["store"])
    believed = load_believed_runs(store, forged["forged_id"], 1, forged["log"],
                                  forged["keys"])
    assert believed.unsigned is not None and believed.previous is not None
    changes = believed_changes(believed)
    assert changes == []  # everything "passes again" in the row: none of it is said
    # and an alert built anyway says NOT SIGNED, with no fix in it
    from zoneinfo import ZoneInfo

    from readiness.alerts import requirement_changes
    fixes = requirement_changes(believed.previous, believed.current)
    assert any(not c.broken for c in fixes)  # what the forger hoped to announce
    alert = build_alert("site", CODE, fixes, believed.current.started_at, ZoneInfo("UTC"),
                        unsigned=believed.unsigned)
    assert alert is None
