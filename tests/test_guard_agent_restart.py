"""A request captured before the agent restarted cannot be replayed after it.

The agent remembers the nonces it has seen in memory only. Before, restarting it (a
reboot, a service restart, a crash) emptied that memory while the request's time was
still inside the 30 s window, so a captured request ran a second time. Now a request
signed before the agent started is refused. A real `readiness agent` process, stopped
and started again on the same port; the request replayed byte for byte.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from readiness.agent.auth import sign
from readiness.agent.client import call_agent
from readiness.redact import Secret

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
TOKEN = Secret("Xq0vH2mE7sLk9TzR4wNb8YcJ1pUf6GdA3oVi5KeM_Z-", "secret:agent_token")
PATH = "/v1/self-report"


def _site(tmp_path: Path) -> Path:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(f"agent_token: {TOKEN.reveal()}\n")
    secrets.chmod(0o600)
    site = {"site": {"name": "Restart test", "code": "R-7"}, "profile": "cbec",
            "secrets_file": str(secrets), "agent": {"port": 8765, "token": "secret:agent_token"},
            "rooms": [{"id": "r1", "subnet": "198.51.100.0/24",
                       "router": {"address": "198.51.100.1"},
                       "exam_servers": {"primary": {"address": "198.51.100.10"}},
                       "proctor": {"address": "198.51.100.2"},
                       "seats": {"A01": "198.51.100.101"}}]}
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(site))
    return tmp_path / "site.yaml"


def _send(port: int, raw: bytes) -> tuple[int, dict[str, Any]]:
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(raw)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, payload = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


@contextmanager
def _agent(site: Path, port: int) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "readiness.agent", "--config", str(site), "--bind", HOST,
         "--port", str(port)], cwd=REPO, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection((HOST, port), timeout=1):
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "no agent"
                time.sleep(0.05)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_request_from_before_a_restart_is_refused(tmp_path: Path) -> None:
    site = _site(tmp_path)
    with socket.socket() as spare:
        spare.bind((HOST, 0))
        port = spare.getsockname()[1]
    body = b"{}"
    with _agent(site, port):
        headers = sign(TOKEN, "POST", PATH, body, agent=f"{HOST}:{port}")
        captured = ("\r\n".join([f"POST {PATH} HTTP/1.1", f"Host: {HOST}:{port}",
                                 f"Content-Length: {len(body)}",
                                 *(f"{k}: {v}" for k, v in headers.items())])
                    + "\r\n\r\n").encode() + body
        status, _ = _send(port, captured)
        assert status == 200
        status, data = _send(port, captured)  # the ordinary replay, same process
        assert (status, data["error"]) == (403, "replayed")
    # the restart lands in a later second than the signature, well inside the window
    while int(time.time()) <= int(headers["X-Readiness-Time"]):
        time.sleep(0.05)
    with _agent(site, port):
        status, data = _send(port, captured)
        # (before: 200, the probe ran a second time)
        assert (status, data.get("error")) == (401, "expired"), data
        assert "before this agent started" in data["message"]
        assert int(headers["X-Readiness-Time"]) > time.time() - 30  # still in the window
        # a request signed now is served as before
        fresh = asyncio.run(call_agent(HOST, port, PATH, {}, TOKEN))
        assert fresh.status == "ok" and fresh.clock_skew_s is None


def test_a_caller_whose_clock_is_behind_still_gets_through_after_a_restart(
        tmp_path: Path) -> None:
    """The agent tells its time with the refusal; the caller signs again by it."""
    from readiness.agent.allow import AllowList
    from readiness.agent.server import running

    allow = AllowList.of(["198.51.100.0/24"])
    # the agent's clock 10 s ahead of ours: whatever we sign now predates its start
    with running(HOST, 0, TOKEN, allow, clock=lambda: time.time() + 10) as agent:
        reply = asyncio.run(call_agent(HOST, agent.port, PATH, {}, TOKEN))
    assert reply.status == "ok", reply.reason
    assert reply.clock_skew_s is not None and 9 <= reply.clock_skew_s <= 11
