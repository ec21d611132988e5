"""The results store: runs come back as they went in (minus secrets), and the trend
series read the right measurements."""

from __future__ import annotations

import io
import re
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from readiness.commands import evidence as commands
from readiness.evidence import recording
from readiness.output.json_writer import to_document
from readiness.redact import Secret
from readiness.results import CheckResult, Citation, Finding, RunRecord, Status, Text, Verdict
from readiness.store import SCHEMA_VERSION, ResultsStore, StoredRun
from readiness.subject import Kind, Subject

SHANGHAI = timezone(timedelta(hours=8))
T0 = datetime(2024, 5, 20, 9, 0, tzinfo=SHANGHAI)
SECRET = Secret("s3cret-Token", "${SITE_TOKEN}")


def result(requirement: str, target: str | Subject, status: Status, measured: dict,
           message: str = "ok", started: datetime = T0, aspect: str | None = None
           ) -> CheckResult:
    subject = target if isinstance(target, Subject) else Subject(Kind.UNKNOWN, target)
    return CheckResult(
        requirement=requirement, title=Text(requirement, f"要求 {requirement}"),
        subject=subject, aspect=aspect,
        vantage="coordinator", status=status, message=Text(message, f"中文 {message}"),
        measured=measured, threshold={"floor_mbps": 100},
        citation=Citation("002_778480b43cbac38e.txt", "第十一条(二)", "至少 100M"),
        started_at=started, duration_s=2.5, check_id=f"{requirement}/{subject.name}",
        evidence=["snap.jpg"] if requirement == "CAM-RES" else [],
        findings=[] if status is Status.PASS else [Finding(
            "camera.low_resolution", Text(message, f"中文 {message}"),
            Text("use the main stream", "请使用主码流"),
            Subject(Kind.CAMERA, subject.name, "room 1"))])


def make_run(started: datetime, uplink: list[float], seats: dict[str, float],
             cams: list[Status], working: dict[str, int],
             verdict: Verdict = Verdict.READY) -> RunRecord:
    results = [result("WAN-FLOOR", Subject(Kind.UPLINK, "uplink", f"room {i + 1}"),
                      Status.PASS, {"throughput_mbps": v}, started=started)
               for i, v in enumerate(uplink)]
    results += [result("LAN-SPEED", seat_subject(seat), Status.PASS, {"throughput_mbps": v},
                       started=started) for seat, v in seats.items()]
    results += [result("CAM-RES", Subject(Kind.CAMERA, f"cam-{i}", "room 1",
                                          f"198.51.100.{200 + i}"),
                       s, {"width": 1920}, started=started) for i, s in enumerate(cams)]
    results += [result("LAN-SEATS", room_subject(name), Status.PASS, {"working_seats": n},
                       started=started) for name, n in working.items()]
    return RunRecord(
        site_name="第一考点", site_code="SITE01", profile_id="cbec",
        certificate=Text("Cross-border e-commerce", "跨境电子商务多平台运营"),
        started_at=started, finished_at=started + timedelta(minutes=2), verdict=verdict,
        results=results, required={"WAN-FLOOR", "LAN-SPEED", "CAM-RES"})


def seat_subject(name: str, address: str | None = "198.51.100.7") -> Subject:
    return Subject(Kind.SEAT, name, "room 1", address)


def room_subject(name: str) -> Subject:
    return Subject(Kind.ROOM, name, name)


@pytest.fixture
def store(tmp_path: Path) -> ResultsStore:
    return ResultsStore(tmp_path / "runs" / "readiness.sqlite")


def test_a_run_comes_back_as_it_was_saved(store: ResultsStore) -> None:
    run = make_run(T0, [212.5], {"A01": 941.0, "A02": 94.1},
                   [Status.PASS, Status.FAIL], {"room 1": 40}, Verdict.NOT_READY)
    run_id = store.save_run(run, trigger="schedule")
    loaded = store.load_run(run_id)
    assert isinstance(loaded, StoredRun) and isinstance(loaded, RunRecord)
    assert loaded.run_id == run_id and loaded.trigger == "schedule"
    assert (loaded.site_name, loaded.site_code, loaded.profile_id) == (
        "第一考点", "SITE01", "cbec")
    assert loaded.certificate == run.certificate and loaded.verdict == Verdict.NOT_READY
    assert loaded.started_at == run.started_at and loaded.started_at.tzinfo is not None
    assert loaded.required == run.required
    assert loaded.results == run.results  # every field, order kept
    # a stored run feeds the same writers as a fresh one
    assert to_document(loaded, "zh")["results"][0]["message"] == "中文 ok"
    assert store.load_run(run_id + 99) is None


def test_list_latest_and_since(store: ResultsStore) -> None:
    ids = [store.save_run(make_run(T0 + timedelta(days=d), [100], {}, [], {}),
                          trigger="manual" if d else "schedule") for d in range(3)]
    runs = store.list_runs()
    assert [r.run_id for r in runs] == ids  # oldest first
    assert runs[0].trigger == "schedule" and runs[0].counts == {Status.PASS: 1}
    assert [r.run_id for r in store.list_runs(since=T0 + timedelta(days=1))] == ids[1:]
    assert store.list_runs(site_code="OTHER") == []
    latest = store.latest_run()
    assert latest is not None and latest.run_id == ids[-1]
    # a run saved later but started earlier is not the latest
    store.save_run(make_run(T0 - timedelta(days=5), [1], {}, [], {}))
    latest = store.latest_run()
    assert latest is not None and latest.run_id == ids[-1]


def test_trends(store: ResultsStore) -> None:
    a = store.save_run(make_run(T0, [212.5, 180.0], {"A01": 941.0, "A02": 94.1},
                                [Status.PASS, Status.PASS, Status.WARN],
                                {"room 1": 40, "room 2": 38}))
    b = store.save_run(make_run(T0 + timedelta(days=1), [95.0], {"A01": 930.0},
                                [Status.FAIL, Status.PASS], {"room 1": 39}))
    c = store.save_run(make_run(T0 + timedelta(days=2), [], {}, [], {}))

    uplink = store.trend("uplink_mbps")
    assert [(p.run_id, p.value) for p in uplink] == [(a, 180.0), (b, 95.0), (c, None)]
    slowest = store.trend("slowest_seat_mbps")
    assert [p.value for p in slowest] == [94.1, 930.0, None]
    assert slowest[0].parts == {seat_subject("A01", None): 941.0,
                                seat_subject("A02", None): 94.1}
    assert [p.value for p in store.trend("cameras_passing")] == [2, 1, None]
    seats = store.trend("seats_answering")
    assert [p.value for p in seats] == [78, 39, None]
    assert seats[0].parts == {room_subject("room 1"): 40, room_subject("room 2"): 38}
    assert [p.run_id for p in store.trend("uplink_mbps", since=T0 + timedelta(hours=1))] == [b, c]
    with pytest.raises(KeyError, match="known"):
        store.trend("nonsense")


def test_trend_parts_follow_the_subject_not_its_label(store: ResultsStore) -> None:
    def seat_run(started: datetime, address: str, download: float, upload: float):
        run = make_run(started, [], {}, [], {})
        run.results = [
            result("LAN-SPEED", seat_subject("A07", address), Status.PASS,
                   {"throughput_mbps": download}, started=started, aspect="pair_download"),
            result("LAN-SPEED", seat_subject("A07", address), Status.PASS,
                   {"throughput_mbps": upload}, started=started, aspect="pair_upload"),
            result("LAN-SPEED", seat_subject("A08", "198.51.100.8"), Status.PASS,
                   {"throughput_mbps": 900.0}, started=started)]
        return run

    store.save_run(seat_run(T0, "198.51.100.107", 800.0, 700.0))
    # the seat moved to another address: its label changed, its part did not
    store.save_run(seat_run(T0 + timedelta(days=1), "203.0.113.107", 600.0, 650.0))
    first, second = store.trend("slowest_seat_mbps")
    a07, a08 = seat_subject("A07", None), seat_subject("A08", None)
    assert first.parts == {a07: 700.0, a08: 900.0}  # its two directions: the slower
    assert second.parts == {a07: 600.0, a08: 900.0}


def test_a_row_stored_before_subjects_is_its_old_label(store: ResultsStore) -> None:
    import sqlite3

    store.save_run(make_run(T0, [], {"A01": 500.0, "A02": 400.0}, [], {}))
    with sqlite3.connect(store.path) as db:  # as a store written before subjects holds it
        db.execute("UPDATE results SET subject = NULL, target = 'seat A02 (198.51.100.2)'"
                   " WHERE check_id = 'LAN-SPEED/A02'")
    (point,) = store.trend("slowest_seat_mbps")
    assert point.parts == {seat_subject("A01", None): 500.0,
                           Subject(Kind.UNKNOWN, "seat A02 (198.51.100.2)"): 400.0}


def test_a_measurement_that_is_not_a_number_is_left_out(store: ResultsStore) -> None:
    run = make_run(T0, [], {}, [], {})
    run.results = [result("LAN-SPEED", "A01", Status.ERROR, {"throughput_mbps": None}),
                   result("LAN-SPEED", "A02", Status.ERROR, {"throughput_mbps": True}),
                   result("LAN-SPEED", "A03", Status.PASS, {"throughput_mbps": 500})]
    store.save_run(run)
    assert [p.value for p in store.trend("slowest_seat_mbps")] == [500.0]


def test_no_secret_is_stored(store: ResultsStore) -> None:
    value = SECRET.reveal()
    run = make_run(T0, [100], {}, [], {})
    run.results.append(result("CAM-RES", f"rtsp://admin:{value}@cam", Status.ERROR,
                              {"url": f"rtsp://admin:{value}@cam", "why": [value]},
                              message=f"auth {value} failed"))
    run_id = store.save_run(run, secrets=[SECRET])
    raw = store.path.read_bytes()
    assert value.encode() not in raw
    loaded = store.load_run(run_id)
    assert loaded is not None
    cam = loaded.results[-1]
    assert cam.target == "rtsp://admin:***@cam" and cam.message.en == "auth *** failed"
    assert cam.measured == {"url": "rtsp://admin:***@cam", "why": ["***"]}


def test_reopening_keeps_the_runs(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    run_id = ResultsStore(path).save_run(make_run(T0, [10], {}, [], {}))
    loaded = ResultsStore(path).load_run(run_id)
    assert loaded is not None and loaded.results[0].measured == {"throughput_mbps": 10}


def test_a_store_of_the_schema_before_findings_is_brought_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    run = make_run(T0, [10], {}, [Status.FAIL], {})
    old_id = ResultsStore(path).save_run(run)
    with sqlite3.connect(path) as db:  # as a store of schema 2 was: no findings column
        db.execute("ALTER TABLE results DROP COLUMN findings")
        db.execute("PRAGMA user_version = 2")
    store = ResultsStore(path)
    old = store.load_run(old_id)
    assert old is not None and [r.findings for r in old.results] == [[], []]
    new = store.load_run(store.save_run(run))
    assert new is not None and new.results == run.results and new.results[1].findings
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4


def test_history_command(store: ResultsStore) -> None:
    store.save_run(make_run(T0, [212.5], {"A01": 941.0}, [Status.PASS], {"room 1": 40}),
                   trigger="schedule")
    out = io.StringIO()
    console = Console(file=out, width=220, highlight=False, color_system=None)
    assert commands.history(console, store.path, lang="en") == 0
    text = out.getvalue()
    assert "schedule" in text and "212 Mbit/s" in text and "941 Mbit/s" in text
    out.truncate(0)
    assert commands.history(console, store.path, since=datetime.now(UTC), lang="zh") == 0
    assert "没有检查记录" in out.getvalue()
    assert commands.history(console, store.path.with_name("none.sqlite")) == 2


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_history_fits_80_columns_in_the_sites_time_and_names_each_trigger(
        store: ResultsStore, lang: str) -> None:
    for n, trigger in enumerate(("schedule", "run_now", "manual", "drill")):
        store.save_run(make_run(T0 + timedelta(hours=n), [212.5], {"A01": 941.0},
                                [Status.PASS, Status.FAIL], {"room 1": 40}), trigger=trigger)
    out = io.StringIO()
    console = Console(file=out, width=80, highlight=False, color_system=None)
    assert commands.history(console, store.path, lang=lang, tz=ZoneInfo("Asia/Shanghai")) == 0
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines)
    text = out.getvalue()
    # nothing squeezed to an ellipsis or left empty: each run's verdict and signed state
    assert "…" not in text
    words = {"en": ("schedule", "run now", "check", "drill"),
             "zh": ("计划", "立即检查", "手动检查", "演练")}[lang]
    rows = [line for line in lines if re.match(r"\s*\d+\s+20\d\d-", line)]
    assert len(rows) == 4
    verdicts = commands.VERDICT_WORDS[lang].values()
    for row, word in zip(rows, words, strict=True):
        assert word in row and any(v in row for v in verdicts), row
    # the site's time with its offset
    assert "+08:00" in text and f"{T0:%Y-%m-%d %H:%M}" in text
    assert "212 Mbit/s" in text and "941 Mbit/s" in text


def test_a_store_of_schema_3_learns_where_runs_were_measured_from(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    run = make_run(T0, [10], {}, [Status.PASS], {})
    old_id = ResultsStore(path).save_run(run)
    with sqlite3.connect(path) as db:  # as a store of schema 3 was: no measured_from
        db.execute("ALTER TABLE runs DROP COLUMN measured_from")
        db.execute("PRAGMA user_version = 3")
    store = ResultsStore(path)
    old = store.load_run(old_id)
    assert old is not None and old.measured_from == ""
    run.measured_from = "proctor-a09"
    new = store.load_run(store.save_run(run))
    assert new is not None and new.measured_from == "proctor-a09"


def test_the_measuring_machine_is_signed_and_an_edit_of_it_is_found(tmp_path: Path) -> None:
    from readiness.evidence.keys import init_keys
    from readiness.evidence.run_trust import run_trust

    init_keys(tmp_path / "keys")
    run = make_run(T0, [150.0], {"A01": 900.0}, [Status.PASS], {"room 1": 40})
    run.measured_from = "proctor-a09"
    done = recording.record_run(run, [], trigger="manual",
                                log_path=tmp_path / "evidence.jsonl", key_dir=tmp_path / "keys",
                                store_path=tmp_path / "readiness.sqlite")
    store = ResultsStore(tmp_path / "readiness.sqlite")

    def trust() -> str:
        stored = store.load_run(done.run_id or 0)
        assert stored is not None
        return run_trust(stored, log=tmp_path / "evidence.jsonl", key_dir=tmp_path / "keys",
                         store=store.path).status

    assert trust() == "verified"
    with sqlite3.connect(store.path) as db:  # "measured from the evaluation server"
        db.execute("UPDATE runs SET measured_from = 'eval-server'")
    assert trust() == "mismatch"


def test_record_run_signs_then_stores_with_a_link_to_the_proof(tmp_path: Path) -> None:
    from readiness.evidence.chain import verify
    from readiness.evidence.keys import init_keys, load_public

    init_keys(tmp_path / "keys")
    run = make_run(T0, [150.0], {"A01": 900.0}, [Status.PASS], {"room 1": 40})
    done = recording.record_run(run, [SECRET], trigger="schedule",
                               log_path=tmp_path / "evidence.jsonl", key_dir=tmp_path / "keys",
                               store_path=tmp_path / "readiness.sqlite")
    report = verify(tmp_path / "evidence.jsonl", load_public(tmp_path / "keys"))
    assert report.ok and report.count == 1 + len(run.results) and report.head == done.head
    stored = ResultsStore(tmp_path / "readiness.sqlite").load_run(done.run_id or 0)
    assert stored is not None and stored.trigger == "schedule"
    assert stored.evidence_ref == done.evidence_ref is not None
