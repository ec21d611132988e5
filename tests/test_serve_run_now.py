"""Issue 20, break 4 (the run-now part): "run now" on the live page opened with the agents'
token, as a fixed Bearer header over plain HTTP, so a captured request replayed forever
and every replay queued one more full run. Now it has its own token, every request is
signed with time and nonce (readiness/agent/auth.py's scheme) and works once, and presses
while a run is queued or running join that run.

The service runs on loopback with its real schedule; its runs check only SERVER-SPARE,
which the lab site's certificate does not have, so a run sends nothing anywhere."""

from __future__ import annotations

import http.client
import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from serve_site import RUN_NOW_TOKEN, TOKEN, make_site

from readiness.agent import auth
from readiness.config.errors import ConfigError
from readiness.config.load import load_site
from readiness.redact import Secret
from readiness.schedule import runner as schedule
from readiness.schedule.runner import settings_from
from readiness.serve import service

CODE = "SITE-R"
AUDIENCE = f"readiness-serve/{CODE}/run-now"  # what a run-now request is signed for
NO_NETWORK = ["SERVER-SPARE"]  # not a rule of cbec: a run plans no check at all


def _start(folder: Path, **site):
    path = make_site(folder, CODE, exam_in=timedelta(days=30), **site)
    settings = settings_from(path, store=folder / "readiness.sqlite",
                             log_path=folder / "evidence.jsonl", key_dir=folder / "keys",
                             jobs=folder / "schedule.sqlite", only=NO_NETWORK)
    return service.start(settings, ("127.0.0.1", 0))


def _settle(s) -> None:
    """No run-now job left due when the service stops: APScheduler makes one more pass
    over due jobs after its executor has shut down, and that pass fails loudly."""
    from apscheduler.schedulers.base import STATE_PAUSED

    if s.service.scheduler.state == STATE_PAUSED:
        for job_id in _queued(s):
            s.service.scheduler.remove_job(job_id)
        return
    deadline = time.monotonic() + 20
    while (_queued(s) or s.service.running()) and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture()
def serving(tmp_path: Path):
    s = _start(tmp_path)
    try:
        yield s
    finally:
        _settle(s)
        service.stop(s)


def _post(s, headers: dict[str, str]) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(*s.address, timeout=10)
    try:
        conn.request("POST", "/run", headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def _queued(s) -> list[str]:
    return [j.id for j in s.service.scheduler.get_jobs() if "-now-" in j.id]


def sign(token: Secret, **kw) -> dict[str, str]:
    """A run-now request as the page makes it: the agents' scheme, for this service."""
    return auth.sign(token, "POST", "/run", b"", agent=AUDIENCE, **kw)


def _signed(**kw) -> dict[str, str]:
    return sign(Secret(RUN_NOW_TOKEN, "secret:run_now_token"), **kw)


def test_the_agents_token_no_longer_starts_a_run(serving):
    s = serving
    s.service.scheduler.pause()
    agent_token = Secret(TOKEN, "secret:agent_token")
    for headers in ({"Authorization": f"Bearer {TOKEN}"},          # the old way
                    {"Authorization": f"Bearer {RUN_NOW_TOKEN}"},  # no signature at all
                    sign(agent_token)):                      # signed with the agents' token
        status, body = _post(s, headers)
        assert status in (401, 403), (headers.keys(), status, body)
        text = json.dumps(body, ensure_ascii=False)
        assert "serve.run_now_token" in text and TOKEN not in text and RUN_NOW_TOKEN not in text
    # the run-now token signing a request made for an agent, not for this service
    status, body = _post(s, auth.sign(Secret(RUN_NOW_TOKEN, "x"), "POST", "/run", b"",
                                      agent="127.0.0.1:8765"))
    assert (status, body["error"]) == (403, auth.WRONG_AGENT)
    assert _queued(s) == []
    assert _post(s, _signed())[0] == 202  # and its own token does
    assert len(_queued(s)) == 1


def test_a_captured_request_works_once(serving):
    s = serving
    s.service.scheduler.pause()  # the run stays queued: nothing else changes the answers
    captured = _signed()
    assert _post(s, captured)[0] == 202
    status, body = _post(s, captured)
    assert (status, body["error"]) == (403, auth.REPLAYED)
    assert body["message"]["zh"] and body["message"]["en"]
    # an old capture, from outside the window: refused, with the service's time so the
    # page can sign again when it is its own clock that is wrong
    status, body = _post(s, _signed(now=time.time() - 120))
    assert (status, body["error"]) == (401, auth.EXPIRED)
    assert abs(body["server_time"] - time.time()) < 5
    # signed before this service started (within the window, but a previous process may
    # have seen its nonce): refused as well
    status, body = _post(s, _signed(now=s.http.gate.started - 2))
    assert (status, body["error"]) == (401, auth.EXPIRED)
    assert len(_queued(s)) == 1


def test_presses_while_a_run_is_queued_or_running_join_it(serving):
    s = serving
    s.service.scheduler.pause()
    answers = [_post(s, _signed()) for _ in range(5)]
    assert [a[0] for a in answers] == [202, 200, 200, 200, 200]
    assert [a[1]["merged"] for a in answers] == [False, True, True, True, True]
    assert "joins" in answers[1][1]["message"]["en"]
    assert len(_queued(s)) == 1

    # hold the run in progress (the schedule's own watcher hook), press again
    started, release, ended = threading.Event(), threading.Event(), threading.Event()

    def hold(event: str, _payload: object) -> None:
        if event == "start":
            started.set()
            release.wait(20)
        elif event == "end":
            ended.set()

    schedule.WATCHERS.insert(0, hold)
    try:
        s.service.scheduler.resume()
        assert started.wait(20), "the queued run never started"
        assert _queued(s) == []
        status, body = _post(s, _signed())
        assert (status, body["merged"]) == (200, True)  # running: joined, nothing queued
        assert _queued(s) == []
    finally:
        release.set()
        assert ended.wait(20)
        schedule.WATCHERS.remove(hold)
    deadline = time.monotonic() + 10
    while s.service.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    # the store says who started it: the live page's "run now", not the schedule
    from readiness.store import ResultsStore

    runs = ResultsStore(Path(s.service.settings.store_path)).list_runs()
    assert [r.trigger for r in runs] == [schedule.RUN_NOW_TRIGGER]
    status, body = _post(s, _signed())  # once it has ended, a press starts another
    assert (status, body["merged"]) == (202, False)


def test_run_now_is_off_without_its_own_token(tmp_path: Path):
    s = _start(tmp_path, run_now=False)
    try:
        status, body = _post(s, sign(Secret(TOKEN, "x")))
        assert (status, body["error"]) == (403, "off")
        assert "serve.run_now_token" in body["message"]["en"]
        assert "token_urlsafe" in body["message"]["en"]  # the command that makes one
        conn = http.client.HTTPConnection(*s.address, timeout=10)
        conn.request("GET", "/api/state")
        assert json.loads(conn.getresponse().read())["run_now"]["enabled"] is False
    finally:
        service.stop(s)


def test_validate_refuses_the_agents_token_as_the_run_now_token(tmp_path: Path):
    path = make_site(tmp_path, CODE)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["serve"] = {"run_now_token": "secret:agent_token"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_site(path)
    issues = [i for i in err.value.issues if i.path == "serve.run_now_token"]
    assert issues and "agent.token" in issues[0].message
    assert TOKEN not in str(err.value)
