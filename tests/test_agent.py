"""The seat agent, against a real running agent on loopback.

Refusals (no signature, wrong token, replay, stale time, target outside the site)
each get their own status and message; a huge body and a slow client do not delay the
next legitimate request; the token appears in no log line and no reply.

NIC speed and duplex are tested on injected interface tables: the lab's veth links
always report 10000 Mb/s full duplex and `ethtool -s` cannot change them, so a slow or
half-duplex NIC cannot be made for real here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from readiness.agent import self_report as sr
from readiness.agent.allow import AllowList, TargetRefused, check_targets
from readiness.agent.auth import AuthError, NonceCache, Verifier, sign
from readiness.agent.client import AgentTarget, call_agent, fan_out
from readiness.agent.remote import AgentRemote
from readiness.agent.server import (
    AgentServer,
    BindRefused,
    Limits,
    default_registry,
    running,
)
from readiness.checkkind import NAMES, PATH, SEAT, TARGET, TARGETS, CheckKind, Param
from readiness.checks import AgentRoute
from readiness.config.site import SiteFile
from readiness.judges.seat import judge_self_report
from readiness.redact import Secret
from readiness.registry import coordinator_probes
from readiness.results import ProbeOutcome, Status, Text

REPO = Path(__file__).resolve().parent.parent
TOKEN_VALUE = "PLxUgDgZvGxryits1XjZaKXOiZM4_nN6n6VFWiE2_II"  # 256 bits: validate refuses less
TOKEN = Secret(TOKEN_VALUE, "secret:agent_token")
WRONG = Secret("r6moCUT6C0PdFVzCTCsY0nwN5Qv45QTp0IjGmxK5ZYs", "secret:agent_token")
HOST = "127.0.0.1"
ALLOW = AllowList.of(["198.51.100.0/24", "http://exam.example/"])
READ_TIMEOUT_S = 2.0

# Every log line and every reply of this module, searched for the token after each test.
_LOG_LINES: list[str] = []
_REPLIES: list[bytes] = []


class _Capture(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        _LOG_LINES.append(self.format(record))


async def _echo_target(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    return ProbeOutcome(Status.PASS, Text("reached", "已到达"), {"host": params.get("host")})


async def _slow(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    await asyncio.sleep(float(params.get("sleep_s", 1.0)))
    return ProbeOutcome(Status.PASS, Text("done", "完成"))


async def _boom(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    raise RuntimeError("probe exploded")


ECHO = CheckKind("echo_target", _echo_target, (
    Param("host", TARGET, optional=True), Param("url", TARGET, optional=True),
    Param("hosts", TARGETS, optional=True), Param("server_address", TARGET, optional=True)),
    runs_on=frozenset({SEAT}))


def _registry() -> dict[str, CheckKind]:
    reg = default_registry()
    slow = (Param("sleep_s", optional=True),)
    reg["echo_target"] = ECHO
    reg["slow_exclusive"] = CheckKind("slow_exclusive", _slow, slow, exclusive=True)
    reg["slow"] = CheckKind("slow", _slow, slow)
    reg["boom"] = CheckKind("boom", _boom, ())
    return reg


@pytest.fixture(scope="module")
def agent() -> Iterator[AgentServer]:
    handler = _Capture(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    for name in ("readiness", "asyncio"):
        logging.getLogger(name).addHandler(handler)
    logging.getLogger("readiness.agent").setLevel(logging.DEBUG)
    try:
        with running(HOST, 0, TOKEN, ALLOW, registry=_registry(),
                     limits=Limits(read_timeout_s=READ_TIMEOUT_S)) as server:
            yield server
    finally:
        for name in ("readiness", "asyncio"):
            logging.getLogger(name).removeHandler(handler)


@pytest.fixture(autouse=True)
def _token_never_shown(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    seen = "\n".join(_LOG_LINES) + caplog.text + b"".join(_REPLIES).decode("utf-8", "replace")
    assert TOKEN_VALUE not in seen
    assert WRONG.reveal() not in seen


# ------------------------------------------------------------------ raw HTTP helpers


def _request(port: int, method: str, path: str, body: bytes = b"",
             headers: dict[str, str] | None = None, timeout_s: float = 5.0,
             ) -> tuple[int, dict[str, Any]]:
    lines = [f"{method} {path} HTTP/1.1", "Host: agent", f"Content-Length: {len(body)}",
             *(f"{k}: {v}" for k, v in (headers or {}).items())]
    with socket.create_connection((HOST, port), timeout=timeout_s) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    _REPLIES.append(raw)
    head, _, payload = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


def _signed(port: int, path: str, body: dict[str, Any], token: Secret = TOKEN,
            now: float | None = None) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode()
    return _request(port, "POST", path, data, sign(token, "POST", path, data, now=now,
                                                     agent=f"{HOST}:{port}"))


def _timed_self_report(port: int) -> float:
    started = time.monotonic()
    status, data = _signed(port, "/v1/self-report", {})
    assert status == 200 and "report" in data
    return time.monotonic() - started


# ------------------------------------------------------------------ authentication


def test_health_is_open_and_tells_only_the_version(agent: AgentServer) -> None:
    status, data = _request(agent.port, "GET", "/v1/health")
    assert status == 200
    assert set(data) == {"agent", "version", "padding"}
    # padding only: larger than one full-size packet (an MTU black hole loses it), and
    # nothing in it but dots
    assert set(data["padding"]) == {"."} and len(json.dumps(data)) > 1500


def test_missing_signature_is_401(agent: AgentServer) -> None:
    status, data = _request(agent.port, "POST", "/v1/self-report", b"{}")
    assert status == 401
    assert data["error"] == "missing_signature"
    assert "not signed" in data["message"]


def test_wrong_token_is_403(agent: AgentServer) -> None:
    status, data = _signed(agent.port, "/v1/self-report", {}, token=WRONG)
    assert status == 403
    assert data["error"] == "bad_signature"
    assert "token differs" in data["message"]


def test_altered_body_is_403(agent: AgentServer) -> None:
    headers = sign(TOKEN, "POST", "/v1/run", b'{"probe": "self_report"}',
                   agent=f"{HOST}:{agent.port}")
    status, data = _request(agent.port, "POST", "/v1/run", b'{"probe": "boom"}', headers)
    assert (status, data["error"]) == (403, "bad_signature")


def test_replayed_request_is_403(agent: AgentServer) -> None:
    body = b"{}"
    headers = sign(TOKEN, "POST", "/v1/self-report", body, agent=f"{HOST}:{agent.port}")
    first, _ = _request(agent.port, "POST", "/v1/self-report", body, headers)
    again, data = _request(agent.port, "POST", "/v1/self-report", body, headers)
    assert first == 200
    assert again == 403
    assert data["error"] == "replayed"
    assert "already received" in data["message"]


@pytest.mark.parametrize("offset_s, code, words", [(-120, "expired", "in the past"),
                                                   (+120, "future", "in the future")])
def test_stale_or_future_time_is_401(agent: AgentServer, offset_s: int, code: str,
                                     words: str) -> None:
    status, data = _signed(agent.port, "/v1/self-report", {}, now=time.time() + offset_s)
    assert status == 401
    assert data["error"] == code
    assert words in data["message"] and "clocks" in data["message"]
    assert abs(data["server_time"] - time.time()) < 5


def test_malformed_signature_headers_are_401(agent: AgentServer) -> None:
    headers = sign(TOKEN, "POST", "/v1/self-report", b"{}", agent=f"{HOST}:{agent.port}")
    headers["X-Readiness-Nonce"] = "not-hex"
    status, data = _request(agent.port, "POST", "/v1/self-report", b"{}", headers)
    assert (status, data["error"]) == (401, "malformed_signature")


# ------------------------------------------------------------------ what may run


def test_target_outside_the_site_is_403(agent: AgentServer) -> None:
    status, data = _signed(agent.port, "/v1/run",
                           {"probe": "echo_target", "params": {"host": "192.0.2.99"}})
    assert status == 403
    assert data["error"] == "target_not_allowed"
    assert data["message"] == "target 192.0.2.99 is not in the site configuration"
    for params in ({"url": "http://evil.example/x"}, {"hosts": ["198.51.100.7", "192.0.2.5"]},
                   {"server_address": "203.0.113.9"}, {"host": 3232235777}):
        status, data = _signed(agent.port, "/v1/run", {"probe": "echo_target",
                                                       "params": params})
        assert (status, data["error"]) == (403, "target_not_allowed"), params


def test_target_inside_the_site_runs(agent: AgentServer) -> None:
    for params in ({"host": "198.51.100.7"}, {"url": "http://exam.example/login?x=1"},
                   {"url": "http://EXAM.example./"}):
        status, data = _signed(agent.port, "/v1/run",
                               {"probe": "echo_target", "params": params, "deadline_s": 2})
        assert status == 200, data
        assert data["outcome"]["status"] == "pass"


def test_unknown_probe_is_404(agent: AgentServer) -> None:
    status, data = _signed(agent.port, "/v1/run", {"probe": "shell", "params": {}})
    assert (status, data["error"]) == (404, "unknown_probe")
    assert "self_report" in data["message"]


def test_bad_deadline_is_400(agent: AgentServer) -> None:
    for deadline in (0, -1, 10_000, "soon", True):
        status, data = _signed(agent.port, "/v1/run",
                               {"probe": "self_report", "deadline_s": deadline})
        assert (status, data["error"]) == (400, "bad_deadline"), deadline


def test_exclusive_probes_run_one_at_a_time(agent: AgentServer) -> None:
    results: list[tuple[int, dict[str, Any]]] = []

    def call() -> None:
        results.append(_signed(agent.port, "/v1/run", {"probe": "slow_exclusive",
                                                       "params": {"sleep_s": 1.0}}))

    first = threading.Thread(target=call)
    first.start()
    time.sleep(0.3)
    call()
    first.join()
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409]
    busy = next(data for status, data in results if status == 409)
    assert busy["error"] == "busy" and "slow_exclusive" in busy["message"]
    # non-exclusive probes are not held up by it
    assert _signed(agent.port, "/v1/run", {"probe": "slow", "params": {"sleep_s": 0}})[0] == 200


def test_every_probe_run_keeps_its_deadline(agent: AgentServer) -> None:
    started = time.monotonic()
    status, data = _signed(agent.port, "/v1/run", {"probe": "slow", "deadline_s": 0.3,
                                                   "params": {"sleep_s": 30}})
    assert time.monotonic() - started < 1.5
    assert status == 200
    assert data["outcome"]["status"] == "error"
    assert "deadline of 0.3 s" in data["outcome"]["message"]["en"]


def test_a_failing_probe_is_an_error_outcome(agent: AgentServer) -> None:
    status, data = _signed(agent.port, "/v1/run", {"probe": "boom"})
    assert status == 200
    assert data["outcome"]["status"] == "error"
    assert "probe exploded" in data["outcome"]["message"]["en"]


# ------------------------------------------------------------------ abuse


def test_a_100_mb_body_is_refused_without_reading_it(agent: AgentServer) -> None:
    announced = 100 * 1024 * 1024
    chunk = bytes(64 * 1024)  # the same 64 KiB again and again: nothing big in memory
    sent = 0
    reply = b""
    with socket.create_connection((HOST, agent.port), timeout=5) as sock:
        sock.sendall(f"POST /v1/run HTTP/1.1\r\nHost: agent\r\n"
                     f"Content-Length: {announced}\r\n\r\n".encode())
        try:  # a first megabyte blindly, as a client that does not wait for a reply would
            for _ in range(16):
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        deadline = time.monotonic() + 10
        while sent < announced and time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 1.0)
            if readable:
                reply = sock.recv(65536)
                break
            if writable:
                try:
                    sent += sock.send(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    break
        if not reply:
            try:
                reply = sock.recv(65536)
            except ConnectionResetError:
                reply = b""
    _REPLIES.append(reply)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:100]
    assert b"too_large" in reply
    assert sent < 20 * 1024 * 1024, f"the agent let {sent} bytes in before refusing"
    assert _timed_self_report(agent.port) < 0.5


def test_slow_and_idle_clients_do_not_block_the_next_request(agent: AgentServer) -> None:
    idle = [socket.create_connection((HOST, agent.port)) for _ in range(30)]
    cut_after: list[float] = []

    def trickle() -> None:
        started = time.monotonic()
        with socket.create_connection((HOST, agent.port), timeout=10) as sock:
            for byte in b"POST /v1/self-report HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}":
                try:
                    sock.send(bytes([byte]))
                    readable, _, _ = select.select([sock], [], [], 1.0)  # one byte a second
                    if readable:
                        _REPLIES.append(sock.recv(65536))
                        break
                except OSError:
                    break
        cut_after.append(time.monotonic() - started)

    slow = threading.Thread(target=trickle)
    slow.start()
    try:
        time.sleep(0.5)
        latencies = [_timed_self_report(agent.port) for _ in range(5)]
        slow.join(READ_TIMEOUT_S + 5)
    finally:
        for sock in idle:
            sock.close()
    assert max(latencies) < 0.5, latencies
    assert cut_after and cut_after[0] < READ_TIMEOUT_S + 1.5, cut_after
    assert Limits().read_timeout_s <= 10  # "a few seconds" in production too


def test_refuses_to_listen_everywhere_unless_told() -> None:
    with pytest.raises(BindRefused, match="--listen-all"):
        AgentServer("0.0.0.0", 0, TOKEN, ALLOW)
    with pytest.raises(BindRefused, match="not an IP address"):
        AgentServer("seat-a07", 0, TOKEN, ALLOW)
    AgentServer("0.0.0.0", 0, TOKEN, ALLOW, listen_all=True)  # constructed, never started


def test_an_address_this_pc_does_not_have_is_named() -> None:
    with pytest.raises(BindRefused, match="not an address of this PC"), \
            running("198.18.250.250", 0, TOKEN, ALLOW):
        pass


# ------------------------------------------------------------------ coordinator side


def test_fan_out_marks_absent_agents(agent: AgentServer) -> None:
    with socket.socket() as spare:  # a port where nothing listens
        spare.bind((HOST, 0))
        dead_port = spare.getsockname()[1]
    targets = [AgentTarget(f"A{i:02d}", HOST) for i in range(1, 11)]
    targets.append(AgentTarget("A11", HOST, dead_port))
    started = time.monotonic()
    replies = asyncio.run(fan_out(targets, "/v1/self-report", {}, TOKEN, agent.port,
                                  concurrency=4, timeout_s=3))
    assert time.monotonic() - started < 3
    assert {r.status for label, r in replies.items() if label != "A11"} == {"ok"}
    assert replies["A11"].status == "absent"
    assert "not running" in replies["A11"].reason
    wrong = asyncio.run(fan_out(targets[:1], "/v1/self-report", {}, WRONG, agent.port))
    assert wrong["A01"].status == "refused" and wrong["A01"].error_code == "bad_signature"


def test_client_copes_with_a_seat_clock_that_is_off() -> None:
    with running(HOST, 0, TOKEN, ALLOW, clock=lambda: time.time() + 300) as skewed:
        reply = asyncio.run(call_agent(HOST, skewed.port, "/v1/self-report", {}, TOKEN))
        assert reply.status == "ok"
        assert reply.clock_skew_s is not None and 295 <= reply.clock_skew_s <= 305
        strict = asyncio.run(call_agent(HOST, skewed.port, "/v1/self-report", {}, TOKEN,
                                        adjust_clock=False))
        # the agent's clock is ahead, so our time looks stale to it
        assert strict.status == "refused" and strict.error_code == "expired"


async def _here(name: str, params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    # what the runner does for a check on a host that is this machine
    return await coordinator_probes()[name](params, deadline_s)


def _self_report(port: int, token: Secret = TOKEN, when_absent: str = "skip",
                 rule: dict[str, Any] | None = None, own: set[str] | None = None,
                 ) -> ProbeOutcome:
    """A self-report check as the runner runs it: agent/remote.py, then the judge.
    `own` is this machine's addresses (empty: 127.0.0.1 is a seat reached over TCP)."""
    route = AgentRoute("A07", HOST, port, when_absent=when_absent)  # type: ignore[arg-type]
    remote = AgentRemote(token, _here, own_addresses=lambda: own or set())
    outcome = asyncio.run(remote.run(route, "self_report", {}, 5))
    return judge_self_report(outcome, {"address": HOST, "label": "A07", "port": port,
                                       **(rule or {})})


def test_self_report_against_a_live_agent(agent: AgentServer) -> None:
    outcome = _self_report(agent.port)
    assert outcome.status == Status.PASS, outcome.message
    assert outcome.measured["hostname"] == socket.gethostname()
    assert outcome.measured["nic"]  # the NIC carrying 127.0.0.1 (lo)
    assert outcome.measured["addressing"] == "static"
    assert outcome.message.en.startswith("A07:") and outcome.message.zh.startswith("A07：")
    # loopback has no negotiated speed: a speed rule cannot pass on it
    judged = _self_report(agent.port, rule={"fail_below_mbps": 100})
    assert judged.status == Status.WARN and "does not report the speed" in judged.message.en


def test_this_machine_describes_itself_without_an_agent() -> None:
    with socket.socket() as spare:
        spare.bind((HOST, 0))
        port = spare.getsockname()[1]
    route = AgentRoute("proctor", HOST, port)
    remote = AgentRemote(TOKEN, _here, own_addresses=lambda: {HOST})
    outcome = asyncio.run(remote.run(route, "self_report", {}, 5))
    assert outcome.ran_from == "coordinator"
    judged = judge_self_report(outcome, {"address": HOST, "label": "proctor", "port": port,
                                         "require_static": True})
    assert judged.status == Status.PASS, judged.message.en
    assert judged.measured["hostname"] == socket.gethostname()


def test_self_report_when_no_agent_answers() -> None:
    with socket.socket() as spare:
        spare.bind((HOST, 0))
        port = spare.getsockname()[1]
    outcome = _self_report(port)
    assert outcome.status == Status.SKIP
    assert outcome.message.en == (f"no agent answers on A07 ({HOST}:{port}): start "
                                  "`readiness agent` on that PC")
    assert "readiness agent" in outcome.message.zh
    assert _self_report(port, when_absent="warn").status == Status.WARN


def test_an_agent_slow_to_answer_its_health_look_still_runs_the_check(
        tmp_path: Path) -> None:
    # a seat PC too busy to answer in the quick look's time (a 5-s check gives it 1.25 s),
    # made for real: the agent process is stopped for 2 s while the kernel still accepts
    # its connections. It is there, so its check runs in the time left, never skipped.
    with socket.socket() as spare:
        spare.bind((HOST, 0))
        port = spare.getsockname()[1]
    proc = subprocess.Popen(
        _agent_cmd("--config", str(_site_files(tmp_path)), "--bind", HOST, "--port", str(port)),
        cwd=REPO, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _request(port, "GET", "/v1/health", timeout_s=1)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "agent did not start"
                time.sleep(0.1)
        proc.send_signal(signal.SIGSTOP)
        waking = threading.Timer(2.0, proc.send_signal, (signal.SIGCONT,))
        waking.start()
        outcome = _self_report(port)
        waking.join()
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.wait()
    assert outcome.status == Status.PASS, outcome.message.en
    assert outcome.measured["hostname"] == socket.gethostname()


def test_a_pc_that_accepts_and_never_answers_is_an_error_within_the_deadline() -> None:
    with socket.socket() as mute:  # the port is open, nothing ever answers
        mute.bind((HOST, 0))
        mute.listen(8)
        started = time.monotonic()
        outcome = _self_report(mute.getsockname()[1])
    assert outcome.status == Status.ERROR
    assert "sent no reply" in outcome.message.en
    assert time.monotonic() - started < 5.0


def test_self_report_with_the_wrong_token(agent: AgentServer) -> None:
    outcome = _self_report(agent.port, token=WRONG)
    assert outcome.status == Status.ERROR
    assert "refused our token: the site token differs" in outcome.message.en
    assert "令牌" in outcome.message.zh


def test_a_reply_without_a_report_is_an_error() -> None:
    empty = ProbeOutcome(Status.PASS, Text("done", "完成"), {"agent": "A07"})
    outcome = judge_self_report(empty, {"address": HOST, "label": "A07", "port": 8765})
    assert outcome.status == Status.ERROR
    assert outcome.message.en == f"the agent on A07 ({HOST}:8765) sent no self-report"


def test_run_relays_the_agents_outcome(agent: AgentServer) -> None:
    route = AgentRoute("A07", HOST, agent.port)
    remote = AgentRemote(TOKEN, _here, own_addresses=lambda: set())
    outcome = asyncio.run(remote.run(route, "echo_target", {"host": "198.51.100.7"}, 3))
    assert outcome.status == Status.PASS
    assert outcome.measured == {"host": "198.51.100.7", "agent": "A07"}
    assert outcome.ran_from == "agent A07"
    refused = asyncio.run(remote.run(route, "echo_target", {"host": "192.0.2.99"}, 3))
    assert refused.status == Status.ERROR
    assert "192.0.2.99 is not in the site configuration" in refused.message.en


# ------------------------------------------------------------------ pieces on their own


def test_nonce_cache_forgets_with_the_window_and_is_bounded() -> None:
    cache = NonceCache(max_entries=2)
    assert cache.add("a", expires_at=100, now=50)
    assert not cache.add("a", expires_at=100, now=60)
    assert cache.add("b", expires_at=200, now=60)
    with pytest.raises(AuthError) as full:
        cache.add("c", expires_at=200, now=60)
    assert full.value.status == 503
    assert cache.add("c", expires_at=300, now=150)  # "a" expired, room again
    assert len(cache) == 2


def test_verifier_messages_never_hold_the_token() -> None:
    now = 1_000_000.0
    verifier = Verifier(TOKEN, clock=lambda: now)
    headers = {k.lower(): v for k, v in sign(WRONG, "POST", "/v1/run", b"{}", now=now,
                                             agent="127.0.0.1:8765").items()}
    with pytest.raises(AuthError) as refused:
        verifier.verify("POST", "/v1/run", headers, b"{}", "127.0.0.1:8765")
    assert TOKEN_VALUE not in repr(refused.value) + str(refused.value) + repr(verifier)
    assert TOKEN_VALUE not in repr(TOKEN)


def test_allow_list_from_the_lab_site() -> None:
    model = SiteFile.model_validate(yaml.safe_load((REPO / "config/lab/site.yaml").read_text()))
    allow = AllowList.from_site_model(model)
    for target in ("198.18.10.107", "198.51.100.80", "http://exam.example/x",
                   "http://games.example/", "speed.example", "rtsp://198.18.10.201:554/s"):
        assert allow.allows(target), target
    for target in ("192.0.2.99", "http://evil.example/", "198.18.11.1", "", "exam.example.evil"):
        assert not allow.allows(target), target


def test_targets_are_what_the_declaration_marks() -> None:
    kind = CheckKind("k", _echo_target, (
        Param("host", TARGET), Param("urls", TARGETS), Param("answers", NAMES),
        Param("garbage_path", PATH), Param("count")))
    params = {"host": "a.example", "urls": ["b.example", "c.example"],
              "answers": {"d.example": ["x"]}, "count": 3, "url": "http://e.example/",
              "garbage_path": "g.php"}
    assert sorted(kind.targets_in(params)) == ["a.example", "b.example", "c.example",
                                               "d.example"]
    # a marked value of the wrong shape is refused as it is, never guessed at
    assert kind.targets_in({"host": ["a.example"]}) == ["['a.example']"]
    allow = AllowList.of(["a.example", "b.example"])
    check_targets(allow, kind, {"host": "a.example", "urls": ["b.example"]})
    with pytest.raises(TargetRefused):
        check_targets(allow, kind, {"host": "a.example", "urls": ["b.example", "z.example"]})
    with pytest.raises(TargetRefused):  # a path that is another server
        check_targets(allow, kind, {"host": "a.example", "url": "http://a.example/",
                                    "garbage_path": "http://z.example/g.php"})


def test_a_parameter_the_kind_does_not_declare_is_refused(agent: AgentServer) -> None:
    # an undeclared key could carry a target no mark names: it never reaches a probe
    status, data = _signed(agent.port, "/v1/run", {"probe": "echo_target",
                                                   "params": {"proxy_url": "http://evil/"}})
    assert (status, data["error"]) == (400, "bad_params")
    assert "unknown parameter 'proxy_url'" in data["message"]


# ------------------------------------------------------------------ self-report parsing


# (judging a report: tests/test_judges_seat.py)


def test_nic_table_reads_psutil_shapes() -> None:
    nics = sr.build_nics({"eth0": [sr.IfAddr("inet", "198.18.10.5", "255.255.255.0")]},
                         {"eth0": sr.IfStat(False, 0, 0, 1500), "wlan0": sr.IfStat(True, 2,
                                                                                   300, 1500)},
                         {})
    assert [n["name"] for n in nics] == ["eth0", "wlan0"]
    assert nics[0]["speed_mbps"] is None and nics[0]["duplex"] == "unknown"
    assert nics[0]["ipv4"] == [{"address": "198.18.10.5", "prefixlen": 24,
                                "addressing": "unknown"}]
    assert nics[1]["speed_mbps"] == 300 and nics[1]["duplex"] == "full"


def test_ip_json_dynamic_flag_means_dhcp() -> None:
    text = json.dumps([{"ifname": "eth0", "addr_info": [
        {"family": "inet", "local": "198.18.10.107", "prefixlen": 24, "scope": "global",
         "dynamic": True, "valid_life_time": 86000},
        {"family": "inet", "local": "198.18.10.200", "prefixlen": 24, "scope": "global",
         "valid_life_time": 4294967295},
        {"family": "inet6", "local": "fe80::1", "prefixlen": 64, "scope": "link"}]},
        {"ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1",
                                        "scope": "host"}]}])
    assert sr.parse_ip_addr_json(text) == {"198.18.10.107": "dhcp", "198.18.10.200": "static",
                                           "127.0.0.1": "static"}


def test_lease_files_name_their_addresses() -> None:
    dhclient = "lease {\n  interface \"eth0\";\n  fixed-address 198.18.10.107;\n}\n"
    networkd = "# This is private data.\nADDRESS=198.18.10.108\nNETMASK=255.255.255.0\n"
    assert sr.parse_lease_addresses([dhclient, networkd]) == {"198.18.10.107", "198.18.10.108"}


def test_gateway_dns_cpu_and_disks_from_text() -> None:
    route = ("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
             "eth1\t00000000\t010A12C6\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
             "eth0\t00000000\t010A12C6\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
             "eth0\t000A12C6\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n")
    assert sr.parse_proc_route(route) == "198.18.10.1"
    assert sr.parse_proc_route(route.splitlines()[0]) is None
    assert sr.parse_resolv_conf("# x\nnameserver 198.18.10.1\nsearch lab\n"
                                "nameserver 198.18.10.1\nnameserver 203.0.113.53 # b\n") == [
        "198.18.10.1", "203.0.113.53"]
    assert sr.parse_cpuinfo("processor\t: 0\nmodel name\t: Intel(R) Core(TM)  i5-8500 CPU\n") \
        == "Intel(R) Core(TM) i5-8500 CPU"
    assert sr.whole_disks({"sda": (976773168, False), "loop0": (100, False),
                           "sdb": (1000, True), "zram0": (1000, False)}) == {
        "sda": 976773168 * 512}


@pytest.mark.parametrize("origin_dhcp, origin_manual", [("Dhcp", "Manual"), (3, 1)])
def test_windows_netconfig(origin_dhcp: Any, origin_manual: Any) -> None:
    text = json.dumps({
        "addresses": [{"IPAddress": "198.18.10.107", "PrefixOrigin": origin_dhcp},
                      {"IPAddress": "127.0.0.1", "PrefixOrigin": 2},
                      {"IPAddress": "198.18.20.5", "PrefixOrigin": origin_manual}],
        "routes": {"NextHop": "198.18.10.1", "RouteMetric": 0},
        "dns": [{"ServerAddresses": ["198.18.10.1"]}, {"ServerAddresses": []}]})
    addressing, gateway, dns = sr.parse_windows_netconfig(text)
    assert addressing == {"198.18.10.107": "dhcp", "127.0.0.1": "static",
                          "198.18.20.5": "static"}
    assert gateway == "198.18.10.1" and dns == ["198.18.10.1"]


def test_collect_on_this_machine() -> None:
    report = sr.collect()
    assert report["hostname"] == socket.gethostname()
    assert report["cpu"]["logical_cores"] >= 1 and report["ram_gib"] > 0
    assert any(a["address"] == "127.0.0.1" for n in report["nics"] for a in n["ipv4"])


# ------------------------------------------------------------------ the command


def _site_files(tmp_path: Path, with_token: bool = True) -> Path:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(f"agent_token: {TOKEN_VALUE}\n")
    secrets.chmod(0o600)
    site = {
        "site": {"name": "Agent test", "code": "T-1"}, "profile": "cbec",
        "secrets_file": str(secrets),
        "agent": {"port": 8765, **({"token": "secret:agent_token"} if with_token else {})},
        "rooms": [{"id": "r1", "subnet": "198.18.40.0/24",
                   "router": {"address": "198.18.40.1"},
                   "exam_servers": {"primary": {"address": "198.18.40.10"}},
                   "proctor": {"address": "198.18.40.2"},
                   "seats": {"A01-A02": "198.18.40.101-102"}}]}
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    return path


def _agent_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "readiness.agent", *args]


def test_the_command_serves_signed_requests_and_stops_on_sigterm(tmp_path: Path) -> None:
    with socket.socket() as spare:
        spare.bind((HOST, 0))
        port = spare.getsockname()[1]
    proc = subprocess.Popen(
        _agent_cmd("--config", str(_site_files(tmp_path)), "--bind", HOST, "--port", str(port)),
        cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                status, data = _request(port, "GET", "/v1/health", timeout_s=1)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "agent did not start"
                time.sleep(0.1)
        assert status == 200
        assert _signed(port, "/v1/self-report", {})[0] == 200
        assert _signed(port, "/v1/self-report", {}, token=WRONG)[0] == 403
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "POST '/v1/self-report' 200" in stderr and "POST '/v1/self-report' 403" in stderr
    assert TOKEN_VALUE not in stderr


@pytest.mark.parametrize("args, words", [
    (("--bind", "0.0.0.0"), "--listen-all"),
    (("--bind", "127.0.0.1", "--no-token"), "has no agent.token"),
])
def test_the_command_explains_what_is_wrong(tmp_path: Path, args: tuple[str, ...],
                                            words: str) -> None:
    site = _site_files(tmp_path, with_token="--no-token" not in args)
    argv = _agent_cmd("--config", str(site), *(a for a in args if a != "--no-token"),
                      "--lang", "en")
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=30,
                          env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 2
    assert words in done.stderr
