"""A province on loopback for the end-to-end alert test: certificates made with the
openssl commands docs/runbook.md gives, free ports, processes that are always stopped,
and a webhook receiver standing in for a school's robot."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """(ca.crt, province.crt, province.key), as docs/runbook.md makes them."""
    folder.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True,
                       timeout=60)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *ec, "-days", "3650", "-subj", "/CN=readiness province CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout", "ca.key", "-out", "ca.crt")
    openssl("req", *ec, "-subj", "/CN=prometheus.province.example",
            "-keyout", "province.key", "-out", "province.csr")
    (folder / "province.ext").write_text(
        "subjectAltName=DNS:prometheus.province.example,IP:127.0.0.1\n"
        "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "province.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "825", "-extfile", "province.ext",
            "-out", "province.crt")
    return folder / "ca.crt", folder / "province.crt", folder / "province.key"


def bcrypt_hash(user: str, password: str) -> str:
    out = subprocess.run(["htpasswd", "-nbBC", "10", user, password], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    return out.strip().split(":", 1)[1]


class Hooks:
    """A webhook receiver on loopback: every Alertmanager POST, in arrival order."""

    def __init__(self) -> None:
        self.posts: list[tuple[float, str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with hooks._lock:
                    hooks.posts.append((time.monotonic(), self.path, json.loads(body)))
                # what a robot answers when it took the message
                answer = b'{"errcode": 0, "errmsg": "ok"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def alerts(self, since: float = 0.0) -> list[tuple[float, str, dict[str, Any]]]:
        """(arrival, the post's status for this alert, the alert) for each alert posted."""
        with self._lock:
            return [(at, a["status"], a) for at, _, post in self.posts if at >= since
                    for a in post.get("alerts", [])]

    def robot_posts(self, since: float = 0.0) -> list[tuple[float, str, dict[str, Any]]]:
        """(arrival, path with query, body) of each post in a robot's format."""
        with self._lock:
            return [p for p in self.posts if p[0] >= since and "msgtype" in p[2]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Province:
    """How the test reads the provincial Prometheus: HTTPS with the test CA, a login."""

    def __init__(self, port: int, ca: Path, user: str, password: str):
        self.base = f"https://127.0.0.1:{port}"
        self.context = ssl.create_default_context(cafile=str(ca))
        self.auth = "Basic " + b64encode(f"{user}:{password}".encode()).decode()

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = f"{self.base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        request = urllib.request.Request(url, headers={"Authorization": self.auth})
        try:
            with urllib.request.urlopen(request, timeout=10, context=self.context) as r:
                return json.loads(r.read())["data"]["result"]
        except OSError:
            return []

    def write_status(self, headers: dict[str, str], context: ssl.SSLContext | None = None,
                     ) -> int:
        """The HTTP status of a remote write (an empty body: only the door is tested)."""
        request = urllib.request.Request(f"{self.base}/api/v1/write", data=b"",
                                         method="POST", headers={
                                             "Content-Type": "application/x-protobuf",
                                             "Content-Encoding": "snappy", **headers})
        try:
            with urllib.request.urlopen(request, timeout=10,
                                        context=context or self.context) as r:
                return r.status
        except urllib.error.HTTPError as err:
            return err.code


def wait_for(what: str, check: Any, timeout_s: float, step_s: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step_s)
    raise AssertionError(f"not within {timeout_s:g} s: {what}")
