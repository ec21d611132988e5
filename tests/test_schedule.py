"""The countdown schedule: the plan's arithmetic with a fixed clock, the site file's
`schedule:` section, crash recovery, and `readiness schedule` as a real process that
is killed with SIGKILL mid-run and restarted, on a virtual clock that skips the time
between runs: every planned run happens exactly once, at its time, in order."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from readiness.commands.schedule_show import render_schedule
from readiness.config.errors import ConfigError
from readiness.config.load import load_site
from readiness.config.profile import available_profiles
from readiness.config.site import Schedule
from readiness.evidence.chain import verify
from readiness.evidence.keys import init_keys, load_public
from readiness.evidence.record import run_key
from readiness.evidence.recording import record_run
from readiness.results import CheckResult, RunRecord, Status, Text, Verdict
from readiness.schedule.countdown import countdown_plan, countdown_times
from readiness.schedule.ledger import Ledger
from readiness.schedule.runner import (
    ScheduleError,
    Service,
    Settings,
    instance_lock,
    prepare,
    recover,
    settings_from,
)
from readiness.store import ResultsStore
from readiness.subject import Kind, Subject

REPO = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
SECRET = "loopback-community-sched-77"


def at(tz: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=tz)  # type: ignore[misc]


def window(start: datetime, minutes: int = 120) -> tuple[datetime, datetime]:
    return start, start + timedelta(minutes=minutes)


# ------------------------------------------------------------------ countdown arithmetic


def test_default_countdown_in_shanghai() -> None:
    exam = at(SHANGHAI, 2026, 12, 5, 9, 0)
    plan = countdown_plan([window(exam)], SHANGHAI, at(SHANGHAI, 2026, 11, 20, 0, 0))
    local = [(p.at.strftime("%m-%d %H:%M"), p.phase) for p in plan]
    daily = [(f"{d} 20:00", "daily") for d in
             ("11-28", "11-29", "11-30", "12-01", "12-02", "12-03")]
    night = [(f"12-04 {h:02d}:00", "night") for h in range(9, 24, 2)] + \
            [(f"12-05 {h:02d}:00", "night") for h in (1, 3, 5)]
    final = [(f"12-05 {t}", "final") for t in ("06:00", "06:30", "07:00", "07:30", "08:00")]
    assert local == daily + night + final + [("12-05 08:30", "last")]
    assert all(p.at.tzinfo is not None and p.at.utcoffset() == timedelta(hours=8)
               for p in plan)
    assert plan[-1].before == timedelta(minutes=30)
    assert plan[0].job_id("GX-1") == "GX-1-2026-11-28T12:00:00+00:00"


def test_only_the_future_and_never_now() -> None:
    exam = at(SHANGHAI, 2026, 12, 5, 9, 0)
    now = at(SHANGHAI, 2026, 12, 5, 7, 0)  # exactly on a tick: it is not "to come"
    times = countdown_times([window(exam)], SHANGHAI, now)
    assert [t.strftime("%H:%M") for t in times] == ["07:30", "08:00", "08:30"]
    assert countdown_times([window(exam)], SHANGHAI, exam) == []
    with pytest.raises(ValueError):
        countdown_times([window(exam)], SHANGHAI, datetime(2026, 12, 5, 7, 0))


def test_rules_override_and_switch_phases_off() -> None:
    exam = at(SHANGHAI, 2026, 12, 5, 9, 0)
    rules = Schedule.model_validate({"daily_from": None, "night_from": "6h",
                                     "night_every": "90m", "final_from": "1h",
                                     "final_every": "20m", "last": "10m"})
    times = countdown_times([window(exam)], SHANGHAI, at(SHANGHAI, 2026, 12, 1, 0, 0), rules)
    assert [t.strftime("%H:%M") for t in times] == [
        "03:00", "04:30", "06:00", "07:30", "08:00", "08:20", "08:40", "08:50"]
    # seconds, for a compressed countdown (the process test uses one)
    fast = Schedule.model_validate({"daily_from": None, "night_from": None,
                                    "final_from": "60s", "final_every": "20s", "last": "10s"})
    times = countdown_times([window(exam)], SHANGHAI, at(SHANGHAI, 2026, 12, 5, 8, 0), fast)
    assert [t.strftime("%H:%M:%S") for t in times] == [
        "08:59:00", "08:59:20", "08:59:40", "08:59:50"]


def test_naive_session_times_are_site_local() -> None:
    naive = datetime(2026, 12, 5, 9, 0)
    aware = at(SHANGHAI, 2026, 12, 5, 9, 0)
    now = at(SHANGHAI, 2026, 11, 1, 0, 0)
    assert countdown_times([window(naive)], SHANGHAI, now) == \
        countdown_times([window(aware)], SHANGHAI, now)


def test_two_sessions_one_run_per_instant_none_during_an_exam() -> None:
    morning = at(SHANGHAI, 2026, 12, 5, 9, 0)
    afternoon = at(SHANGHAI, 2026, 12, 5, 14, 0)
    plan = countdown_plan([window(morning), window(afternoon)], SHANGHAI,
                          at(SHANGHAI, 2026, 11, 1, 0, 0))
    times = [p.at for p in plan]
    assert times == sorted(times) and len(set(times)) == len(times)
    for start, end in (window(morning), window(afternoon)):
        assert not [t for t in times if start <= t < end]
    hhmm = {t.strftime("%m-%d %H:%M") for t in times}
    # both sessions want 20:00 on the same six evenings: one run each
    assert [p.at.day for p in plan if p.phase == "daily"] == [28, 29, 30, 1, 2, 3]
    assert {"12-05 08:30", "12-05 11:00", "12-05 13:30"} <= hhmm
    assert "12-05 09:00" not in hhmm and "12-05 10:00" not in hhmm
    last = [p for p in plan if p.phase == "last"]
    assert [(p.session, p.at.strftime("%H:%M")) for p in last] == [(0, "08:30"), (1, "13:30")]


def test_dst_zone_keeps_wall_clock_daily_and_real_intervals() -> None:
    # Europe/Berlin moves from CET (+1) to CEST (+2) at 02:00 on 2027-03-28
    exam = at(BERLIN, 2027, 3, 28, 9, 0)
    plan = countdown_plan([window(exam)], BERLIN, at(BERLIN, 2027, 3, 1, 0, 0))
    daily = [p.at for p in plan if p.phase == "daily"]
    assert [t.strftime("%d %H:%M") for t in daily] == [f"{d} 20:00" for d in range(21, 27)]
    night = [p.at for p in plan if p.phase == "night"]
    assert len(night) == 11
    # in UTC: Python subtracts two times of one zone by their wall clocks
    utc = [t.astimezone(UTC) for t in night]
    assert {b - a for a, b in zip(utc, utc[1:], strict=False)} == {timedelta(hours=2)}
    # the local clock skips an hour: 00:00 CET is followed by 03:00 CEST
    assert [t.strftime("%H:%M%z") for t in night[-3:]] == ["00:00+0100", "03:00+0200",
                                                           "05:00+0200"]
    assert plan[-1].at == at(BERLIN, 2027, 3, 28, 8, 30)

    # a daily time that does not exist that night runs at the real instant after it
    rules = Schedule.model_validate({"daily_at": "02:30", "night_from": None,
                                     "final_from": None, "last": None})
    times = countdown_times([window(at(BERLIN, 2027, 3, 29, 9, 0))], BERLIN,
                            at(BERLIN, 2027, 3, 1, 0, 0), rules)
    on_the_day = [t for t in times if t.day == 28]
    assert [t.isoformat() for t in on_the_day] == ["2027-03-28T03:30:00+02:00"]


# ------------------------------------------------------------------ the site file's section


LOOPBACK_SITE = """\
site: {{name: Loopback school, code: {code}}}
profile: cbec
timezone: Asia/Shanghai
secrets_file: secrets.yaml
rooms:
  - id: lo
    subnet: 127.0.0.0/24
    router:
      address: 127.0.0.1
      snmp: {{version: "2c", community: "secret:community"}}
    exam_servers:
      primary: {{address: 127.0.0.10}}
    proctor: {{address: {proctor}}}
    seats:
      A01-A40: 127.0.0.101-140
"""


def write_site(folder: Path, extra: str = "", *, code: str = "LO-1",
               proctor: str = "127.0.0.2", secrets: str = "") -> Path:
    site = folder / "site.yaml"
    site.write_text(LOOPBACK_SITE.format(code=code, proctor=proctor) + extra)
    secrets_file = folder / "secrets.yaml"
    secrets_file.write_text(f"community: {SECRET}\n" + secrets)
    secrets_file.chmod(0o600)
    return site


def issues(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_site(path, set(available_profiles()))
    return [str(i) for i in err.value.issues]


def test_schedule_section_mistakes_are_named_with_their_line(tmp_path: Path) -> None:
    got = issues(write_site(tmp_path, textwrap.dedent("""\
        schedule:
          daily_at: 20:00
          final_every: 30
          nightly_every: 2h
        """)))
    text = "\n".join(got)
    assert "site.yaml:17 schedule.daily_at: write the time in quotes" in text
    assert "site.yaml:18 schedule.final_every: 30 is not a duration with its unit" in text
    assert "site.yaml:19 schedule.nightly_every: unknown key" in text

    got = issues(write_site(tmp_path, "schedule: {night_from: 3h, final_from: 3h}\n"))
    assert len(got) == 1 and "night_from (3:00:00) must be longer before the exam than " \
        "final_from" in got[0]


def test_schedule_section_is_read(tmp_path: Path) -> None:
    site = load_site(write_site(tmp_path, textwrap.dedent("""\
        exam_sessions:
          - {name: 中级, start: 2026-12-05T09:00:00, duration_min: 120}
        schedule:
          daily_from: null
          night_from: 12h
          night_every: 1h30m
          only: [LAN-SEATS]
          misfire_grace: 5m
        """)), set(available_profiles()))
    rules = site.model.schedule
    assert rules.daily_from is None and rules.night_every == timedelta(minutes=90)
    assert rules.final_every == timedelta(minutes=30) and rules.only == ["LAN-SEATS"]
    times = countdown_times(site.session_windows(), site.tz, at(SHANGHAI, 2026, 12, 1, 0, 0),
                            rules)
    assert times[0] == at(SHANGHAI, 2026, 12, 4, 21, 0)


def test_show_lists_the_runs_in_local_time(tmp_path: Path) -> None:
    site = load_site(write_site(tmp_path, textwrap.dedent("""\
        exam_sessions:
          - {name: 跨境电商 中级, start: 2026-12-05T09:00:00, duration_min: 120}
        """)), set(available_profiles()))
    console = Console(record=True, width=120)
    plan = render_schedule(console, site, at(UTC, 2026, 12, 4, 20, 0), "en", limit=3)
    out = console.export_text()
    assert len(plan) == 7
    assert "2026-12-05 Sat 04:00" not in out  # 20:00 UTC is 04:00 local: not a run
    assert "2026-12-05 Sat 05:00" in out and "T-4h" in out and "1h" in out
    assert "跨境电商 中级" in out and "... and 4 more" in out
    console = Console(record=True, width=120)
    render_schedule(console, site, at(UTC, 2026, 12, 4, 20, 0), "zh")
    out = console.export_text()
    assert "周六 08:30" in out and "最后一次" in out


# ------------------------------------------------------------------ crash recovery in-process


def a_run(code: str, started: datetime, status: Status = Status.PASS) -> RunRecord:
    result = CheckResult(
        requirement="LAN-SEATS", title=Text("Seats", "考位"),
        subject=Subject(Kind.ROOM, "lo", "lo"),
        vantage="coordinator", status=status, message=Text("40 seats answer", "40 个考位可达"),
        measured={"working_seats": 40}, threshold={"min_seats": 30}, citation=None,
        started_at=started, duration_s=0.5, check_id="LAN-SEATS/lo")
    return RunRecord(site_name="Loopback school", site_code=code, profile_id="cbec",
                     certificate=Text("CBEC", "跨境电商"), started_at=started,
                     finished_at=started + timedelta(seconds=1), verdict=Verdict.READY,
                     results=[result], required={"LAN-SEATS"})


@pytest.fixture
def service_parts(tmp_path: Path) -> Iterator[tuple[Path, Settings]]:
    init_keys(tmp_path / "keys")
    site_path = write_site(tmp_path, textwrap.dedent(f"""\
        exam_sessions:
          - {{start: {(datetime.now(SHANGHAI) + timedelta(hours=1)).replace(tzinfo=None)
                       .isoformat(timespec='seconds')}, duration_min: 60}}
        """))
    settings = settings_from(site_path, store=tmp_path / "runs" / "r.sqlite",
                             log_path=tmp_path / "runs" / "e.jsonl",
                             key_dir=tmp_path / "keys", jobs=tmp_path / "runs" / "s.sqlite")
    yield tmp_path, settings


def test_recovery_never_runs_a_recorded_run_again(service_parts: tuple[Path, Settings]) -> None:
    tmp_path, settings = service_parts
    site = prepare(settings)
    ledger = Ledger(Path(settings.jobs_path))
    started = datetime.now(UTC).replace(microsecond=123456)
    planned = [started - timedelta(minutes=m) for m in (1, 2, 3)]

    # 1. stored, but the ledger was not told: killed right after record_run
    stored = a_run("LO-1", started)
    ledger.claim("LO-1-a", "LO-1", planned[0])
    ledger.recording("LO-1-a", stored.started_at, run_key(stored))
    record_run(stored, [], trigger="schedule", log_path=Path(settings.log_path),
               key_dir=Path(settings.key_dir), store_path=Path(settings.store_path))
    # 2. signed into the log, killed before the store saved it
    signed = a_run("LO-1", started + timedelta(seconds=7), Status.FAIL)
    ledger.claim("LO-1-b", "LO-1", planned[1])
    ledger.recording("LO-1-b", signed.started_at, run_key(signed))
    record_run(signed, [], log_path=Path(settings.log_path), key_dir=Path(settings.key_dir))
    # 3. killed while the checks ran: nothing of it exists
    ledger.claim("LO-1-c", "LO-1", planned[2])

    recover(settings, site, ledger)
    rows = {r.job_id: r for r in ledger.rows("LO-1")}
    assert set(rows) == {"LO-1-a", "LO-1-b"}
    assert rows["LO-1-a"].state == rows["LO-1-b"].state == "done"
    store = ResultsStore(Path(settings.store_path))
    runs = store.list_runs(site_code="LO-1")
    assert [r.run_id for r in runs] == [rows["LO-1-a"].run_id, rows["LO-1-b"].run_id]
    rebuilt = store.load_run(rows["LO-1-b"].run_id)
    assert rebuilt is not None and rebuilt.started_at == signed.started_at
    assert [r.status for r in rebuilt.results] == [Status.FAIL]
    assert rebuilt.results[0].message == signed.results[0].message
    assert rebuilt.trigger == "schedule" and rebuilt.evidence_ref
    # nothing was signed twice
    report = verify(Path(settings.log_path), load_public(Path(settings.key_dir)))
    assert report.ok and report.types == {"run": 2, "result": 2}


def test_plan_skips_what_the_ledger_knows(service_parts: tuple[Path, Settings]) -> None:
    _tmp, settings = service_parts
    service = Service(settings, prepare(settings))
    plan = service.plan()
    assert plan and plan[-1].phase == "last"
    first = plan[0].job_id("LO-1")
    service.ledger.claim(first, "LO-1", plan[0].at)
    assert first not in {p.job_id("LO-1") for p in service.plan()}


def test_one_schedule_per_job_store(service_parts: tuple[Path, Settings]) -> None:
    _tmp, settings = service_parts
    lock = Path(settings.jobs_path + ".lock")
    with instance_lock(lock):
        proc = subprocess.run(
            [sys.executable, "-m", "readiness.schedule", settings.config_path, "--lang", "en",
             "--jobs", settings.jobs_path, "--dir", settings.key_dir, "--store",
             settings.store_path, "--log", settings.log_path],
            capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 2
    assert "another `readiness schedule`" in proc.stderr and str(os.getpid()) in proc.stderr


def test_missing_site_key_is_a_clear_error(tmp_path: Path) -> None:
    site = write_site(tmp_path)
    settings = settings_from(site, store=tmp_path / "r.sqlite", log_path=tmp_path / "e.jsonl",
                             key_dir=tmp_path / "nokeys", jobs=tmp_path / "s.sqlite")
    with pytest.raises(ScheduleError) as err:
        prepare(settings)
    assert "readiness keys init" in err.value.text.en and "keys init" in err.value.text.zh
    proc = subprocess.run(
        [sys.executable, "-m", "readiness.schedule", str(site), "--lang", "en", "--dir",
         str(tmp_path / "nokeys"), "--jobs", str(tmp_path / "s.sqlite")],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 2 and "no site key" in proc.stderr
    assert "readiness keys init" in proc.stderr


def test_unknown_requirement_in_schedule_only(tmp_path: Path) -> None:
    init_keys(tmp_path / "keys")
    site = write_site(tmp_path, "schedule: {only: [LAN-SEATZ]}\n")
    settings = settings_from(site, store=tmp_path / "r.sqlite", log_path=tmp_path / "e.jsonl",
                             key_dir=tmp_path / "keys", jobs=tmp_path / "s.sqlite")
    with pytest.raises(ScheduleError) as err:
        prepare(settings)
    assert "unknown requirement LAN-SEATZ" in err.value.text.en


# ------------------------------------------------------------------ the real process


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        length = int(self.headers.get("Content-Length", 0))
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *_: object) -> None:
        return


def _ledger_rows(path: Path) -> list[tuple[str, str, int | None]]:
    if not path.exists():
        return []
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return db.execute("SELECT job_id, state, run_id FROM readiness_schedule_runs "
                              "ORDER BY planned_at").fetchall()
    except sqlite3.OperationalError:
        return []  # the table is not there yet


def _wait(what: str, cond, timeout: float, proc: subprocess.Popen | None = None):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the scheduler exited ({proc.returncode}) waiting for {what}")
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


# A fixed exam far from today's date: the scheduler's processes run on a virtual clock
# (tests/virtual_clock.py) that jumps over the time between runs, so the last three
# hours of a countdown take the seconds its checks need, and nothing here depends on
# the real date.
VIRTUAL_EXAM = datetime(2031, 12, 5, 9, 0, tzinfo=SHANGHAI)
# How late a run may start: the time to wake up, and the checks of a run due before it
# (one run of these two rules on loopback takes about 1 s here). Runs are 30 min apart,
# so a run that slipped to another's time could not pass for an on-time one.
RUN_SLACK = timedelta(seconds=30)


def _virtual_scheduler(start: datetime, args: list[str]) -> list[str]:
    return [sys.executable, str(REPO / "tests" / "virtual_clock.py"), start.isoformat(),
            "readiness.schedule", *args]


def test_kill_9_mid_plan_loses_and_doubles_nothing(tmp_path: Path) -> None:
    _Receiver.bodies = []
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    dead = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    dead_port = dead.server_address[1]
    dead.server_close()  # nothing listens there any more: connection refused
    hook_token = "hooktoken-sched-4242"

    init_keys(tmp_path / "keys")
    exam = VIRTUAL_EXAM
    # the proctor PC outside the exam subnet: LAN-SUBNET fails from the first run on,
    # which must be announced once, not once per run
    site = write_site(tmp_path, textwrap.dedent(f"""\
        exam_sessions:
          - {{name: soon, start: {exam.replace(tzinfo=None).isoformat()}, duration_min: 5}}
        schedule:
          daily_from: null
          night_from: null
          final_from: 3h
          final_every: 30m
          last: 10m
          misfire_grace: 1h
          only: [LAN-SUBNET, LAN-SEATS]
        alerts:
          timeout_s: 2
          webhooks:
            - {{kind: generic, url: "secret:dead_hook"}}
            - {{kind: generic, url: "secret:hook"}}
        """), proctor="127.0.1.2", secrets=(
        f"hook: http://127.0.0.1:{receiver.server_address[1]}/h?token={hook_token}\n"
        f"dead_hook: http://127.0.0.1:{dead_port}/h?token={hook_token}\n"))
    runs = tmp_path / "runs"
    jobs = runs / "schedule.sqlite"
    args = [str(site), "--lang", "en", "--store", str(runs / "readiness.sqlite"), "--log",
            str(runs / "evidence.jsonl"), "--dir", str(tmp_path / "keys"), "--jobs",
            str(jobs), "--exit-when-done"]
    planned = [exam - timedelta(minutes=m) for m in (180, 150, 120, 90, 60, 30, 10)]
    ids = [f"LO-1-{t.astimezone(UTC).isoformat(timespec='seconds')}" for t in planned]
    env = {**os.environ, "COLUMNS": "200", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    stderr_1, stderr_2 = tmp_path / "first.log", tmp_path / "second.log"
    # the first process starts half an hour before the first planned run; the second
    # one after a downtime that lasted past the fourth (the third is still within the
    # grace of an hour)
    started, restarted = exam - timedelta(hours=3.5), exam - timedelta(minutes=85)
    try:
        with open(stderr_1, "w") as err1:
            first = subprocess.Popen(_virtual_scheduler(started, args), cwd=tmp_path,
                                     env=env, stderr=err1, stdout=subprocess.DEVNULL)
            try:
                # two runs done, the third one in progress: kill it there
                _wait("two runs", lambda: [r for r in _ledger_rows(jobs) if r[1] == "done"]
                      [1:], 60, first)
                row = _wait("the third run to start",
                            lambda: [r for r in _ledger_rows(jobs) if r[0] == ids[2]], 30,
                            first)
                assert row[0][1] == "running", row
                first.send_signal(signal.SIGKILL)
                first.wait(10)
            finally:
                if first.poll() is None:
                    first.kill()
        assert [r[0] for r in _ledger_rows(jobs)] == ids[:3]
        with open(stderr_2, "w") as err2:
            second = subprocess.run(_virtual_scheduler(restarted, args), cwd=tmp_path,
                                    env=env, stderr=err2, stdout=subprocess.DEVNULL,
                                    timeout=90)
        assert second.returncode == 0, stderr_2.read_text()
    finally:
        receiver.shutdown()

    rows = _ledger_rows(jobs)
    assert [r[0] for r in rows] == ids, rows
    assert all(state == "done" for _, state, _ in rows), rows
    store = ResultsStore(runs / "readiness.sqlite")
    stored = store.list_runs(site_code="LO-1")
    # exactly one stored run per planned time: none lost, none doubled
    assert len(stored) == len(ids) and sorted(r[2] for r in rows) == [s.run_id for s in stored]
    assert all(s.trigger == "schedule" and s.verdict.value == "not_ready" for s in stored)
    by_id = {s.run_id: s for s in stored}
    # each run at its planned time, in the planned order: never early, and late only
    # by moments; the run killed mid-way and the one due while the scheduler was down
    # ran once, right after the restart
    began = [by_id[run_id].started_at for _, _, run_id in rows]
    assert began == sorted(began), began
    for planned_at, began_at in zip(planned, began, strict=True):
        due = restarted if planned_at in planned[2:4] else planned_at
        assert due <= began_at < due + RUN_SLACK, (planned_at, began_at)
    # and the evidence log is intact: one signed run record per stored run
    report = verify(runs / "evidence.jsonl", load_public(tmp_path / "keys"))
    assert report.ok, report.sentence()
    assert report.types["run"] == len(ids)
    # one alert (broken on the first run); the dead webhook stopped nothing
    assert len(_Receiver.bodies) == 1, _Receiver.bodies
    body = _Receiver.bodies[0]
    assert body["site"]["code"] == "LO-1" and body["changes"][0]["requirement"] == "LAN-SUBNET"
    assert body["changes"][0]["new"] == "fail" and "127.0.1.2" in json.dumps(body)
    logs = stderr_1.read_text() + stderr_2.read_text()
    assert "alert NOT sent: generic webhook #1 (127.0.0.1:" in logs
    assert "was interrupted before it was recorded" in logs
    for text in (logs, json.dumps(_Receiver.bodies), (runs / "evidence.jsonl").read_text()):
        assert SECRET not in text and hook_token not in text
    with sqlite3.connect(runs / "readiness.sqlite") as db:
        dump = "\n".join(db.iterdump())
    assert SECRET not in dump and hook_token not in dump
