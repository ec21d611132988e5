"""DNS lookups for filter audits: one query, one server, one transport, and what came back.

dnspython builds and parses the messages and speaks UDP and TCP; DNS-over-HTTPS
(RFC 8484, POST of the wire message) goes through `http_fetch`, so a DoH endpoint that
is blocked is classified the same way as any other blocked web request, and no HTTP/2
library is needed on a seat PC.

Unlike a stub resolver, nothing here retries another server or hides the answer's
code: an audit has to tell NXDOMAIN (a DNS filter) from an empty answer, a sinkhole
address, a timeout (the resolver is unreachable) and a real answer (a bypass).
"""

from __future__ import annotations

import asyncio
import errno
import time
from dataclasses import dataclass, field
from typing import Any

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

from . import http_fetch

ANSWER = "answer"  # NOERROR with addresses
NODATA = "nodata"  # NOERROR, no address of that type
NXDOMAIN = "nxdomain"
SERVFAIL = "servfail"
REFUSED = "refused"  # the server refused the query (REFUSED rcode)
OTHER_RCODE = "rcode"
TIMEOUT = "timeout"  # nothing came back
CONN_REFUSED = "conn_refused"  # TCP RST or ICMP port unreachable
UNREACHABLE = "unreachable"
BAD_RESPONSE = "bad_response"
ERROR = "error"

# Outcomes that prove the server answered the question: the path to it is open.
ANSWERED = frozenset({ANSWER, NODATA, NXDOMAIN, SERVFAIL, REFUSED, OTHER_RCODE})

DOH_TYPE = "application/dns-message"


@dataclass
class Lookup:
    name: str
    rdtype: str  # "A" or "AAAA"
    server: str  # address, or the DoH URL
    transport: str  # "udp", "tcp", "doh"
    outcome: str = ERROR
    rcode: str = ""
    addresses: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0
    detail: str = ""
    # for DoH: the HTTP exchange under the DNS answer
    http: http_fetch.Fetch | None = None

    @property
    def answered(self) -> bool:
        return self.outcome in ANSWERED

    def request_text(self) -> str:
        how = {"udp": "UDP", "tcp": "TCP", "doh": "DoH"}[self.transport]
        return f"DNS {self.rdtype} {self.name} @{self.server} ({how})"

    def result_text(self) -> str:
        if self.answered:
            return " ".join([self.rcode or "NOERROR", *self.addresses])
        if self.http is not None and self.outcome != BAD_RESPONSE:
            return self.http.result_text()
        return {
            TIMEOUT: "no answer (dropped)",
            CONN_REFUSED: "refused (TCP RST / ICMP port unreachable)",
            UNREACHABLE: "unreachable",
            BAD_RESPONSE: f"not a DNS answer: {self.detail}",
        }.get(self.outcome, f"error: {self.detail}")

    def describe(self) -> str:
        return f"{self.request_text()} -> {self.result_text()}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"request": self.request_text(), "outcome": self.outcome,
                               "elapsed_ms": round(self.elapsed_ms, 1)}
        if self.rcode:
            out["rcode"] = self.rcode
        if self.addresses:
            out["addresses"] = self.addresses
        if self.detail:
            out["detail"] = self.detail
        return out


def system_nameservers() -> list[str]:
    """This machine's configured DNS servers (resolv.conf, or the registry on Windows)."""
    try:
        return [str(n) for n in dns.resolver.Resolver(configure=True).nameservers]
    except (dns.resolver.NoResolverConfiguration, OSError):
        return []


def make_query(name: str, rdtype: str) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    query.flags |= dns.flags.RD
    return query


def _fill(result: Lookup, response: dns.message.Message) -> None:
    rcode = response.rcode()
    result.rcode = dns.rcode.to_text(rcode)
    wanted = dns.rdatatype.from_text(result.rdtype)
    for rrset in response.answer:
        if rrset.rdtype == wanted:
            result.addresses += [r.address for r in rrset]  # type: ignore[attr-defined]
    result.addresses = list(dict.fromkeys(result.addresses))
    if rcode == dns.rcode.NOERROR:
        result.outcome = ANSWER if result.addresses else NODATA
    elif rcode == dns.rcode.NXDOMAIN:
        result.outcome = NXDOMAIN
    elif rcode == dns.rcode.SERVFAIL:
        result.outcome = SERVFAIL
    elif rcode == dns.rcode.REFUSED:
        result.outcome = REFUSED
    else:
        result.outcome = OTHER_RCODE


def _failure(result: Lookup, exc: BaseException) -> None:
    if isinstance(exc, dns.exception.Timeout | TimeoutError):
        result.outcome = TIMEOUT
    elif isinstance(exc, ConnectionRefusedError):
        result.outcome = CONN_REFUSED
    elif isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH,
                                                      errno.ENETDOWN):
        result.outcome, result.detail = UNREACHABLE, exc.strerror or str(exc)
    elif isinstance(exc, dns.exception.DNSException):
        result.outcome, result.detail = BAD_RESPONSE, str(exc)
    else:
        result.outcome, result.detail = ERROR, f"{type(exc).__name__}: {exc}"


async def query(name: str, rdtype: str, server: str, transport: str = "udp",
                timeout_s: float = 2.0, port: int = 53) -> Lookup:
    """One question to one server over UDP or TCP. A truncated UDP answer is asked
    again over TCP, as any resolver would."""
    result = Lookup(name, rdtype, server, transport)
    started = time.monotonic()
    try:
        q = make_query(name, rdtype)
        async with asyncio.timeout(timeout_s):
            if transport == "tcp":
                response = await dns.asyncquery.tcp(q, server, timeout=timeout_s, port=port)
            else:
                response = await dns.asyncquery.udp(q, server, timeout=timeout_s, port=port,
                                                    ignore_unexpected=True)
                if response.flags & dns.flags.TC:
                    response = await dns.asyncquery.tcp(q, server, timeout=timeout_s,
                                                        port=port)
        _fill(result, response)
    except (OSError, TimeoutError, dns.exception.DNSException, ValueError) as exc:
        _failure(result, exc)
    finally:
        result.elapsed_ms = (time.monotonic() - started) * 1000
    return result


async def doh_query(name: str, rdtype: str, url: str, address: str, *,
                    connect_timeout_s: float = 3.0, timeout_s: float = 5.0,
                    verify_tls: bool = True) -> Lookup:
    """RFC 8484: POST the wire query to `url`, connecting to `address` (the DoH host
    as the seat's own resolver gave it, or the URL's literal address)."""
    result = Lookup(name, rdtype, url, "doh")
    started = time.monotonic()
    try:
        q = make_query(name, rdtype)
        q.id = 0  # RFC 8484 4.1: id 0 keeps answers cacheable
        wire = q.to_wire()
    except (dns.exception.DNSException, ValueError) as exc:
        _failure(result, exc)
        return result
    http = await http_fetch.fetch(
        url, address=address, method="POST", body=wire,
        headers={"Content-Type": DOH_TYPE, "Accept": DOH_TYPE},
        connect_timeout_s=connect_timeout_s, timeout_s=timeout_s, verify_tls=verify_tls)
    result.http = http
    result.elapsed_ms = (time.monotonic() - started) * 1000
    if http.outcome != http_fetch.RESPONSE:
        result.outcome = {
            http_fetch.CONNECT_TIMEOUT: TIMEOUT, http_fetch.HTTP_TIMEOUT: TIMEOUT,
            http_fetch.CONNECT_RESET: CONN_REFUSED, http_fetch.UNREACHABLE: UNREACHABLE,
        }.get(http.outcome, ERROR)
        result.detail = http.result_text()
        return result
    if http.status != 200 or DOH_TYPE not in http.headers.get("content-type", ""):
        # an HTTP answer that is no DNS answer: a block page, or not a DoH server
        result.outcome = BAD_RESPONSE
        result.detail = f"HTTP {http.status} {http.headers.get('content-type', '')}".strip()
        return result
    try:
        _fill(result, dns.message.from_wire(http.body))
    except dns.exception.DNSException as exc:
        _failure(result, exc)
    return result


async def resolve(name: str, rdtype: str, servers: list[str], timeout_s: float = 2.0
                  ) -> Lookup:
    """Ask the servers in order until one answers the question (as a stub resolver
    does), keeping the answer's code."""
    last = Lookup(name, rdtype, ",".join(servers) or "-", "udp", detail="no DNS server")
    for server in servers:
        last = await query(name, rdtype, server, "udp", timeout_s / 2)
        if last.outcome == TIMEOUT:
            # a lost datagram is asked once more within the same time, as every stub
            # resolver does: a server that drops the name stays silent both times
            last = await query(name, rdtype, server, "udp", timeout_s / 2)
        if last.answered and last.outcome not in (SERVFAIL, REFUSED):
            return last
    return last
