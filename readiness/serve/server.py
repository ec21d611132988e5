"""The HTTP side of `readiness serve`: the live page, its state and events, /metrics,
/healthz, and "run now" (only for a caller holding the site token)."""

from __future__ import annotations

import hmac
import json
import logging
import queue
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..results import Text
from .page import PAGE
from .state import LiveState

log = logging.getLogger(__name__)

KEEPALIVE_S = 15.0


class ServeHTTP(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: LiveState, token: str | None,
                 run_now: Callable[[], Text]):
        self.state, self.token, self.run_now = state, token, run_now
        self.closing = threading.Event()
        super().__init__(address, Handler)


class Handler(BaseHTTPRequestHandler):
    server: ServeHTTP
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, data: dict[str, Any]) -> None:
        self._send(code, json.dumps(data, ensure_ascii=False).encode(),
                   "application/json; charset=utf-8")

    def do_GET(self) -> None:  # noqa: N802 - the base's name
        path = self.path.split("?", 1)[0]
        state = self.server.state
        if path == "/":
            self._send(200, PAGE.encode(), "text/html; charset=utf-8")
        elif path == "/metrics":
            self._send(200, state.metrics_text(), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            ok, text = state.healthy()
            self._json(200 if ok else 503, {"ok": ok, "message": text.to_dict()})
        elif path == "/api/state":
            self._json(200, state.page())
        elif path == "/events":
            self._events()
        else:
            self._json(404, {"message": Text(f"no page {path}: try / or /metrics",
                                             f"没有页面 {path}：请访问 / 或 /metrics").to_dict()})

    def do_POST(self) -> None:  # noqa: N802 - the base's name
        if self.path.split("?", 1)[0] != "/run":
            self._json(404, {"message": Text("POST only /run", "只能 POST /run").to_dict()})
            return
        token = self.server.token
        if not token:
            self._json(403, {"message": Text(
                "run now is off: the site file has no agent.token; set one (secret:NAME) to "
                "allow it",
                "“立即检查”未启用：站点文件没有 agent.token；设置后才能使用").to_dict()})
            return
        given = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            log.warning("run now refused: wrong or missing site token from %s",
                        self.address_string())
            self._json(401, {"message": Text(
                "wrong site token: give the site's agent.token to start a run",
                "站点令牌不正确：请输入站点的 agent.token").to_dict()})
            return
        self._json(202, {"message": self.server.run_now().to_dict()})

    def _events(self) -> None:
        state = self.server.state
        q = state.subscribe()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(b"retry: 2000\n\n")
            self.wfile.flush()
            while not self.server.closing.is_set():
                try:
                    event, data = q.get(timeout=KEEPALIVE_S)
                    self.wfile.write(f"event: {event}\ndata: {data}\n\n".encode())
                except queue.Empty:
                    self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away
        finally:
            state.unsubscribe(q)
            self.close_connection = True


def parse_listen(text: str) -> tuple[str, int]:
    """ADDR:PORT (or [v6]:PORT); raises ValueError naming the expected form."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen {text!r}: expected ADDRESS:PORT, e.g. 127.0.0.1:9477")
    return host.strip("[]") or "0.0.0.0", int(port)
