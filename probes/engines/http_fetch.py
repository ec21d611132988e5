"""One HTTP/1.1 request over asyncio, and exactly which layer answered.

A filter audit needs to know *how* a request was stopped, not just that it failed:
a silent drop (no answer to the SYN), a TCP reset, an ICMP reject, a reset during
the TLS handshake (an SNI filter), a reset or drop after the request was sent (a URL
or keyword filter), or an HTTP answer (a block page, or the real site: a leak). An
HTTP library folds all of these into a few exception types, so this module speaks
the protocol itself: connect, optional TLS with the given SNI name, one request with
`Connection: close`, read a capped body.

The caller resolves names (with the seat's resolver, see dns_query) and passes the
address to connect to, so the request goes exactly where the audit says it does.
Sockets are created in the running loop's thread: a test that runs the loop in a
thread inside a network namespace gets the namespace's sockets.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import re
import ssl
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

# Outcomes, from the earliest layer to the latest.
CONNECT_TIMEOUT = "connect_timeout"  # no answer to the SYN: a silent drop
CONNECT_RESET = "connect_reset"  # RST to the SYN
UNREACHABLE = "unreachable"  # ICMP host/net/admin unreachable, or no route
TLS_RESET = "tls_reset"  # reset or closed during the handshake (after the SNI was sent)
TLS_DROP = "tls_drop"  # the ClientHello got no answer at all
TLS_ERROR = "tls_error"  # alert or a certificate that does not prove the name
HTTP_RESET = "http_reset"  # reset after the request was sent
HTTP_TIMEOUT = "http_timeout"  # request sent, no answer
HTTP_CLOSED = "http_closed"  # closed without a status line
RESPONSE = "response"  # an HTTP status line arrived
ERROR = "error"  # anything else (bad URL, local socket trouble)

BLOCKED_BEFORE_HTTP = frozenset({CONNECT_TIMEOUT, CONNECT_RESET, UNREACHABLE, TLS_RESET,
                                 TLS_DROP})

DEFAULT_MAX_BODY = 64 * 1024
MAX_HEAD = 64 * 1024
# what a filter answers with (connection or handshake stopped): after a handshake that
# already brought the site's certificate, such an answer is load, not the filter
_STOPS = frozenset({CONNECT_TIMEOUT, CONNECT_RESET, UNREACHABLE, TLS_RESET, TLS_DROP})
# connections past a certificate warning before a stop there is called load
PAST_WARNING_TRIES = 2
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) readiness-filter-audit/1"

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)


@dataclass
class Fetch:
    """One request and what came back. `describe()` is the line a report shows."""

    method: str
    url: str  # as requested (host part may be an address)
    host: str  # Host header / SNI name
    address: str  # the address actually connected to
    port: int
    outcome: str = ERROR
    status: int | None = None
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    body_bytes: int = 0
    elapsed_ms: float = 0.0
    tls: dict[str, Any] | None = None
    detail: str = ""

    @property
    def title(self) -> str:
        match = _TITLE.search(self.body[:8192])
        if not match:
            return ""
        return re.sub(r"\s+", " ", match.group(1).decode("utf-8", "replace")).strip()[:120]

    @property
    def location(self) -> str:
        return self.headers.get("location", "")

    def request_text(self) -> str:
        """`GET http://198.51.100.20/ Host: games.example` (the Host only when it differs
        from the URL's host, i.e. the request went to an address)."""
        url_host = urlsplit(self.url).hostname or ""
        text = f"{self.method} {self.url}"
        if self.host and self.host.lower() != url_host.lower():
            text += f" Host: {self.host}"
        elif self.address and self.address != url_host:
            text += f" ({self.address})"
        return text

    def result_text(self) -> str:
        if self.outcome == RESPONSE:
            extra = f" -> {self.location}" if self.location and 300 <= (self.status or 0) < 400 \
                else ""
            return f"{self.status} ({self.body_bytes} bytes){extra}"
        return {
            CONNECT_TIMEOUT: "no answer to the connection (silent drop)",
            CONNECT_RESET: "connection reset (TCP RST)",
            UNREACHABLE: "unreachable (ICMP reject or no route)",
            TLS_RESET: f"reset at the TLS ClientHello (SNI {self.host})",
            TLS_DROP: f"no answer to the TLS ClientHello (SNI {self.host})",
            TLS_ERROR: f"TLS failed: {self.detail}",
            HTTP_RESET: "reset after the request was sent",
            HTTP_TIMEOUT: "no answer to the request",
            HTTP_CLOSED: "closed without an answer",
        }.get(self.outcome, f"error: {self.detail}")

    def describe(self) -> str:
        return f"{self.request_text()} -> {self.result_text()}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "request": self.request_text(), "outcome": self.outcome,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }
        if self.outcome == RESPONSE:
            out.update(status=self.status, bytes=self.body_bytes)
            if self.title:
                out["title"] = self.title
            if self.location:
                out["location"] = self.location
        if self.tls:
            out["tls"] = self.tls
        if self.detail:
            out["detail"] = self.detail
        return out


def _connect_outcome(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, TimeoutError):
        return CONNECT_TIMEOUT, ""
    if isinstance(exc, ConnectionRefusedError):
        return CONNECT_RESET, ""
    if isinstance(exc, OSError) and exc.errno in (
        errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EACCES, errno.EPERM,
    ):
        return UNREACHABLE, exc.strerror or str(exc)
    return ERROR, f"{type(exc).__name__}: {exc}"


def tls_context(verify: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if not verify:
        # A router's management page has a self-signed certificate; proving that it
        # answers must not depend on a CA it never had.
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _tls_info(writer: asyncio.StreamWriter) -> dict[str, Any] | None:
    obj = writer.get_extra_info("ssl_object")
    if obj is None:
        return None
    info: dict[str, Any] = {"version": obj.version(), "cipher": (obj.cipher() or ("",))[0]}
    cert = obj.getpeercert()
    if cert:
        subject = dict(x[0] for x in cert.get("subject", ()))
        info["subject_cn"] = subject.get("commonName", "")
        info["not_after"] = cert.get("notAfter", "")
    der = obj.getpeercert(binary_form=True)
    if der:
        info.update(certificate_facts(der))
    return info


def certificate_facts(der: bytes) -> dict[str, Any]:
    """What a certificate says of itself, read without trusting it: whose it is (its
    names), who issued it and its SHA-256 fingerprint. A filter audit compares them with
    the name it asked for: a router's own certificate names the router, not the site."""
    import hashlib

    from cryptography import x509
    from cryptography.x509.oid import NameOID

    out: dict[str, Any] = {"sha256": hashlib.sha256(der).hexdigest()}
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return out

    def cn(name: x509.Name) -> str:
        found = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(found[0].value) if found else ""

    names: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = [str(n) for n in san.value.get_values_for_type(x509.DNSName)]
        names += [str(a) for a in san.value.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    subject_cn = cn(cert.subject)
    out.update(subject_cn=subject_cn, issuer_cn=cn(cert.issuer),
               names=names or ([subject_cn] if subject_cn else []))
    return out


def certificate_names_host(tls: dict[str, Any] | None, host: str) -> bool:
    """The certificate was issued for `host` (one `*.` wildcard label allowed)."""
    host = host.lower().rstrip(".")
    for name in (tls or {}).get("names", []):
        name = str(name).lower().rstrip(".")
        if name == host or (name.startswith("*.") and "." in host
                            and host.split(".", 1)[1] == name[2:]):
            return True
    return False


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP status line: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), value.strip())
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


def _dechunk(raw: bytes) -> bytes:
    """Decode as much of a chunked body as arrived (a capped read may cut it short)."""
    out = bytearray()
    pos = 0
    while True:
        end = raw.find(b"\r\n", pos)
        if end < 0:
            break
        try:
            size = int(raw[pos:end].split(b";")[0].strip() or b"0", 16)
        except ValueError:
            break
        if size == 0:
            break
        out += raw[end + 2:end + 2 + size]
        pos = end + 2 + size + 2
        if pos > len(raw):
            break
    return bytes(out)


def url_with_address(url: str, address: str) -> str:
    """The same URL with its host replaced by an address (IPv6 in brackets)."""
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()


def join_on_server(base: str, path: str) -> str:
    """`path` (relative, or absolute on the same server) joined to the URL `base`.
    Raises ValueError for anything that would leave `base`'s server: `urljoin` lets an
    absolute URL or a "//host" path replace the server, which a parameter that names a
    path must never do."""
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or path.startswith(("//", "\\")) or "\\" in path:
        raise ValueError(f"{path[:200]!r} is not a path on {base}: give a path such as "
                         "backend/garbage.php, not a URL")
    joined = urljoin(base, path)
    if urlsplit(joined)[:2] != urlsplit(base)[:2]:
        raise ValueError(f"{path[:200]!r} leads away from {base}")
    return joined


def default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def fetch(url: str, *, address: str | None = None, host: str | None = None,
                method: str = "GET", body: bytes | None = None,
                headers: dict[str, str] | None = None, connect_timeout_s: float = 3.0,
                timeout_s: float = 5.0, verify_tls: bool = True,
                max_body: int = DEFAULT_MAX_BODY, user_agent: str = USER_AGENT,
                past_warning: bool = False) -> Fetch:
    """Send one request to `address` (default: the URL's host, which must then be an
    address) with Host/SNI `host` (default: the URL's host). Never raises for network
    trouble: the outcome says what happened.

    `past_warning`: a certificate that does not verify is what a browser warns about;
    go on past the warning as a candidate could (a second handshake without
    verification) and read the page, with the warning in `tls["warning"]`."""
    parts = urlsplit(url)
    url_host = parts.hostname or ""
    name = host or url_host
    target = address or url_host
    scheme = parts.scheme.lower()
    port = parts.port or default_port(scheme)
    result = Fetch(method, url, name, target, port)
    if scheme not in ("http", "https") or not target:
        result.detail = f"not an http(s) URL: {url}"
        return result
    if not is_address(target):
        result.detail = f"{target} is a name: resolve it first"
        return result
    started = time.monotonic()
    try:
        await _exchange(result, parts, scheme, body, headers or {}, connect_timeout_s,
                        timeout_s, verify_tls, max_body, user_agent)
        warning = result.detail.removeprefix("certificate: ")
        if past_warning and verify_tls and result.outcome == TLS_ERROR \
                and result.detail.startswith("certificate: "):
            for _ in range(PAST_WARNING_TRIES):
                behind = Fetch(result.method, result.url, result.host, result.address,
                               result.port)
                await _exchange(behind, parts, scheme, body, headers or {},
                                connect_timeout_s, timeout_s, False, max_body, user_agent)
                if behind.outcome not in _STOPS:
                    break
            if behind.outcome in _STOPS:
                # The first handshake reached the site and brought its certificate: a
                # filter stops that one too. A stop of the next connection only is a
                # busy seat or path, never proof of a block (nor of a leak).
                said = behind.result_text()
                behind.outcome, behind.detail = ERROR, (
                    f"the site's TLS answered with its certificate, then going past the "
                    f"warning got {said} twice: too busy to tell")
            behind.tls = {**(behind.tls or {}), "warning": warning}
            result = behind
        return result
    finally:
        result.elapsed_ms = (time.monotonic() - started) * 1000


async def _exchange(result: Fetch, parts: Any, scheme: str, body: bytes | None,
                    headers: dict[str, str], connect_timeout_s: float, timeout_s: float,
                    verify_tls: bool, max_body: int, user_agent: str) -> Fetch:
    try:
        async with asyncio.timeout(connect_timeout_s):
            reader, writer = await asyncio.open_connection(result.address, result.port)
    except (OSError, TimeoutError) as exc:
        result.outcome, result.detail = _connect_outcome(exc)
        return result
    try:
        if scheme == "https":
            sni = None if is_address(result.host) else result.host
            try:
                async with asyncio.timeout(timeout_s):
                    await writer.start_tls(tls_context(verify_tls), server_hostname=sni)
            except ssl.SSLCertVerificationError as exc:
                result.outcome, result.detail = TLS_ERROR, f"certificate: {exc.verify_message}"
                return result
            except ssl.SSLError as exc:
                result.outcome, result.detail = TLS_ERROR, exc.reason or str(exc)
                return result
            except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError,
                    EOFError, asyncio.IncompleteReadError):
                result.outcome = TLS_RESET
                return result
            except TimeoutError:
                result.outcome, result.detail = TLS_DROP, "no answer to the TLS handshake"
                return result
            except OSError as exc:
                result.outcome, result.detail = TLS_RESET, str(exc)
                return result
            result.tls = _tls_info(writer)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        host_header = result.host
        if ":" in host_header and not host_header.startswith("["):
            host_header = f"[{host_header}]"
        if parts.port and parts.port != default_port(scheme):
            host_header += f":{parts.port}"
        lines = [f"{result.method} {path} HTTP/1.1", f"Host: {host_header}",
                 f"User-Agent: {user_agent}", "Accept: */*", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        await _read_response(result, reader, writer, timeout_s, max_body)
        return result
    finally:
        writer.close()
        try:
            async with asyncio.timeout(0.5):
                await writer.wait_closed()
        except (OSError, TimeoutError, ssl.SSLError):
            pass


async def _read_response(result: Fetch, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter, timeout_s: float, max_body: int) -> None:
    buf = b""
    try:
        async with asyncio.timeout(timeout_s):
            await writer.drain()
            while b"\r\n\r\n" not in buf:
                chunk = await reader.read(16384)
                if not chunk:
                    result.outcome = HTTP_CLOSED
                    return
                buf += chunk
                if len(buf) > MAX_HEAD:
                    result.detail = "header larger than 64 KiB"
                    return
            head, _, rest = buf.partition(b"\r\n\r\n")
            try:
                result.status, result.reason, result.headers = _parse_head(head)
            except ValueError as exc:
                result.detail = str(exc)
                return
            result.outcome = RESPONSE
            if result.method == "HEAD" or result.status in (204, 304):
                return
            length = result.headers.get("content-length")
            want = int(length) if length and length.isdigit() else None
            limit = max_body if want is None else min(want, max_body)
            chunked = "chunked" in result.headers.get("transfer-encoding", "").lower()
            # chunk framing takes a little room beyond the body itself
            cap = limit + (4096 if chunked else 0)
            while len(rest) < cap:
                chunk = await reader.read(min(65536, cap - len(rest)))
                if not chunk:
                    break
                rest += chunk
            raw = rest[:cap]
            result.body = _dechunk(raw) if chunked else raw[:limit]
            result.body_bytes = want if want is not None and len(raw) >= limit else \
                len(result.body)
    except TimeoutError:
        if result.outcome != RESPONSE:
            result.outcome = HTTP_TIMEOUT
    except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
        if result.outcome != RESPONSE:
            result.outcome = HTTP_RESET
    except (OSError, ssl.SSLError) as exc:
        if result.outcome != RESPONSE:
            result.outcome, result.detail = HTTP_RESET, str(exc)
