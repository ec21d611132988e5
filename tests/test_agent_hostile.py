"""The seat agent against a caller who holds the token (or a captured request) and tries
to aim the seat elsewhere, and against an unauthenticated flood. Loopback only.

The "foreign" server listens on 127.0.0.2, an address that is in no allow-list here,
and counts the requests that reach it: every refusal below is proven by a count of 0,
and where it can be shown, by the same request reaching it when no agent is involved.
"""

from __future__ import annotations

import asyncio
import json
import logging
import logging.handlers
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import probe_params
import pytest

from probes import url_filter, wan_bandwidth
from readiness.agent.allow import AllowList, TargetRefused, check_targets
from readiness.agent.auth import AGENT_HEADER, sign
from readiness.agent.client import call_agent
from readiness.agent.server import RUN, SELF_REPORT, AgentServer, Limits, running
from readiness.checkkind import PATH, TARGET, CheckKind, Param
from readiness.commands import agent as agent_cli
from readiness.redact import Secret

TOKEN_VALUE = "Xq0vH2mE7sLk9TzR4wNb8YcJ1pUf6GdA3oVi5KeM_Z-"  # 256 bits
TOKEN = Secret(TOKEN_VALUE, "secret:agent_token")
HOST = "127.0.0.1"
FOREIGN_HOST = "127.0.0.2"
# the agent may reach this machine's 127.0.0.1 (the "site"), never 127.0.0.2
ALLOW = AllowList.of(["127.0.0.1/32", "games.example"])


class _Counting(BaseHTTPRequestHandler):
    """/garbage: speed-test bytes; /to-foreign/X, /to-name/X: a redirect to X on the
    foreign server (by address, by a name outside the site); else a page."""

    hits: list[str]
    redirect_to: str = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.hits.append(self.path)
        if self.path.startswith(("/to-foreign", "/to-name")):
            # to the foreign server by address, or by a name outside the site
            base = self.redirect_to if self.path.startswith("/to-foreign") else \
                self.redirect_to.replace(FOREIGN_HOST, "foreign.example")
            self.send_response(302)
            self.send_header("Location", base + "/" + self.path.split("/", 2)[2])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = bytes(256 * 1024) if self.path.startswith("/garbage") else \
            b"<html><title>Exam platform</title>exam</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def _http_server(host: str, redirect_to: str = "") -> tuple[ThreadingHTTPServer, list[str]]:
    hits: list[str] = []
    handler = type("Handler", (_Counting,), {"hits": hits, "redirect_to": redirect_to})
    server = ThreadingHTTPServer((host, 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, hits


@pytest.fixture(scope="module")
def foreign() -> Iterator[tuple[str, list[str]]]:
    server, hits = _http_server(FOREIGN_HOST)
    try:
        yield f"http://{FOREIGN_HOST}:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def site(foreign: tuple[str, list[str]]) -> Iterator[tuple[str, list[str]]]:
    """The allowed server: the site's speed test and exam site, redirecting on request."""
    server, hits = _http_server(HOST, redirect_to=foreign[0])
    try:
        yield f"http://{HOST}:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def agent() -> Iterator[AgentServer]:
    with running(HOST, 0, TOKEN, ALLOW) as server:
        yield server


def _run(server: AgentServer, probe: str, params: dict[str, Any], deadline_s: float = 10,
         ) -> Any:
    reply = asyncio.run(call_agent(HOST, server.port, RUN, {
        "probe": probe, "params": params, "deadline_s": deadline_s}, TOKEN,
        timeout_s=deadline_s + 5))
    return reply


def _speed_params(url: str, **extra: Any) -> dict[str, Any]:
    return probe_params.speed(url=url, streams=1, latency_samples=1, **extra)


# ------------------------------------------------------------------ where a request can aim


@pytest.mark.parametrize("path", ["{foreign}/garbage", "//{foreign_netloc}/garbage",
                                  "//[{foreign_netloc}/garbage"])  # "//[": not even parseable
def test_an_absolute_garbage_path_is_refused_before_any_packet(
        agent: AgentServer, site: tuple[str, list[str]], foreign: tuple[str, list[str]],
        path: str) -> None:
    foreign_url, foreign_hits = foreign
    before = len(foreign_hits)
    garbage = path.format(foreign=foreign_url, foreign_netloc=foreign_url.split("//")[1])
    reply = _run(agent, "wan_bandwidth", _speed_params(site[0] + "/", garbage_path=garbage))
    assert (reply.http_status, reply.error_code) == (403, "target_not_allowed"), reply
    assert "garbage_path" in reply.reason and "not a path on the server" in reply.reason
    assert len(foreign_hits) == before


def test_the_probe_itself_refuses_an_absolute_garbage_path(
        site: tuple[str, list[str]], foreign: tuple[str, list[str]]) -> None:
    # without the agent's check in front: the probe's own URL building refuses it too
    foreign_url, foreign_hits = foreign
    before = len(foreign_hits)
    outcome = asyncio.run(wan_bandwidth.run(
        _speed_params(site[0] + "/", garbage_path=foreign_url + "/garbage"), 10))
    assert outcome.status.value == "error"
    assert "not a path on" in outcome.message.en
    assert len(foreign_hits) == before


def test_a_speed_test_redirect_to_a_foreign_server_is_not_followed(
        agent: AgentServer, site: tuple[str, list[str]], foreign: tuple[str, list[str]],
) -> None:
    foreign_url, foreign_hits = foreign
    # the control: run from the coordinator (no agent, no allow-list), the redirect is
    # followed, so the foreign server would be reached if the agent did not stop it
    before = len(foreign_hits)
    coordinator = asyncio.run(wan_bandwidth.run(
        _speed_params(site[0] + "/", garbage_path="to-foreign/garbage"), 10))
    assert coordinator.status.value == "pass", coordinator.message.en
    assert len(foreign_hits) > before
    before = len(foreign_hits)
    reply = _run(agent, "wan_bandwidth",
                 _speed_params(site[0] + "/", garbage_path="to-foreign/garbage"))
    assert reply.status == "ok", reply
    outcome = reply.body["outcome"]
    assert outcome["status"] == "error"
    assert f"{foreign_url}/garbage" in outcome["message"]["en"]
    assert "not in the site configuration" in outcome["message"]["en"]
    assert len(foreign_hits) == before


def test_an_exam_site_redirect_to_a_foreign_server_is_not_followed(
        agent: AgentServer, site: tuple[str, list[str]], foreign: tuple[str, list[str]],
) -> None:
    # (a redirect to a loopback address the audit takes for a block page and never
    # follows; a redirect to a name outside the site it would resolve and follow)
    foreign_url, foreign_hits = foreign
    before = len(foreign_hits)
    params = probe_params.audit(exam_urls=[site[0] + "/to-name/exam"], ipv6=False,
                                resolver_address=HOST, dns_timeout_s=0.5)
    reply = _run(agent, "url_filter", params)
    assert reply.status == "ok", reply
    (exam,) = reply.body["outcome"]["measured"]["exam"]
    assert not exam["ok"] and exam["why"] == "redirect_not_allowed", exam
    named = foreign_url.replace(FOREIGN_HOST, "foreign.example")
    assert f"redirects to {named}/exam" in exam["detail"] and "exam_urls" in exam["detail"]
    assert exam["requests"][-1].endswith("not followed: not in the site file")
    assert len(foreign_hits) == before
    # from the coordinator the same redirect is followed: the name is looked up (and here
    # does not resolve), so only the agent's refusal makes this "redirect_not_allowed"
    local = asyncio.run(url_filter.run(params, 10))
    assert local.measured["exam"][0]["why"] == "dns"


def test_control_answers_outside_the_site_are_not_tried(agent: AgentServer) -> None:
    # the caller claims games.example (a site name) lives at 127.0.0.2 (not a site address)
    params = probe_params.audit(blocked_urls=["http://games.example/"], ipv6=False,
                                resolver_address=HOST, dns_timeout_s=0.5,
                                control_answers={"games.example": [FOREIGN_HOST]})
    reply = _run(agent, "url_filter", params)
    assert reply.status == "ok", reply
    measured = reply.body["outcome"]["measured"]
    refused = [a for a in measured["attempts"] if a["technique"] == "direct_ip"
               and FOREIGN_HOST in a["request"]]
    assert refused and refused[0]["result"] == "not tried"
    assert "filter_audit.blocked_addresses" in refused[0]["note"]
    assert not any(FOREIGN_HOST in a["request"] and a["result"] != "not tried"
                   for a in measured["attempts"])
    # the verdict is the coordinator's judge's (issue 11): it names what to list
    from readiness.judges.filtering import audit
    from readiness.results import ProbeOutcome, Status, Text
    judged = audit(ProbeOutcome(Status.PASS, Text("", ""), measured), {})
    assert "blocked_addresses" in judged.message.en
    # and a name outside the site is refused before the probe starts
    bad = _run(agent, "url_filter", {**params, "control_answers": {"other.example": [HOST]}})
    assert (bad.http_status, bad.error_code) == (403, "target_not_allowed")


# every way a parameter can name a target, as the declarations mark them
ANY_TARGET = CheckKind("any", url_filter.run, (
    Param("url", TARGET, optional=True), Param("host", TARGET, optional=True),
    Param("garbage_path", PATH, optional=True), Param("empty_path", PATH, optional=True)))


@pytest.mark.parametrize("params", [
    {"url": "http://127.0.0.1@127.0.0.2/"},  # user info: parsers disagree on the host
    {"url": "http://127.0.0.2\\@127.0.0.1/"},  # a backslash: browsers read a slash
    {"host": "127.1"},  # getaddrinfo reads 127.0.0.1, and so 127.2 is 127.0.0.2
    {"host": "0x7f000002"},
    {"garbage_path": "http://127.0.0.2/x", "url": "http://127.0.0.1/"},
    {"empty_path": "\\\\127.0.0.2\\x", "url": "http://127.0.0.1/"},
    # found by tests/test_property_allow.py: the path parser's own error was an internal
    # error of the agent (500) instead of a refusal naming the parameter
    {"garbage_path": "//[", "url": "http://127.0.0.1/"},
    {"garbage_path": "//\uff20", "url": "http://127.0.0.1/"},
])
def test_ambiguous_targets_are_refused(params: dict[str, Any]) -> None:
    with pytest.raises(TargetRefused):
        check_targets(ALLOW, ANY_TARGET, params)


def test_a_relative_path_on_the_site_server_is_allowed() -> None:
    check_targets(ALLOW, wan_bandwidth.KIND, {"url": "http://127.0.0.1:8080/",
                                              "garbage_path": "backend/g.php",
                                              "empty_path": "/empty"})


# ------------------------------------------------------------------ the signature's agent


def _raw(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    lines = [f"POST {path} HTTP/1.1", f"Content-Length: {len(body)}",
             *(f"{k}: {v}" for k, v in headers.items())]
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, payload = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


def test_a_request_signed_for_one_agent_is_refused_by_another(agent: AgentServer) -> None:
    with running(HOST, 0, TOKEN, ALLOW) as other:
        body = b"{}"
        headers = sign(TOKEN, "POST", SELF_REPORT, body, agent=f"{HOST}:{agent.port}")
        status, data = _raw(other.port, SELF_REPORT, body, headers)
        assert (status, data["error"]) == (403, "wrong_agent")
        assert f"{HOST}:{agent.port}" in data["message"]
        assert f"{HOST}:{other.port}" in data["message"]
        # claiming the other agent in the header does not help: the signature is over
        # the agent as the receiving side sees itself
        forged = {**headers, AGENT_HEADER: f"{HOST}:{other.port}"}
        status, data = _raw(other.port, SELF_REPORT, body, forged)
        assert (status, data["error"]) == (403, "bad_signature")
        # the request was genuine: the agent it was signed for runs it
        status, data = _raw(agent.port, SELF_REPORT, body, headers)
        assert status == 200 and "report" in data
        # and the client signs for whichever agent it connects to
        for port in (agent.port, other.port):
            reply = asyncio.run(call_agent(HOST, port, SELF_REPORT, {}, TOKEN))
            assert reply.status == "ok", reply


# ------------------------------------------------------------------ floods


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_300_idle_connections_do_not_lock_out_a_signed_request() -> None:
    lines = _Lines()
    logger = logging.getLogger("readiness.agent")
    logger.addHandler(lines)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    idle: list[socket.socket] = []
    limits = Limits(log_interval_s=1.0, log_burst=10)
    try:
        with running(HOST, 0, TOKEN, ALLOW, limits=limits) as server:
            idle = [socket.create_connection((HOST, server.port)) for _ in range(300)]
            time.sleep(0.2)  # every one accepted by now, none has sent a byte
            assert server.connections <= limits.max_connections
            for _ in range(3):
                started = time.monotonic()
                reply = asyncio.run(call_agent(HOST, server.port, SELF_REPORT, {}, TOKEN,
                                               timeout_s=5.0))
                assert reply.status == "ok", reply
                assert time.monotonic() - started < 5.0
                # the idle ones keep coming: replace those dropped
                idle += [socket.create_connection((HOST, server.port)) for _ in range(50)]
            # idle connections end at the head deadline, not when the client gives up
            time.sleep(limits.head_timeout_s + 0.5)
            assert server.connections == 0
            time.sleep(limits.log_interval_s + 0.5)  # one summary per cause
    finally:
        for sock in idle:
            sock.close()
        logger.removeHandler(lines)
        logger.setLevel(old_level)
    connections = 300 + 3 * 50 + 3
    assert len(lines.lines) < 60, f"{len(lines.lines)} log lines for {connections} connections"
    summaries = [x for x in lines.lines if "were not logged" in x]
    assert summaries, lines.lines[-5:]
    counted = sum(int(x.split()[0]) for x in summaries)
    assert counted + len(lines.lines) - len(summaries) >= connections - 5
    assert not any(TOKEN_VALUE in x for x in lines.lines)


def test_the_log_file_is_rotated(tmp_path: Path) -> None:
    logger = logging.getLogger("readiness.agent")
    before = list(logger.handlers)
    propagate = logger.propagate
    path = tmp_path / "agent.log"
    try:
        agent_cli._logging(str(path))
        (added,) = [h for h in logger.handlers if h not in before]
        assert isinstance(added, logging.handlers.RotatingFileHandler)
        for _ in range(3):
            added.doRollover()
        logger.info("after rollover")
        added.flush()
        assert path.read_text().strip().endswith("after rollover")
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "agent.log", "agent.log.1", "agent.log.2", "agent.log.3"]
        assert added.maxBytes == agent_cli.LOG_FILE_MAX_BYTES > 0
    finally:
        for handler in [h for h in logger.handlers if h not in before]:
            logger.removeHandler(handler)
            handler.close()
        logger.propagate = propagate
