"""readiness serve: the metrics of a recorded drill, the page's state, and the HTTP
service on loopback (its real schedule, store and evidence log)."""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from serve_site import RUN_NOW_TOKEN, TOKEN, drill_doc, make_site, store_drill

from readiness.config.load import load_site
from readiness.results import SEVERITY, Status
from readiness.schedule.runner import settings_from
from readiness.serve import service
from readiness.serve.importing import run_from_json
from readiness.serve.metrics import METRIC_NAMES, SiteFacts, families
from readiness.serve.page_model import check_event, page_state
from readiness.subject import Kind, Subject

LAB = (("room", "lab"), ("site", "LAB-0001"))


def _samples(fams):
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in fams for s in f.samples}


def _failing_seats(run):
    return {r.subject.name for r in run.results
            if r.subject.kind is Kind.SEAT and r.status in (Status.FAIL, Status.ERROR)}


def test_metrics_of_the_drill_name_its_failing_seats_and_figures():
    run = run_from_json(drill_doc("LAB-0001"))
    samples = _samples(families(run, SiteFacts("LAB-0001", "9.9")))
    failing = {dict(k[1])["name"] for k, v in samples.items()
               if k[0] == "readiness_seat_success" and v == 0}
    assert failing == _failing_seats(run) and len(failing) == 39
    room = (("kind", "room"), ("name", "lab"), *LAB)
    assert samples[("readiness_seats_answering", room)] == 37
    assert samples[("readiness_seats_required", room)] == 40
    assert samples[("readiness_seats_configured", room)] == 40
    uplink = (("kind", "uplink"), ("name", "uplink"), *LAB)
    up = samples[("readiness_uplink_bytes_per_second", (("direction", "download"), *uplink))]
    wan = next(r for r in run.results if r.requirement == "WAN-FLOOR")
    assert up == pytest.approx(wan.measured["download_mbps"] * 1e6 / 8)  # bytes, not Mbit
    floor = samples[("readiness_uplink_floor_bytes_per_second", uplink)]
    assert floor > up  # the drill's slow uplink, with its floor beside it
    assert samples[("readiness_run_verdict", (("site", "LAB-0001"),
                                              ("verdict", "not_ready")))] == 1
    heights = {dict(k[1])["name"]: v for k, v in samples.items()
               if k[0] == "readiness_camera_frame_height_pixels"}
    assert heights["cam-2"] == 720 and heights["cam-1"] == 1080
    ups = samples[("readiness_ups_runtime_remaining_seconds",
                   (("kind", "ups"), ("name", "Lab UPS"), *LAB))]
    assert ups == 240 * 60
    # the slowest partner test of A07 in each direction, in bytes per second
    a07 = [r.measured["throughput_mbps"] for r in run.results
           if r.subject.name == "A07" and r.aspect == "pair_download"]
    assert samples[("readiness_lan_throughput_bytes_per_second", (
        ("direction", "download"), ("kind", "seat"), ("name", "A07"),
        ("peer", "partner_seat"), *LAB))] == pytest.approx(min(a07) * 1e6 / 8)
    # bounded cardinality: no run id, time or hash in any label
    for name, labels in samples:
        assert name.removesuffix("_info") in {n.removesuffix("_info") for n in METRIC_NAMES}
        for key, value in labels:
            assert key not in ("run", "run_id", "hash", "started_at"), (name, key)
            assert "2026-" not in value, (name, key, value)


def test_first_fix_is_the_fix_lists_first_line_in_both_languages():
    """What a provincial alert quotes (readiness.rules.yml's first_fix annotation)."""
    from readiness.fixlist import fix_list

    run = run_from_json(drill_doc("LAB-0001"))
    first = fix_list(run)[0]
    infos = [s for f in families(run, SiteFacts("LAB-0001", "1.0")) for s in f.samples
             if s.name == "readiness_first_fix_info"]
    assert len(infos) == 1 and infos[0].value == 1
    labels = infos[0].labels
    assert labels["site"] == "LAB-0001" and labels["requirement"] == first.requirements[0]
    assert labels["status"] == first.status.value
    assert labels["en"].startswith(first.where.en) and first.what.en[:40] in labels["en"]
    assert labels["zh"].startswith(first.where.zh) and len(labels["zh"]) <= 240


def _addresses(value: str) -> list[str]:
    found = re.findall(r"\d{1,3}(?:\.\d{1,3}){3}", value)
    for token in re.split(r"[\s,()\[\]/=]+", value):
        try:
            ipaddress.ip_address(token)
        except ValueError:
            continue
        found.append(token)
    return found


def _check_labels(samples, run):
    """No address, no sentence, no empty label; a seat is named as the site file names it."""
    words = {r.label(lang) for r in run.results for lang in ("en", "zh")}
    for name, labels in samples:
        for key, value in labels:
            if name == "readiness_first_fix_info" and key in ("en", "zh"):
                continue  # the one series that carries words: test_first_fix_is_...
            assert value, (name, key)  # room="" (or any empty label) says nothing
            assert not _addresses(value), (name, key, value)
            assert len(value.split()) <= 2 and "·" not in value, (name, key, value)
            assert value not in words or key == "name", (name, key, value)


def test_metric_labels_name_subjects_without_addresses_or_sentences(tmp_path):
    run = run_from_json(drill_doc("LAB-0001"))
    samples = _samples(families(run, SiteFacts("LAB-0001", "9.9")))
    _check_labels(samples, run)
    site = load_site(make_site(tmp_path, "LAB-0001"))
    seats = {(room, s.label) for room, listed in site.seats.items() for s in listed}
    about_seats = [dict(labels) for name, labels in samples
                   if dict(labels).get("kind") == "seat"]
    assert about_seats and {(d["room"], d["name"]) for d in about_seats} == seats
    # the site-wide checks (skipped in the drill) would carry no room, never room=""
    site_wide = next(r for r in run.results if r.subject.kind is Kind.SITE)
    site_wide.status = Status.FAIL
    samples = _samples(families(run, SiteFacts("LAB-0001", "9.9")))
    _check_labels(samples, run)
    assert samples[("readiness_check_success", (
        ("kind", "site"), ("name", "LAB-0001"), ("requirement", site_wide.requirement),
        ("site", "LAB-0001")))] == 0


def test_a_readdressed_seat_stays_the_same_series():
    before = run_from_json(drill_doc("LAB-0001"))
    doc = drill_doc("LAB-0001")
    moved = 0
    for item in doc["results"]:
        if item["subject"]["name"] == "A07":
            item["subject"]["address"] = "2001:db8::107"
            item["target"] = "seat A07 (2001:db8::107)"
            moved += 1
    after = run_from_json(doc)
    assert moved >= 5 and any(r.label("en") == "seat A07 (2001:db8::107)"
                              for r in after.results)
    samples = _samples(families(after, SiteFacts("LAB-0001", "9.9")))
    assert samples == _samples(families(before, SiteFacts("LAB-0001", "9.9")))
    _check_labels(samples, after)


def test_a_result_stored_without_a_subject_names_no_series():
    run = run_from_json(drill_doc("LAB-0001"))
    old = next(r for r in run.results if r.subject.kind is Kind.SEAT)
    old.subject = Subject(Kind.UNKNOWN, old.label("en"))  # as a store before subjects reads
    samples = _samples(families(run, SiteFacts("LAB-0001", "9.9")))
    _check_labels(samples, run)
    assert samples[("readiness_run_checks", (("site", "LAB-0001"),
                                             ("status", old.status.value)))] == sum(
        r.status is old.status for r in run.results)


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


def test_page_state_seats_are_the_results_about_each_seat():
    """Each seat's colour is the worst of the results whose subject is that seat; the
    router, the uplink and the room are listed once under the seats, not on them."""
    doc = drill_doc("LAB-0001")
    run = run_from_json(doc)
    state = page_state(run, None, None, exam_start=None, next_run=None, signed=True,
                       running=False, live=[])
    sev = {s.value: n for s, n in SEVERITY.items()}
    [room] = state["rooms"]
    assert room["id"] == "lab" and len(room["seats"]) == 40
    for seat in room["seats"]:
        mine = [i["status"] for i in doc["results"] if i["subject"]["kind"] == "seat"
                and (i["subject"]["name"], i["subject"]["room"]) == (seat["label"], seat["room"])]
        assert seat["status"] == max(mine, key=sev.__getitem__), seat["label"]
    silent = {s["label"] for s in room["seats"] if s["answers"] is False}
    assert silent == {"A13", "A21", "A32"}
    assert next(s for s in room["seats"] if s["label"] == "A09")["verified"] == "partly"
    causes = {(c["kind"], c["name"]): c["status"] for c in room["causes"]}
    assert causes[("router", "router")] == "fail" and causes[("uplink", "uplink")] == "fail"
    assert all(kind != "seat" for kind, _ in causes)


def test_a_check_event_names_its_seat_by_subject():
    run = run_from_json(drill_doc("LAB-0001"))
    seat = next(r for r in run.results if r.subject.kind is Kind.SEAT
                and r.aspect == "pair_download" and "throughput_mbps" in r.measured)
    event = check_event(seat)
    assert (event["seat"], event["room"]) == (seat.subject.name, "lab")
    assert event["label"]["zh"].startswith(f"考位 {seat.subject.name}")
    assert event["figure"]["en"].endswith("Mbit/s")
    router = next(r for r in run.results if r.subject.kind is Kind.ROUTER)
    assert check_event(router)["seat"] is None and check_event(router)["room"] is None


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
    assert (b'readiness_seat_success{kind="seat",name="A01",room="lab",site="SITE-A"} 0.0'
            in text)
    # every name the service exports is in the list deploy/ is generated from, and back
    exported = {sample.name for family in text_string_to_metric_families(text.decode())
                for sample in family.samples}
    assert exported == set(METRIC_NAMES)
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
    failing = next(r for r in run.results if r.status is Status.FAIL
                   and r.subject.kind is Kind.SEAT)
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


def test_exam_start_and_next_run_follow_a_site_file_edit_without_restart(serving):
    """The schedule re-plans when the site file changes; /metrics and the page must show
    the new exam too (state.py used to keep the site it was started with)."""
    import yaml

    s, folder = serving

    def exported(name: str) -> float | None:
        text = _get(s, "/metrics").read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name:
                    return sample.value
        return None

    before_exam = exported("readiness_exam_start_timestamp_seconds")
    before_run = exported("readiness_next_run_timestamp_seconds")
    path = folder / "site.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    moved = datetime.fromisoformat(data["exam_sessions"][0]["start"]) + timedelta(days=30)
    data["exam_sessions"][0]["start"] = moved.isoformat()
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    s.service.reload()  # what the service's file watch calls when the file changes
    after_exam = exported("readiness_exam_start_timestamp_seconds")
    assert before_exam is not None and after_exam == before_exam + 30 * 86400
    assert after_exam == moved.replace(tzinfo=UTC).timestamp()
    # the countdown starts again from T-7d of the moved exam
    assert exported("readiness_next_run_timestamp_seconds") > before_run + 20 * 86400
    state = json.loads(_get(s, "/api/state").read())
    assert datetime.fromisoformat(state["exam_start"]) == moved.replace(tzinfo=UTC)
