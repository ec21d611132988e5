"""Issue 20, break 5: `readiness serve` could be silenced. A thread per connection and no
deadline: idle connections up to the file limit made /healthz, the page and "run now" time
out; no Host check (a DNS-rebinding page read /api/state); a client reset printed a
traceback; refused "run now" requests each wrote a log line to a file never rotated; a
POST body was not read, so on keep-alive it was parsed as the next request.

The real command (`python -m readiness serve`) runs on loopback in a subprocess whose
open-files limit is 256, a quarter of the limit the shipped unit used to leave it, so a
few hundred idle connections are enough to show what a thousand did. Its runs check only
SERVER-SPARE, not a rule of the lab site's certificate: a run sends nothing anywhere."""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import resource
import socket
import struct
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from serve_site import REPO, RUN_NOW_TOKEN, make_site

from readiness.agent import auth
from readiness.redact import Secret

CODE = "SITE-H"
FILE_LIMIT = 256
IDLE = 300  # more idle connections than the service may open files


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _small_file_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve-hardening")
    site = make_site(folder, CODE, exam_in=timedelta(days=30))
    port = _free_port()
    log_file, stderr = folder / "serve.log", folder / "stderr.txt"
    with open(stderr, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "readiness", "--lang", "en", "serve", str(site),
             "--store", str(folder / "readiness.sqlite"), "--log", str(folder / "evidence.jsonl"),
             "--dir", str(folder / "keys"), "--jobs", str(folder / "schedule.sqlite"),
             "--only", "SERVER-SPARE", "--listen", f"127.0.0.1:{port}",
             "--log-file", str(log_file)],
            cwd=folder, stdout=subprocess.DEVNULL, stderr=err, preexec_fn=_small_file_limit,
            env=dict(os.environ, PYTHONPATH=os.pathsep.join(
                [str(REPO), os.environ.get("PYTHONPATH", "")])))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, stderr.read_text()
            assert time.monotonic() < deadline, "readiness serve did not come up"
            time.sleep(0.2)
        yield port, log_file, stderr
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _get(port: int, path: str, *, host: str | None = None, timeout: float = 3.0,
         method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True)
        conn.putheader("Host", host if host is not None else f"127.0.0.1:{port}")
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def sign(token: Secret) -> dict[str, str]:
    """A run-now request as the page makes it: the agents' scheme, for this service."""
    return auth.sign(token, "POST", "/run", b"", agent=f"readiness-serve/{CODE}/run-now")


def _signed_run_now() -> dict[str, str]:
    return sign(Secret(RUN_NOW_TOKEN, "secret:run_now_token"))


@pytest.mark.parametrize("seats", [1, 40])
def test_idle_connections_do_not_silence_healthz_or_run_now(served, seats):
    """The idle connections come from one seat PC or from forty (127.0.0.2, ...), /healthz
    and "run now" from another address (Prometheus and the staff's browser: 127.0.0.1)."""
    port, _, _ = served
    idle = []
    try:
        for n in range(IDLE):
            idle.append(socket.create_connection(
                ("127.0.0.1", port), timeout=5, source_address=(f"127.0.0.{2 + n % seats}", 0)))
        for _ in range(5):
            started = time.monotonic()
            status, _body = _get(port, "/healthz")
            assert status == 200 and time.monotonic() - started < 1.0
        started = time.monotonic()
        status, body = _get(port, "/run", method="POST", headers=_signed_run_now())
        assert status in (200, 202), body  # queued, or joined a run already queued
        assert time.monotonic() - started < 1.0
        assert _get(port, "/")[0] == 200
    finally:
        for sock in idle:
            sock.close()


@pytest.mark.parametrize("path", ["/api/state", "/metrics", "/healthz", "/"])
def test_only_its_own_names_are_answered(served, path):
    port, _, _ = served
    # a rebinding page: the browser connects to the service but names the page's site
    status, body = _get(port, path, host=f"rebind.attacker.example:{port}")
    assert status == 421
    assert b"rebind.attacker.example" in body and f"127.0.0.1:{port}".encode() in body
    assert b"seats" not in body and b"readiness_" not in body
    assert _get(port, path, host="")[0] == 421  # no Host at all
    assert _get(port, path)[0] == 200  # the address it was opened by
    assert _get(port, path, host=f"localhost:{port}")[0] == 200  # loopback's own name


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_a_client_reset_is_not_worth_a_traceback(served):
    port, log_file, stderr = served
    head = f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    for sent in (b"", head[:10], head):  # before a byte, mid-head, before reading the answer
        for _ in range(5):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if sent:
                sock.sendall(sent)
            time.sleep(0.02)
            _reset(sock)
    time.sleep(0.3)
    assert _get(port, "/healthz")[0] == 200
    for written in (stderr, log_file):
        text = written.read_text(encoding="utf-8", errors="replace")
        assert "Traceback" not in text and "Exception occurred" not in text, text[-2000:]


def _responses(sock: socket.socket) -> list[tuple[int, bytes]]:
    """Every answer on the connection until the service closes it."""
    sock.settimeout(5)
    reader = sock.makefile("rb")
    found = []
    while True:
        line = reader.readline()
        if not line:
            return found
        status = int(line.split()[1])
        length = 0
        while (header := reader.readline()) not in (b"\r\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        found.append((status, reader.read(length)))


def test_a_post_body_is_never_taken_for_the_next_request(served):
    port, _, _ = served
    smuggled = f"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"POST /run HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                     f"Content-Length: {len(smuggled)}\r\n\r\n".encode() + smuggled
                     + f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                       "Connection: close\r\n\r\n".encode())
        answers = _responses(sock)
    assert [status for status, _ in answers] == [401, 200], answers
    assert json.loads(answers[1][1])["ok"] is True  # /healthz, not /api/state
    # a body larger than the service reads is refused and the connection closed
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"POST /run HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                     "Content-Length: 10000000\r\n\r\n".encode() + smuggled)
        assert [status for status, _ in _responses(sock)] == [413]


def test_refused_run_now_requests_leave_a_few_log_lines(served):
    port, log_file, _ = served
    wrong = Secret("not-the-run-now-token-" + "x" * 20, "wrong")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        for _ in range(200):
            conn.request("POST", "/run", headers=sign(wrong))
            response = conn.getresponse()
            response.read()
            assert response.status in (401, 403)
    finally:
        conn.close()
    lines = [line for line in log_file.read_text(encoding="utf-8").splitlines()
             if "run now refused" in line]
    assert 1 <= len(lines) <= 25, len(lines)
    assert not any(RUN_NOW_TOKEN in line or wrong.reveal() in line for line in lines)


def test_the_log_file_is_rotated(tmp_path: Path):
    from readiness.commands.schedule import _logging

    path = tmp_path / "serve.log"
    loggers = {name: (logging.getLogger(name).level, logging.getLogger(name).propagate)
               for name in ("readiness", "apscheduler")}
    handler = _logging(str(path), [], max_bytes=4096, backups=2)
    try:
        for n in range(2000):
            logging.getLogger("readiness.serve.server").warning(
                "run now refused from 198.51.100.%d: bad_signature", n % 250)
    finally:
        for name, (level, propagate) in loggers.items():
            logging.getLogger(name).removeHandler(handler)
            logging.getLogger(name).setLevel(level)
            logging.getLogger(name).propagate = propagate
        handler.close()
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == ["serve.log", "serve.log.1", "serve.log.2"]
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) <= 3 * 4096


def test_the_shipped_unit_raises_the_file_limit():
    unit = (REPO / "config" / "readiness-serve.service").read_text(encoding="utf-8")
    found = re.search(r"^LimitNOFILE=(\d+)$", unit, re.M)
    assert found and int(found.group(1)) >= 8192
