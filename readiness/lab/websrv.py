"""The lab's web servers: one process, one site per (address, port).

Run inside a lab namespace as
`python -m readiness.lab.websrv --site 198.51.100.10:80=exam --site ...`; a site given with
`--tls-site 198.51.100.10:443=exam` speaks HTTPS with the certificate `--cert exam=PREFIX`
names (PREFIX.crt, PREFIX.key, made by readiness.lab.tls when the lab is built).
Kinds: exam (exam.example), games / video (blocked samples), speed (LibreSpeed-compatible
endpoints plus a large file), router (the router's management page), examserver (the
exam service on the room's server), doh (DNS-over-HTTPS, RFC 8484, at `/dns-query`,
answered by the DNS server on the same address: the public resolver's DoH front end).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import html
import json
import logging
import os
import re
import signal
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger("readiness.lab.websrv")

MIB = 1 << 20
MAX_GARBAGE_MIB = 1024  # LibreSpeed's own cap on ckSize
# LibreSpeed's garbage.php also repeats one random chunk: random enough that nothing on
# the path can compress it, cheap enough to stream at line rate from Python.
CHUNK = os.urandom(MIB)
FILE_PATH = re.compile(r"^/file/(\d+)(MB|GB)\.bin$")
DOH_PATH = "/dns-query"
DOH_TYPE = "application/dns-message"
MAX_DNS_MESSAGE = 65535

PAGES = {
    "exam": ("Exam platform", "Exam platform: candidate login (exam.example, readiness lab)."),
    "games": ("Games", "games.example: a site the exam room must block."),
    "video": ("Video", "video.example: a site the exam room must block."),
    "speed": ("Speed test", "speed.example: /garbage?ckSize=N, /empty, /file/100MB.bin"),
    "router": ("Router management", "Router management: behaviour management gateway login."),
    "examserver": ("Exam server", "Exam server: exam service is running."),
    "doh": ("DNS over HTTPS", "doh.example: DNS-over-HTTPS (RFC 8484) at /dns-query."),
    # what the router serves, with its own certificate, in place of a blocked HTTPS site
    "blocknotice": ("Access denied", "Access denied: this site is blocked by the exam room's "
                    "router. 访问被拒绝：该网站已被拦截。"),
}


# What a hostile site may put in its title: the report must show it as text, not run it.
HOSTILE_TITLE = "<script>alert(1)</script>"


class SiteHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as browsers and LibreSpeed expect
    server_version = "readiness-lab"
    timeout = 60  # an idle client does not hold a thread forever
    kind = "exam"
    hostile_title = False  # serve HOSTILE_TITLE, unescaped, as the page's title

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        log.info("%s %s %s", self.server.server_address[0], self.client_address[0], format % args)

    # -- routing -------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if self.kind == "speed" and url.path == "/empty":
            self._discard_body()
            self._send(200, b"", "text/plain")
        elif self.kind == "doh" and url.path == DOH_PATH:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_DNS_MESSAGE:
                self._discard_body()
                return self._send(400, b"bad DNS message length\n", "text/plain")
            self._doh(self.rfile.read(length))
        else:
            self._discard_body()
            self._send(405, b"method not allowed\n", "text/plain")

    def _dispatch(self, head: bool) -> None:
        url = urlsplit(self.path)
        if self.kind == "doh" and url.path == DOH_PATH and not head:
            try:
                query = base64.urlsafe_b64decode(parse_qs(url.query)["dns"][0] + "==")
            except (KeyError, binascii.Error, ValueError):
                return self._send(400, b"missing or bad ?dns=\n", "text/plain")
            return self._doh(query)
        if self.kind == "speed":
            if url.path == "/garbage":
                return self._stream(self._ck_size(url.query) * MIB, head)
            if url.path == "/empty":
                return self._send(200, b"", "text/plain", head=head)
            if url.path == "/getIP":
                body = json.dumps(
                    {"processedString": self.client_address[0], "rawIspInfo": ""}
                ).encode()
                return self._send(200, body, "application/json", head=head)
            match = FILE_PATH.match(url.path)
            if match:
                unit = MIB if match.group(2) == "MB" else 1024 * MIB
                return self._stream(int(match.group(1)) * unit, head)
        if url.path in ("/", "/index.html"):
            title, text = PAGES[self.kind]
            head_title = HOSTILE_TITLE if self.hostile_title else html.escape(title)
            page = (
                f"<!doctype html><html><head><meta charset=utf-8><title>{head_title}"
                f"</title></head><body><h1>{html.escape(title)}</h1><p>{html.escape(text)}"
                "</p></body></html>\n"
            )
            return self._send(200, page.encode(), "text/html; charset=utf-8", head=head)
        self._send(404, b"not found\n", "text/plain", head=head)

    # -- helpers -------------------------------------------------------------------------

    def _doh(self, query: bytes) -> None:
        """Relay the wire query to the DNS server on our own address (port 53): the
        answer is exactly what that resolver would give over UDP."""
        upstream = (self.server.server_address[0], 53)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(2.0)
            try:
                sock.sendto(query, upstream)
                answer = sock.recv(MAX_DNS_MESSAGE)
            except OSError:
                return self._send(502, b"upstream DNS did not answer\n", "text/plain")
        self._send(200, answer, DOH_TYPE)

    @staticmethod
    def _ck_size(query: str) -> int:
        try:
            size = int(parse_qs(query).get("ckSize", ["4"])[0])
        except ValueError:
            size = 4
        return max(1, min(size, MAX_GARBAGE_MIB))

    def _headers(self, code: int, length: int, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()

    def _send(self, code: int, body: bytes, ctype: str, head: bool = False) -> None:
        self._headers(code, len(body), ctype)
        if not head:
            self.wfile.write(body)

    def _stream(self, length: int, head: bool) -> None:
        self._headers(200, length, "application/octet-stream")
        if head:
            return
        view = memoryview(CHUNK)
        left = length
        try:
            while left > 0:
                n = min(left, MIB)
                self.wfile.write(view[:n])
                left -= n
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _discard_body(self) -> None:
        """Read and drop an upload (Content-Length or chunked), as LibreSpeed's empty.php."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                self._drain(size)
                self.rfile.readline()
        else:
            self._drain(int(self.headers.get("Content-Length") or 0))

    def _drain(self, size: int) -> None:
        while size > 0:
            data = self.rfile.read(min(size, 1 << 16))
            if not data:
                self.close_connection = True
                return
            size -= len(data)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # forty seats' audits at once (each up to 64 requests in flight): a short accept queue
    # drops SYNs, which a seat reads as a silent drop of the site (a lab artefact)
    request_queue_size = 4096


class Server6(Server):
    address_family = socket.AF_INET6


def serve_tls(server: Server, cert_prefix: str) -> None:
    """Wrap the listening socket: each connection's handshake then runs in its own
    handler thread (not in the accept loop), so a client that stalls its ClientHello
    holds up nobody."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(f"{cert_prefix}.crt", f"{cert_prefix}.key")
    server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                    do_handshake_on_connect=False)


def parse_site(text: str) -> tuple[str, int, str]:
    """ADDRESS:PORT=KIND, an IPv6 address in brackets ([2001:db8::20]:80=games)."""
    match = re.fullmatch(r"(?:([0-9.]+)|\[([0-9a-fA-F:]+)\]):(\d+)=(\w+)", text)
    if not match or match.group(4) not in PAGES:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected ADDRESS:PORT=KIND, KIND one of {', '.join(PAGES)}"
        )
    return match.group(1) or match.group(2), int(match.group(3)), match.group(4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--site", type=parse_site, action="append", default=[])
    parser.add_argument("--tls-site", type=parse_site, action="append", default=[],
                        help="ADDRESS:PORT=KIND served over HTTPS (needs --cert KIND=PREFIX)")
    parser.add_argument("--cert", action="append", default=[],
                        help="KIND=PREFIX: PREFIX.crt and PREFIX.key for that kind's HTTPS")
    parser.add_argument("--label", default="", help="the lab namespace (to find us in ps)")
    parser.add_argument("--hostile-title", action="append", default=[], choices=list(PAGES),
                        help=f"pages of this kind have the raw title {HOSTILE_TITLE}")
    args = parser.parse_args(argv)
    certs = dict(c.split("=", 1) for c in args.cert)
    missing = sorted({kind for _, _, kind in args.tls_site} - set(certs))
    if missing:
        parser.error(f"--tls-site of {', '.join(missing)} without --cert KIND=PREFIX")
    if not args.site and not args.tls_site:
        parser.error("give at least one --site or --tls-site")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    servers: list[Server] = []
    sites = [(*x, False) for x in args.site] + [(*x, True) for x in args.tls_site]
    for address, port, kind, tls in sites:
        handler = type(f"{kind}Handler", (SiteHandler,),
                       {"kind": kind, "hostile_title": kind in args.hostile_title})
        server_class = Server6 if ":" in address else Server
        server = server_class((address, port), handler)
        if tls:
            serve_tls(server, certs[kind])
        servers.append(server)
        log.info("serving %s on %s:%d%s", kind, address, port, " (HTTPS)" if tls else "")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    while not stop.wait(0.2):
        pass
    # No shutdown(): it waits out serve_forever's poll interval, and `lab down` should be
    # quick. Closing the sockets and leaving with the daemon threads is enough.
    for server in servers:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
