"""readiness serve: the metrics of a recorded drill, the page's state, and the HTTP
service on loopback (its real schedule, store and evidence log)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from serve_site import RUN_NOW_TOKEN, TOKEN, drill_doc, make_site, store_drill

from readiness.report.model import seat_maps
from readiness.results import Status
from readiness.schedule.runner import settings_from
from readiness.serve import service
from readiness.serve.importing import run_from_json
from readiness.serve.metrics import METRIC_NAMES, SiteFacts, families
from readiness.serve.page_model import page_state


def _samples(fams):
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in fams for s in f.samples}


def _failing_seats(run):
    return {c.label for room in seat_maps(run, None) for c in room.cells
            if c.status in (Status.FAIL, Status.ERROR)}


def test_metrics_of_the_drill_name_its_failing_seats_and_figures():
    run = run_from_json(drill_doc("LAB-0001"))
    samples = _samples(families(run, SiteFacts("LAB-0001", "9.9")))
    failing = {dict(k[1])["seat"] for k, v in samples.items()
               if k[0] == "readiness_seat_success" and v == 0}
    assert failing == _failing_seats(run) and failing
    assert samples[("readiness_seats_answering", (("room", "lab"), ("site", "LAB-0001")))] == 37
    assert samples[("readiness_seats_required", (("room", "lab"), ("site", "LAB-0001")))] == 40
    up = samples[("readiness_uplink_bytes_per_second",
                  (("direction", "download"), ("room", "lab"), ("site", "LAB-0001")))]
    wan = next(r for r in run.results if r.requirement == "WAN-FLOOR")
    assert up == pytest.approx(wan.measured["download_mbps"] * 1e6 / 8)  # bytes, not Mbit
    floor = samples[("readiness_uplink_floor_bytes_per_second",
                     (("room", "lab"), ("site", "LAB-0001")))]
    assert floor > up  # the drill's slow uplink, with its floor beside it
    assert samples[("readiness_run_verdict", (("site", "LAB-0001"),
                                              ("verdict", "not_ready")))] == 1
    heights = {dict(k[1])["camera"]: v for k, v in samples.items()
               if k[0] == "readiness_camera_frame_height_pixels"}
    assert heights["cam-2"] == 720 and heights["cam-1"] == 1080
    # bounded cardinality: no run id, time or hash in any label
    for name, labels in samples:
        assert name.removesuffix("_info") in {n.removesuffix("_info") for n in METRIC_NAMES}
        for key, value in labels:
            assert key not in ("run", "run_id", "hash", "started_at"), (name, key)
            assert "2026-" not in value, (name, key, value)


def test_metrics_before_any_run_still_say_who_serves():
    samples = _samples(families(None, SiteFacts("S", "1.0")))
    assert ("readiness_build_info", (("python", samples and next(
        dict(k[1])["python"] for k in samples if k[0] == "readiness_build_info")),
        ("site", "S"), ("version", "1.0"))) in samples
    assert samples[("readiness_last_ready_timestamp_seconds", (("site", "S"),))] == 0


def test_page_state_colours_seats_by_worst_verdict():
    run = run_from_json(drill_doc("LAB-0001"))
    state = page_state(run, None, None, exam_start=None, next_run=None, signed=True,
                       running=False, live=[])
    red = {s["label"] for r in state["rooms"] for s in r["seats"] if s["status"] == "fail"}
    assert red == _failing_seats(run)
    assert state["verdict"]["value"] == "not_ready"
    assert any(f["requirement"] == "WAN-FLOOR" for f in state["fixes"])
    json.dumps(state)  # what the browser receives


@pytest.fixture()
def serving(tmp_path: Path):
    site = make_site(tmp_path, "SITE-A")
    store_drill(tmp_path, "SITE-A")
    settings = settings_from(site, store=tmp_path / "readiness.sqlite",
                             log_path=tmp_path / "evidence.jsonl", key_dir=tmp_path / "keys",
                             jobs=tmp_path / "schedule.sqlite")
    s = service.start(settings, ("127.0.0.1", 0))
    try:
        yield s, tmp_path
    finally:
        service.stop(s)


def _get(s, path: str, **kw):
    host, port = s.address
    return urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5, **kw)


def test_service_serves_page_metrics_and_health(serving):
    s, _ = serving
    assert _get(s, "/healthz").status == 200
    page = _get(s, "/").read().decode()
    assert "http://" not in page and "https://" not in page  # no asset from the internet
    text = _get(s, "/metrics").read()
    assert b'readiness_seat_success{room="lab",seat="A01",site="SITE-A"} 0.0' in text
    assert b"readiness_next_run_timestamp_seconds" in text
    assert b'readiness_run_signed{site="SITE-A"} 1.0' in text
    if shutil.which("promtool"):
        check = subprocess.run(["promtool", "check", "metrics"], input=text,
                               capture_output=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
    state = json.loads(_get(s, "/api/state").read())
    assert state["site"]["code"] == "SITE-A" and state["exam_start"]


def test_run_now_needs_its_own_signed_token(serving):
    s, _ = serving
    host, port = s.address
    # the old way (the agents' token as a Bearer header) and no credential at all
    for header in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {TOKEN}"}):
        req = urllib.request.Request(f"http://{host}:{port}/run", method="POST", headers=header)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=5)
        assert err.value.code == 401
        body = err.value.read().decode()
        assert TOKEN not in body and RUN_NOW_TOKEN not in body
        assert "serve.run_now_token" in body
    # what the page needs to sign (nothing secret)
    state = json.loads(_get(s, "/api/state").read())
    assert state["run_now"]["enabled"] is True
    assert state["run_now"]["audience"] == "readiness-serve/SITE-A/run-now"
    assert RUN_NOW_TOKEN not in json.dumps(state)


def test_a_finished_check_reaches_the_browser_as_an_event(serving):
    s, _ = serving
    run = run_from_json(drill_doc("SITE-A"))
    failing = next(r for r in run.results if r.status is Status.FAIL and "seat " in r.target)
    lines: list[str] = []
    got = threading.Event()

    def listen():
        with _get(s, "/events") as stream:
            for raw in stream:
                lines.append(raw.decode())
                if raw.startswith(b"data:"):
                    got.set()
                    return

    threading.Thread(target=listen, daemon=True).start()
    deadline = threading.Event()
    for _ in range(50):  # wait until the browser's stream is subscribed
        if s.state._subscribers:
            break
        deadline.wait(0.05)
    s.state.watch("check", failing)
    assert got.wait(5)
    event = json.loads(lines[-1].removeprefix("data: "))
    assert event["status"] == "fail" and event["seat"] and event["requirement"]


def test_tampered_store_is_not_served(serving):
    import sqlite3

    s, folder = serving
    with sqlite3.connect(folder / "readiness.sqlite") as db:
        db.execute("UPDATE results SET status='pass' WHERE status='fail'")
    s.state.refresh()
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(s, "/healthz")
    assert err.value.code == 503
    assert b"readiness_seat_success" not in _get(s, "/metrics").read()
