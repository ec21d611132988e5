"""WAN-POLICY / FILTER-FEATURES from one vantage: what a candidate PC can and cannot reach.

Run on a seat (by its agent) or, until agents are deployed, from the coordinator. The
probe loads every exam URL and tries every must-block target the way a browser would
(the seat's own DNS server, then HTTPS and HTTP by name, whatever scheme the site file
writes), says *how* each blocked target was stopped (an HTTPS stop beside its control:
the same handshake to an allowed site), and then tries the usual bypasses:

  direct_ip     the target's real address (learned at the coordinator from a control
                resolver, or from other resolvers below) with the name in Host / SNI
  resolver      another DNS server over UDP and TCP 53
  doh           DNS-over-HTTPS endpoints (RFC 8484)
  subdomain     www., m. and a random subdomain of the blocked name (a wildcard rule?)
  path          a blocked URL's path, beside a control: the same host's root
  path_variant  that path with its case or encoding changed (URL / keyword filters)
  keyword       a configured keyword in an exam URL's path, beside a control: the exam
                URL itself at the same address
  ipv6          the target's IPv6 address, when this machine has an IPv6 route

An attempt that cannot tell the filter from the target's own absence (no control answer
for the name, the whole address dropped, the carrier not loading) is `inconclusive`.
The probe only measures: readiness/judges/filtering.py gives the verdict and decides
each filter feature from the attempts.
  icmp          echo to the target's address (`candidates_internet: none`: not even ping)

Every leak is reported as the exact request that got through, e.g.
`GET http://198.51.100.20/ Host: games.example -> 200 (187 bytes)`.

params (targets use the agent allow-list's key conventions: *_url(s), *_address(es)):
  mode                       "exam_sites_only" (cbec) or "none" (eda: seats have no
                             internet; an exam URL outside `local_networks` must be blocked)
  exam_urls, blocked_urls    http(s):// URLs, or tcp://host:port for a bare port
  resolver_address           the seat's DNS server (default: this machine's own)
  control_answers            {name: [address, ...]}: what a control resolver answered the
                             coordinator (see `learn_control`)
  bypass_resolver_addresses  other DNS servers to try ([])
  doh_urls                   DoH endpoints to try ([])
  keywords                   words a keyword filter must block in URLs ([])
  block_page_patterns        regular expressions that mark a block page (added to defaults)
  block_hosts                redirect targets that mean "blocked" (besides room addresses)
  sinkhole_addresses         addresses that mean "blocked by DNS" (e.g. the router)
  local_networks             the room's networks (answers inside are sinkholes for blocked
                             names; exam URLs inside are local under mode none)
  subdomain_label            label for the wildcard test (default: random)
  exam_windows               [[start ISO, end ISO], ...] of the site's exam sessions
  vantage_is_seat            false when run from the coordinator: a seat's view is not
                             proven (the judge turns pass and fail into warn)
  dns_timeout_s 2, connect_timeout_s 3, read_timeout_s 5, verify_tls true, ipv6 true,
  icmp (default: mode == none), concurrency 64
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import re
import secrets
import socket
import time
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urljoin, urlsplit

from readiness.checkkind import (
    COORDINATOR,
    NAMES,
    SEAT,
    TARGET,
    TARGETS,
    CheckKind,
    Param,
    knobs,
    optional,
)
from readiness.results import ProbeOutcome, Status, Text

from .engines import dns_query, http_fetch, target_guard
from .engines.http_fetch import Fetch

T = TypeVar("T")

EXAM_SITES_ONLY = "exam_sites_only"
NO_INTERNET = "none"


DEFAULT_BLOCK_PATTERNS = (
    r"access (is )?denied", r"(has been|is|was) blocked", r"blocked by", r"web ?filter",
    r"url ?filter", r"forbidden by (the )?(administrator|policy)",
    r"访问被拒绝", r"禁止访问", r"已被(阻止|拦截|屏蔽|禁止)", r"网址过滤", r"访问受限", r"拦截",
)
# Names in a DNS answer that mean "sinkhole", whatever the configuration says.
ALWAYS_SINKHOLE = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "127.0.0.0/8", "::/128", "::1/128"))
PRIVATE = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "fc00::/7",
    "fe80::/10"))
MAX_ADDRESSES = 4  # per name and technique: enough to see a leak, few enough to be quick
MAX_REDIRECTS = 3
TCP_DNS_PER_SERVER = 2
RETRY_PAUSE_S = 0.5


# -- parameters -------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str  # http, https, tcp
    host: str
    port: int
    path: str  # path and query, "/" at least

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https", "tcp") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http://, https:// or tcp://host:port URL")
        if scheme == "tcp" and not parts.port:
            raise ValueError(f"{url!r} needs a port (tcp://host:port)")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        port = parts.port or http_fetch.default_port(scheme)
        return cls(url.strip(), scheme, parts.hostname.lower(), port, path)

    @property
    def is_name(self) -> bool:
        return not http_fetch.is_address(self.host)

    def with_path(self, path: str) -> str:
        parts = urlsplit(self.url)
        return parts._replace(path=path.split("?")[0], query=path.partition("?")[2]).geturl()

    def browser_schemes(self) -> list[Target]:
        """This target as a browser reaches it: over HTTPS and HTTP whatever the site file
        writes (a browser goes to https:// first; a filter of HTTP alone lets it
        through). A port of its own stays with its written scheme."""
        if self.scheme == "tcp" or self.port != http_fetch.default_port(self.scheme):
            return [self]
        other = "http" if self.scheme == "https" else "https"
        parts = urlsplit(self.url)
        host = parts.hostname or self.host
        netloc = f"[{host}]" if ":" in host else host
        url = parts._replace(scheme=other, netloc=netloc).geturl()
        return [self, Target(url, other, self.host, http_fetch.default_port(other), self.path)]


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"'{key}' must be a list of strings")
    return tuple(str(v) for v in value)


@dataclass(frozen=True)
class _Params:
    mode: str
    exam: tuple[Target, ...]
    blocked: tuple[Target, ...]
    resolvers: tuple[str, ...]
    control: dict[str, tuple[str, ...]]
    bypass_resolvers: tuple[str, ...]
    doh_urls: tuple[str, ...]
    keywords: tuple[str, ...]
    block_patterns: tuple[re.Pattern[str], ...]
    block_hosts: frozenset[str]
    sinkholes: frozenset[str]
    local_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    subdomain_label: str
    windows: tuple[tuple[datetime, datetime], ...]
    now: datetime
    vantage_is_seat: bool
    dns_timeout_s: float
    connect_timeout_s: float
    read_timeout_s: float
    verify_tls: bool
    ipv6: bool
    icmp: bool
    concurrency: int

    @classmethod
    def parse(cls, params: dict[str, Any]) -> _Params:
        mode = params["mode"]
        if mode not in (EXAM_SITES_ONLY, NO_INTERNET):
            raise ValueError(f"'mode' must be {EXAM_SITES_ONLY!r} or {NO_INTERNET!r}")
        exam = tuple(Target.parse(u) for u in _strings(params.get("exam_urls"), "exam_urls"))
        blocked = tuple(Target.parse(u)
                        for u in _strings(params.get("blocked_urls"), "blocked_urls"))
        if not exam and not blocked:
            raise ValueError("nothing to check: give exam_urls and/or blocked_urls")
        resolver = params.get("resolver_address")
        resolvers = (str(resolver),) if resolver else tuple(dns_query.system_nameservers())
        control_raw = params.get("control_answers") or {}
        if not isinstance(control_raw, dict):
            raise ValueError("'control_answers' must map names to lists of addresses")
        control = {str(k).lower().rstrip("."): tuple(str(a) for a in v)
                   for k, v in control_raw.items()}
        patterns = DEFAULT_BLOCK_PATTERNS + _strings(
            params.get("block_page_patterns"), "block_page_patterns")
        label = str(params.get("subdomain_label") or f"rdy-{secrets.token_hex(5)}")
        if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", label):
            raise ValueError("'subdomain_label' must be one DNS label (a-z, 0-9, -)")
        now = params.get("now")
        return cls(
            mode=mode, exam=exam, blocked=blocked, resolvers=resolvers, control=control,
            bypass_resolvers=_strings(params.get("bypass_resolver_addresses"),
                                      "bypass_resolver_addresses"),
            doh_urls=_strings(params.get("doh_urls"), "doh_urls"),
            keywords=_strings(params.get("keywords"), "keywords"),
            block_patterns=tuple(re.compile(p, re.I) for p in patterns),
            block_hosts=frozenset(h.lower() for h in _strings(params.get("block_hosts"),
                                                              "block_hosts")),
            sinkholes=frozenset(_strings(params.get("sinkhole_addresses"),
                                         "sinkhole_addresses")),
            local_networks=tuple(ipaddress.ip_network(n, strict=False) for n in _strings(
                params.get("local_networks"), "local_networks")),
            subdomain_label=label,
            windows=parse_windows(params.get("exam_windows")),
            now=_aware(datetime.fromisoformat(now)) if now else datetime.now(UTC),
            vantage_is_seat=bool(params["vantage_is_seat"]),
            dns_timeout_s=float(params["dns_timeout_s"]),
            connect_timeout_s=float(params["connect_timeout_s"]),
            read_timeout_s=float(params["read_timeout_s"]),
            verify_tls=bool(params["verify_tls"]),
            ipv6=bool(params["ipv6"]),
            icmp=bool(params["icmp"]),
            concurrency=max(1, int(params["concurrency"])),
        )

    def fit(self, deadline_s: float) -> _Params:
        """Shrink the timeouts so DNS, a redirect chain and the bypasses fit the deadline."""
        chain = self.dns_timeout_s * 2 + (self.connect_timeout_s + self.read_timeout_s) * 2
        budget = max(1.0, deadline_s - 1.0)
        if chain <= budget:
            return self
        k = budget / chain
        return replace(self, dns_timeout_s=self.dns_timeout_s * k,
                       connect_timeout_s=self.connect_timeout_s * k,
                       read_timeout_s=self.read_timeout_s * k)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_windows(value: Any) -> tuple[tuple[datetime, datetime], ...]:
    if not value:
        return ()
    out = []
    for pair in value:
        start, end = pair
        out.append((_aware(datetime.fromisoformat(str(start))),
                    _aware(datetime.fromisoformat(str(end)))))
    return tuple(out)


def in_windows(windows: Iterable[tuple[datetime, datetime]], now: datetime) -> bool:
    return any(start <= now < end for start, end in windows)


# -- what happened to one attempt ---------------------------------------------------------


@dataclass
class Attempt:
    technique: str
    target: str  # the configured URL this attempt is about
    request: str
    result: str
    leak: bool = False
    blocked_by: str = ""  # how it was stopped, when it was
    note: str = ""
    # True when a stop cannot be told apart from the target's own absence (the name does
    # not exist for the control resolver either, the whole address is dropped, the
    # carrier site does not load): such an attempt proves no filter feature.
    inconclusive: bool = False
    answered: list[str] | None = None  # a seat DNS lookup's real (not sinkhole) addresses
    address: str = ""  # the address asked, for a request by address
    control: str = ""  # the control measurement made beside this attempt
    # the title of a page that loaded when it must not have (a leak): the network's
    # words, bounded, shown by reports as text only
    title: str = ""
    scheme: str = ""  # http, https or tcp, for a request to a site
    family: str = ""  # IPv4 or IPv6: the address family the request went over

    def via(self) -> str:
        """What let a request through: `HTTPS, IPv4 198.51.100.20`."""
        if not (self.scheme and self.address):
            return ""
        return f"{self.scheme.upper()}, {self.family} {self.address}"

    def line(self) -> str:
        via = f" [{self.via()}]" if self.leak and self.via() else ""
        return f"{self.request} -> {self.result}{via}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"technique": self.technique, "target": self.target,
                               "request": self.request, "result": self.result,
                               "leak": self.leak}
        if self.blocked_by:
            out["blocked_by"] = self.blocked_by
        if self.note:
            out["note"] = self.note
        if self.inconclusive:
            out["inconclusive"] = True
        if self.answered:
            out["answered"] = list(self.answered)
        if self.title:
            out["title"] = self.title
        if self.control:
            out["control"] = self.control
        if self.address:
            out["address"] = self.address
        if self.scheme:
            out["scheme"] = self.scheme
        if self.family:
            out["family"] = self.family
        return out


FETCH_BLOCKS = {
    http_fetch.CONNECT_TIMEOUT: "silent_drop",
    http_fetch.CONNECT_RESET: "tcp_reset",
    http_fetch.UNREACHABLE: "icmp_reject",
    http_fetch.TLS_RESET: "tls_sni_reset",
    http_fetch.TLS_DROP: "tls_sni_drop",
    http_fetch.TLS_ERROR: "tls_intercepted",
    http_fetch.HTTP_RESET: "http_reset",
    http_fetch.HTTP_TIMEOUT: "http_drop",
    http_fetch.HTTP_CLOSED: "http_closed",
}
# outcomes that a busy server or a lost packet can give once: worth a second try
RETRYABLE = frozenset({http_fetch.CONNECT_TIMEOUT, http_fetch.CONNECT_RESET,
                       http_fetch.HTTP_RESET, http_fetch.HTTP_TIMEOUT,
                       http_fetch.HTTP_CLOSED, http_fetch.ERROR})
MAX_TITLE = 200  # characters of a leaked page's title kept in the attempt

DNS_BLOCKS = {
    dns_query.NXDOMAIN: "dns_nxdomain",
    dns_query.NODATA: "dns_empty",
    dns_query.REFUSED: "dns_refused",
    dns_query.SERVFAIL: "dns_servfail",
    dns_query.OTHER_RCODE: "dns_error",
    dns_query.TIMEOUT: "dns_timeout",
    dns_query.CONN_REFUSED: "dns_refused",
    dns_query.UNREACHABLE: "dns_unreachable",
}
HOW = {
    "dns_nxdomain": ("DNS NXDOMAIN", "DNS 返回不存在"),
    "dns_empty": ("DNS empty answer", "DNS 空应答"),
    "dns_sinkhole": ("DNS sinkhole", "DNS 指向拦截地址"),
    "dns_refused": ("DNS refused", "DNS 拒绝"),
    "dns_servfail": ("DNS SERVFAIL", "DNS 服务失败"),
    "dns_error": ("DNS error", "DNS 错误"),
    "dns_timeout": ("DNS no answer", "DNS 无应答"),
    "dns_unreachable": ("DNS unreachable", "DNS 不可达"),
    "silent_drop": ("silent drop", "静默丢弃"),
    "tcp_reset": ("TCP reset", "TCP 重置"),
    "icmp_reject": ("ICMP reject", "ICMP 拒绝"),
    "tls_sni_reset": ("TLS reset on the SNI", "TLS 握手按 SNI 重置"),
    "tls_sni_drop": ("TLS dropped at the ClientHello (SNI)", "TLS 握手按 SNI 丢弃"),
    "tls_intercepted": ("TLS intercepted", "TLS 被拦截"),
    "tls_router_cert": ("the router's own certificate", "路由器自身的证书"),
    "tls_block_page": ("block page after a certificate warning", "证书警告后的拦截页面"),
    "http_reset": ("reset after the request", "请求后被重置"),
    "http_drop": ("request dropped", "请求被丢弃"),
    "http_closed": ("closed after the request", "请求后被关闭"),
    "http_block_page": ("HTTP block page", "HTTP 拦截页面"),
    "http_redirect": ("HTTP redirect to a block page", "HTTP 重定向到拦截页面"),
    "icmp_no_reply": ("no echo reply", "无 ping 回应"),
}


# connected and asked, but no answer in time (not a refusal, not a silent drop at the
# SYN, which is how filters stop a site): a busy server, worth asking once more
_SLOW = frozenset({http_fetch.HTTP_TIMEOUT})

class _Audit:
    def __init__(self, p: _Params, deadline_s: float = 60.0) -> None:
        self.p = p
        self.ends_at = time.monotonic() + deadline_s
        self.gate = asyncio.Semaphore(p.concurrency)
        self.attempts: list[Attempt] = []
        self.exam_results: list[dict[str, Any]] = []
        self.seat_dns: dict[tuple[str, str], dns_query.Lookup] = {}
        self.learned: dict[str, set[str]] = {}  # name -> addresses from bypass DNS
        self.has_ipv6 = False
        self.tcp_gates: dict[str, asyncio.Semaphore] = {}
        self.must_load: list[Target] = []  # allowed sites: the HTTPS control goes to one
        self._tls_control: asyncio.Task[tuple[bool, str]] | None = None

    async def limited(self, coro: Awaitable[T]) -> T:
        async with self.gate:
            return await coro

    def time_for(self, fetches: int) -> bool:
        """`fetches` more requests, each at its full timeouts, fit before the audit's
        deadline (with a second to report): a retry must not cost the whole audit."""
        one = self.p.connect_timeout_s + self.p.read_timeout_s + RETRY_PAUSE_S
        return self.ends_at - time.monotonic() > one * fetches + 1.0

    async def control_fetch(self, url: str, address: str, host: str,
                            then: int) -> tuple[Fetch, str]:
        """A control request, tried once more when it does not load and there is time
        for the retry and the `then` requests that follow it: a whole room auditing at
        once can lose one request to a busy server, and a lost control would leave the
        feature unproven. Both tries are in the line."""
        f = await self.fetch(url, address, host)
        line = f"control {f.request_text()} -> {f.result_text()}"
        if not _loads(self, f, host) and f.outcome in RETRYABLE \
                and self.time_for(1 + then):
            await asyncio.sleep(RETRY_PAUSE_S)
            f = await self.fetch(url, address, host)
            line += f"; again -> {f.result_text()}"
        return f, line

    # -- classification helpers ----------------------------------------------------------

    def is_sinkhole(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        return (address in self.p.sinkholes or any(ip in n for n in ALWAYS_SINKHOLE)
                or any(ip in n for n in PRIVATE)
                or any(ip in n for n in self.p.local_networks))

    def is_local(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        return any(ip in n for n in self.p.local_networks)

    def _text(self, f: Fetch) -> str:
        body = f.body[:16384]
        for codec in ("utf-8", "gb18030"):
            try:
                return body.decode(codec)
            except UnicodeDecodeError:
                continue
        return body.decode("latin-1")

    def is_block_page(self, f: Fetch) -> bool:
        if f.status == 451:
            return True
        text = self._text(f)
        return any(p.search(text) for p in self.p.block_patterns)

    def is_block_redirect(self, f: Fetch, target_host: str) -> bool:
        if not (f.status and 300 <= f.status < 400 and f.location):
            return False
        host = (urlsplit(urljoin(f.url, f.location)).hostname or "").lower()
        if not host or host == target_host or host.endswith("." + target_host) \
                or target_host.endswith("." + host):
            return False  # the site redirecting to itself (https, www): it answered
        if host in self.p.block_hosts:
            return True
        return http_fetch.is_address(host) and self.is_sinkhole(host)

    def judge_blocked_fetch(self, f: Fetch, target: Target, technique: str,
                            strict_content: bool = False) -> Attempt:
        """A fetch of something that must be blocked: how it was stopped, or the leak."""
        att = Attempt(technique, target.url, f.request_text(), f.result_text())
        warning = (f.tls or {}).get("warning", "")
        # past a certificate warning, a certificate that does not even name the site is
        # the router's own: whatever it serves is not the site
        router_cert = bool(f.tls) and (bool(warning) or not self.p.verify_tls) \
            and not http_fetch.certificate_names_host(f.tls, target.host)
        if f.tls and (warning or router_cert):
            att.result += _certificate_words(f.tls, warning)
        if f.outcome in FETCH_BLOCKS:
            att.blocked_by = FETCH_BLOCKS[f.outcome]
        elif f.outcome == http_fetch.RESPONSE:
            if self.is_block_page(f) or self.is_block_redirect(f, target.host):
                att.blocked_by = "tls_block_page" if warning or router_cert else (
                    "http_block_page" if self.is_block_page(f) else "http_redirect")
            elif router_cert:
                att.blocked_by = "tls_router_cert"
            elif strict_content and (f.status or 0) >= 400:
                # the server was reached but served nothing for this path variant
                att.blocked_by = ""
                att.note = "server answered with an error: no content served"
            else:
                att.leak = True
                att.title = f.title[:MAX_TITLE]
                if warning:
                    att.note = ("the site's own page, behind a certificate warning a "
                                "candidate can click through")
        else:
            att.note = "could not be tried: " + f.result_text()
        return att

    async def tls_control(self) -> tuple[bool, str]:
        """The control of an HTTPS stop, made once per audit: the same TLS handshake
        to an allowed site outside the room, through the same router. When it
        completes, a stop of a blocked site's handshake is the filter, not a path
        that carries no HTTPS."""
        if self._tls_control is None:
            self._tls_control = asyncio.ensure_future(self._make_tls_control())
        return await asyncio.shield(self._tls_control)

    async def _make_tls_control(self) -> tuple[bool, str]:
        for t in self.must_load:
            if t.scheme == "tcp":
                continue
            addrs = ([x for x in self.seat_addresses(t.host) if ":" not in x]
                     if t.is_name else [t.host])
            if not addrs or all(self.is_local(x) for x in addrs):
                continue
            https = t.browser_schemes()[-1] if t.scheme == "http" else t
            if https.scheme != "https":
                continue
            f = await self.fetch(https.with_path("/"), addrs[0], t.host)
            done = f.tls is not None
            return done, (f"control TLS handshake to the allowed site {t.host} "
                          f"({addrs[0]}:{https.port}) -> "
                          + ("completed" if done else f.result_text()))
        return False, "no allowed site outside the room to compare an HTTPS stop with"

    # -- the steps -----------------------------------------------------------------------

    async def resolve_at_seat(self, name: str, rdtype: str) -> dns_query.Lookup:
        key = (name, rdtype)
        if key not in self.seat_dns:
            self.seat_dns[key] = await self.limited(dns_query.resolve(
                name, rdtype, list(self.p.resolvers), self.p.dns_timeout_s))
        return self.seat_dns[key]

    def seat_addresses(self, name: str) -> list[str]:
        out: list[str] = []
        for rdtype in ("A", "AAAA"):
            lookup = self.seat_dns.get((name, rdtype))
            if lookup and lookup.outcome == dns_query.ANSWER:
                out += lookup.addresses
        return out

    async def fetch(self, url: str, address: str, host: str, past_warning: bool = True,
                    **kw: Any) -> Fetch:
        """One request. Past a certificate warning by default (what is behind it decides
        whether a blocked site was reached); an exam site must load without one."""
        return await self.limited(http_fetch.fetch(
            url, address=address, host=host, connect_timeout_s=self.p.connect_timeout_s,
            timeout_s=self.p.read_timeout_s, verify_tls=self.p.verify_tls,
            past_warning=past_warning, **kw))

    async def tcp_connect(self, address: str, port: int) -> str:
        async with self.gate:
            try:
                async with asyncio.timeout(self.p.connect_timeout_s):
                    _, writer = await asyncio.open_connection(address, port)
            except TimeoutError:
                return http_fetch.CONNECT_TIMEOUT
            except ConnectionRefusedError:
                return http_fetch.CONNECT_RESET
            except OSError as exc:
                return http_fetch.UNREACHABLE if exc.errno in (
                    errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN) else http_fetch.ERROR
            writer.close()
            return "open"

    async def tcp_attempt(self, target: Target, address: str, technique: str,
                          must_block: bool) -> Attempt:
        state = await self.tcp_connect(address, target.port)
        host = f"[{address}]" if ":" in address else address
        request = f"TCP connect {host}:{target.port}"
        if target.is_name:
            request += f" ({target.host})"
        result = {"open": "open", http_fetch.CONNECT_TIMEOUT: "no answer (silent drop)",
                  http_fetch.CONNECT_RESET: "reset (TCP RST)",
                  http_fetch.UNREACHABLE: "unreachable (ICMP reject)"}.get(state, state)
        att = Attempt(technique, target.url, request, result)
        if must_block:
            att.leak = state == "open"
            att.blocked_by = FETCH_BLOCKS.get(state, "")
        att.address = address
        return att

    async def exam_load(self, target: Target) -> dict[str, Any]:
        """Load an exam URL like a browser: seat DNS, connect, TLS, follow redirects."""
        url, hops = target.url, []
        for _ in range(MAX_REDIRECTS + 1):
            t = Target.parse(url)
            if t.is_name:
                lookup = await self.resolve_at_seat(t.host, "A")
                addresses = lookup.addresses if lookup.outcome == dns_query.ANSWER else []
                if not addresses:
                    hops.append(lookup.describe())
                    return {"url": target.url, "ok": False, "requests": hops,
                            "why": "dns", "detail": lookup.describe()}
            else:
                addresses = [t.host]
            if t.scheme == "tcp":
                state = await self.tcp_connect(addresses[0], t.port)
                hops.append(f"TCP connect {addresses[0]}:{t.port} -> {state}")
                return {"url": target.url, "ok": state == "open", "requests": hops,
                        "why": "" if state == "open" else state, "detail": hops[-1]}
            f = await self.fetch(url, addresses[0], t.host, past_warning=False)
            hops.append(f.describe())
            if f.outcome in _SLOW:
                # A candidate reloads a page that did not come; so does the audit, once:
                # an exam server busy for a moment is not a site that does not load
                f = await self.fetch(url, addresses[0], t.host, past_warning=False)
                hops.append(f.describe() + " (asked again)")
            entry: dict[str, Any] = {"url": target.url, "requests": hops, "detail": hops[-1]}
            if f.tls:
                entry["tls"] = f.tls
            if f.outcome != http_fetch.RESPONSE:
                return {**entry, "ok": False, "why": f.outcome}
            if f.status and 300 <= f.status < 400 and f.location:
                if self.is_block_redirect(f, t.host):
                    return {**entry, "ok": False, "why": "http_redirect"}
                url = urljoin(url, f.location)
                if not target_guard.allows(url):
                    # run by a seat agent: it contacts nothing outside its site file
                    hops.append(f"redirect to {url} not followed: not in the site file")
                    return {**entry, "ok": False, "requests": hops,
                            "why": "redirect_not_allowed", "detail": (
                                f"it redirects to {url}, which is not in the site file of "
                                "the seat's agent (add that URL to exam_urls)")}
                continue
            if (f.status or 0) >= 400:
                return {**entry, "ok": False, "why": f"http_{f.status}", "status": f.status}
            if f.body_bytes == 0:
                return {**entry, "ok": False, "why": "empty_body", "status": f.status}
            if self.is_block_page(f):
                return {**entry, "ok": False, "why": "http_block_page", "status": f.status}
            return {**entry, "ok": True, "status": f.status, "bytes": f.body_bytes,
                    "title": f.title}
        return {"url": target.url, "ok": False, "requests": hops, "why": "too_many_redirects",
                "detail": hops[-1] if hops else ""}

    async def check_ipv6_route(self) -> bool:
        """Whether this machine has an IPv6 route to the internet. A UDP connect sends
        nothing; it only asks the kernel for a route (to the documentation prefix)."""
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
                sock.connect(("2001:db8::1", 53))
                local = sock.getsockname()[0]
        except OSError:
            return False
        ip = ipaddress.ip_address(local)
        return not (ip.is_link_local or ip.is_loopback)


async def _gather(coros: list[Awaitable[T]]) -> list[T]:
    return list(await asyncio.gather(*coros))


def _subdomain(label: str, host: str) -> str:
    return f"{label}.{host}"


# Subdomains that real sites commonly have: the wildcard test needs one that the control
# resolver DOES resolve, since an NXDOMAIN for a name nobody registered proves nothing.
COMMON_SUBDOMAINS = ("www", "m")


def wildcard_names(host: str, label: str | None) -> list[str]:
    """The subdomains tried for the wildcard rule of a blocked name, common ones first."""
    bare = host.split(".", 1)[1] if host.split(".", 1)[0] in COMMON_SUBDOMAINS \
        and host.count(".") >= 2 else host
    names = [_subdomain(x, bare) for x in COMMON_SUBDOMAINS]
    if label:
        names.append(_subdomain(label, host))
    return [n for n in dict.fromkeys(names) if n != host]


def _path_variants(path: str) -> list[str]:
    """A blocked path spelled differently, as a user would try against a URL filter."""
    bare, _, query = path.partition("?")
    if bare in ("", "/"):
        return []
    first = next((i for i, c in enumerate(bare) if c.isalpha()), None)
    variants = [bare.upper() if bare.upper() != bare else bare.lower()]
    if first is not None:
        variants.append(bare[:first] + f"%{ord(bare[first]):02X}" + bare[first + 1:])
    variants.append("/" + bare)  # a doubled slash
    q = f"?{query}" if query else ""
    return list(dict.fromkeys(v + q for v in variants if v != bare))


async def _audit(p: _Params, deadline_s: float) -> tuple[_Audit, dict[str, Any]]:
    a = _Audit(p, deadline_s)
    a.has_ipv6 = p.ipv6 and await a.check_ipv6_route()
    rdtypes = ["A", "AAAA"] if a.has_ipv6 else ["A"]
    # a candidate's PC asks for both A and AAAA whatever its route: a real answer to
    # either one is a DNS leak
    both = ["A", "AAAA"]
    exam_names = [t.host for t in p.exam if t.is_name]
    blocked_names = list(dict.fromkeys(t.host for t in p.blocked if t.is_name))
    doh_names = [h for u in p.doh_urls if (h := urlsplit(u).hostname or "")
                 and not http_fetch.is_address(h)]
    # eda: an exam URL that leads outside the room is as forbidden as any other site
    sub_names = [x for n in blocked_names for x in wildcard_names(n, p.subdomain_label)]

    # 1. the seat's own DNS, for everything a browser would look up
    seat_queries = [(n, r) for n in dict.fromkeys(exam_names + sub_names) for r in rdtypes]
    seat_queries += [(n, r) for n in blocked_names for r in both]
    seat_queries += [(n, "A") for n in doh_names]
    await _gather([a.resolve_at_seat(n, r) for n, r in seat_queries])

    must_block = list(p.blocked)
    must_load = list(p.exam)
    a.must_load = must_load
    if p.mode == NO_INTERNET:
        must_load, outside = [], []
        for t in p.exam:
            addrs = a.seat_addresses(t.host) if t.is_name else [t.host]
            local = bool(addrs) and all(a.is_local(x) for x in addrs)
            known = p.control.get(t.host, ())
            if local and not any(not a.is_local(x) for x in known):
                must_load.append(t)
            else:
                outside.append(t)
        a.must_load = must_load
        must_block = outside + must_block
        blocked_names = list(dict.fromkeys(
            [t.host for t in must_block if t.is_name] + blocked_names))
        await _gather([a.resolve_at_seat(n, r) for n in blocked_names for r in both])

    # 2. other resolvers and DoH, asked about every must-block name
    bypass: list[Awaitable[Attempt]] = []
    for name in blocked_names:
        for server in p.bypass_resolvers:
            for transport in ("udp", "tcp"):
                for r in rdtypes:
                    bypass.append(_resolver(a, name, r, server, transport))
        for url in p.doh_urls:
            for r in rdtypes:
                bypass.append(_doh(a, name, r, url))
    a.attempts += await _gather(bypass)

    # 3. the web requests: exam sites, blocked targets by name and by address, bypasses
    jobs: list[Awaitable[list[Attempt]]] = [_blocked_target(a, t) for t in must_block]
    jobs += [_keyword(a, must_load, kw) for kw in p.keywords]
    exam_jobs = [a.exam_load(t) for t in must_load]
    results = await asyncio.gather(_gather(jobs), _gather(exam_jobs))
    for batch in results[0]:
        a.attempts += batch
    a.exam_results = results[1]
    roles = {"must_load": [t.url for t in must_load], "must_block": [t.url for t in must_block]}
    return a, roles


def _lookup_attempt(a: _Audit, lookup: dns_query.Lookup) -> Attempt:
    att = Attempt("doh" if lookup.transport == "doh" else "resolver", lookup.name,
                  lookup.request_text(), lookup.result_text())
    real = [x for x in lookup.addresses if not a.is_sinkhole(x)]
    if lookup.outcome == dns_query.ANSWER and real:
        att.leak = True
        a.learned.setdefault(lookup.name, set()).update(real)
    elif lookup.answered:
        # a filtering or hijacked resolver: it answers, but not with the site
        att.blocked_by = DNS_BLOCKS.get(lookup.outcome, "dns_sinkhole")
        att.note = "the resolver answered, but not with the site's address"
    elif lookup.http is not None and lookup.http.outcome in FETCH_BLOCKS:
        att.blocked_by = FETCH_BLOCKS[lookup.http.outcome]
    elif lookup.http is not None and lookup.outcome == dns_query.BAD_RESPONSE:
        att.blocked_by = "http_block_page" if a.is_block_page(lookup.http) else "doh_refused"
    else:
        att.blocked_by = DNS_BLOCKS.get(lookup.outcome, "")
    if not att.blocked_by and not att.leak:
        att.note = "could not be tried: " + (lookup.detail or lookup.outcome)
    return att


async def _resolver(a: _Audit, name: str, rdtype: str, server: str,
                    transport: str) -> Attempt:
    if transport == "udp":
        lookup = await a.limited(dns_query.query(name, rdtype, server, transport,
                                                 a.p.dns_timeout_s))
        return _lookup_attempt(a, lookup)
    # Few TCP connections at a time to one server, and a second try after a timeout:
    # a resolver accepts only so many TCP clients at once (dnsmasq: 20), and a whole
    # room auditing together must not read a full backlog as "port 53 is closed".
    gate = a.tcp_gates.setdefault(server, asyncio.Semaphore(TCP_DNS_PER_SERVER))
    async with gate:
        lookup = await a.limited(dns_query.query(name, rdtype, server, transport,
                                                 a.p.dns_timeout_s))
        if lookup.outcome == dns_query.TIMEOUT:
            lookup = await a.limited(dns_query.query(name, rdtype, server, transport,
                                                     a.p.dns_timeout_s))
    return _lookup_attempt(a, lookup)


async def _doh(a: _Audit, name: str, rdtype: str, url: str) -> Attempt:
    host = urlsplit(url).hostname or ""
    if http_fetch.is_address(host):
        address: str | None = host
    else:
        found = a.seat_addresses(host)
        address = found[0] if found else None
    if address is None:
        # The DoH server's own name does not resolve at the seat: the endpoint cannot
        # be used, which is the DNS filter working on it.
        host_lookup = a.seat_dns.get((host, "A"))
        how = host_lookup.describe() if host_lookup else f"{host}: not looked up"
        code = DNS_BLOCKS.get(host_lookup.outcome, "dns_sinkhole") if host_lookup else ""
        return Attempt("doh", name, f"DNS {rdtype} {name} @{url} (DoH)",
                       f"the DoH host does not resolve: {how}", blocked_by=code)
    lookup = await a.limited(dns_query.doh_query(
        name, rdtype, url, address, connect_timeout_s=a.p.connect_timeout_s,
        timeout_s=a.p.read_timeout_s, verify_tls=a.p.verify_tls))
    return _lookup_attempt(a, lookup)


def _control_has(a: _Audit, name: str, rdtype: str) -> list[str]:
    """The control resolver's real addresses of one family for a name."""
    v6 = rdtype == "AAAA"
    return [x for x in a.p.control.get(name, ()) if (":" in x) == v6]


def _seat_dns_attempt(a: _Audit, t: Target, lookup: dns_query.Lookup) -> Attempt:
    """The seat's own DNS asked for a blocked name: filtered, or a DNS leak. A stop is
    conclusive only when the control resolver has a record of that type: otherwise the
    name may simply have none."""
    att = Attempt("dns", t.url, lookup.request_text(), lookup.result_text())
    control = _control_has(a, t.host, lookup.rdtype)
    if lookup.outcome == dns_query.ANSWER:
        real = [x for x in lookup.addresses if not a.is_sinkhole(x)]
        if real:
            att.answered = real
            att.note = f"the seat's DNS gives the real {lookup.rdtype} address"
            return att
        att.blocked_by = "dns_sinkhole"
    else:
        att.blocked_by = DNS_BLOCKS.get(lookup.outcome, "")
    if att.blocked_by and not control:
        att.inconclusive = True
        att.note = (f"the control resolver has no {lookup.rdtype} record for {t.host} either: "
                    "this cannot tell a filter from the name's own absence")
    elif att.blocked_by:
        att.control = f"control resolver: {t.host} {lookup.rdtype} {', '.join(control[:2])}"
    return att


async def _blocked_target(a: _Audit, t: Target) -> list[Attempt]:
    p = a.p
    out: list[Attempt] = []
    # by name, as a browser would
    plain: list[str] = []
    seat_v6: list[str] = []
    if t.is_name:
        lookups = [a.seat_dns[(t.host, r)] for r in ("A", "AAAA") if (t.host, r) in a.seat_dns]
        for lookup in lookups:
            att = _seat_dns_attempt(a, t, lookup)
            if att.answered:
                (seat_v6 if lookup.rdtype == "AAAA" else plain).extend(att.answered)
            elif lookup.outcome == dns_query.ANSWER and lookup.rdtype == "A":
                sink = lookup.addresses[0]
                ip = ipaddress.ip_address(sink)
                if not ip.is_loopback and not ip.is_unspecified:
                    # a sinkhole on the router often serves the block notice: look at it
                    out.append(await _sinkhole_page(a, t, sink))
            out.append(att)
    else:
        plain = [t.host] if ":" not in t.host else []
        seat_v6 = [t.host] if ":" in t.host else []
    # by address, with the name kept in Host / SNI. The control answers come from the
    # caller: run by a seat agent, only those in its site file are tried. The other
    # resolvers' answers were asked for by this probe itself, from allowed resolvers.
    control = [x for x in p.control.get(t.host, ()) if target_guard.allows(x)]
    refused = [x for x in p.control.get(t.host, ()) if x not in control]
    if refused and t.is_name:
        out.append(Attempt("direct_ip", t.url, f"{t.host}: {', '.join(refused[:4])}",
                           "not tried", inconclusive=True, note=(
                               "the control resolver's answer is not in the site file of the "
                               "seat's agent: list it under filter_audit.blocked_addresses")))
    direct = [x for x in dict.fromkeys([*control, *sorted(a.learned.get(t.host, ()))])
              if not a.is_sinkhole(x) and x not in plain[:1]] if t.is_name else []
    v4 = [x for x in direct if ":" not in x][:MAX_ADDRESSES]
    # IPv6: the seat's own AAAA answer first, then the control's; each is a way out
    # that a router filtering IPv4 only leaves open. Like every address learned from an
    # allowed resolver for an allowed name, the seat's own answer needs no allow-list
    # entry: it is what the candidate's browser would connect to (Happy Eyeballs).
    v6 = list(dict.fromkeys([*seat_v6, *(x for x in direct if ":" in x)]))[:MAX_ADDRESSES] \
        if a.has_ipv6 else []
    jobs: list[Awaitable[Any]] = [_each_scheme(a, t, x, "plain") for x in plain[:1]]
    jobs += [_each_scheme(a, t, x, "direct_ip") for x in v4]
    jobs += [_each_scheme(a, t, x, "ipv6") for x in v6]
    # subdomains: is the rule a wildcard?
    if t.is_name:
        jobs += [_subdomain_attempt(a, t, sub)
                 for sub in wildcard_names(t.host, p.subdomain_label)]
    # a path on the host: only a URL filter can stop it while the host's root loads
    if t.scheme != "tcp" and t.path.partition("?")[0] not in ("", "/"):
        carrier = (plain[:1] or v4[:1])
        if carrier:
            jobs.append(_path_attempts(a, t, carrier[0]))
    results = await _gather(jobs)
    for item in results:
        out += item if isinstance(item, list) else [item]
    if p.icmp:
        out += await _gather([_icmp(a, t, x) for x in dict.fromkeys(plain[:1] + v4)
                              if ":" not in x])
    if t.is_name and not v4 and not plain:
        out.append(Attempt("direct_ip", t.url, f"{t.host}: no address known", "not tried",
                           inconclusive=True,
                           note="no control resolver answer and no other resolver leaked one"))
    return out


async def _path_attempts(a: _Audit, t: Target, address: str) -> list[Attempt]:
    """The blocked URL's path and its spellings, each beside a control: the same host's
    root at the same address. When the root is stopped too, the whole address is
    blocked and the path proves nothing about a URL or keyword filter."""
    root = http_fetch.url_with_address(t.with_path("/"), address)
    paths = [("path", t.path), *(("path_variant", v) for v in _path_variants(t.path))]
    control, control_line = await a.control_fetch(root, address, t.host, then=len(paths))
    control_loads = _loads(a, control, t.host)
    out = []
    for technique, path in paths:
        att = await _request(a, t, address, technique, path=path)
        att.control = control_line
        if not control_loads and not att.leak:
            att.inconclusive = True
            att.note = (f"the host's root {root} does not load either: the whole address "
                        "is blocked, which cannot show a URL-path or keyword filter")
        out.append(att)
    return out


def _loads(a: _Audit, f: Fetch, host: str) -> bool:
    """A control request succeeded: the server answered with something of its own."""
    return (f.outcome == http_fetch.RESPONSE and not a.is_block_page(f)
            and not a.is_block_redirect(f, host) and (f.status or 0) < 400)


TLS_STOPS = frozenset({"tls_sni_reset", "tls_sni_drop", "tls_intercepted", "tls_router_cert",
                       "tls_block_page"})


def _certificate_words(tls: dict[str, Any], warning: str) -> str:
    names = ", ".join(str(n) for n in tls.get("names", [])[:3]) or "no name"
    issuer = tls.get("issuer_cn") or "?"
    said = f"certificate warning: {warning}; " if warning else ""
    return f" ({said}certificate for {names}, issued by {issuer})"


async def _request(a: _Audit, t: Target, address: str, technique: str,
                   path: str | None = None, as_written: Target | None = None) -> Attempt:
    """One request for a must-block target `t` at `address`; `as_written` is the target
    as the site file writes it when `t` is it in the other scheme."""
    family = "IPv6" if ":" in address else "IPv4"
    if t.scheme == "tcp":
        att = await a.tcp_attempt(t, address, technique, must_block=True)
        att.scheme, att.family = t.scheme, family
        return att
    url = t.with_path(path) if path else t.url
    if technique != "plain" or not t.is_name:
        url = http_fetch.url_with_address(url, address)
    f = await a.fetch(url, address, t.host)
    att = a.judge_blocked_fetch(f, t, technique,
                                strict_content=technique in ("path", "path_variant"))
    att.address, att.scheme, att.family = address, t.scheme, family
    if as_written is not None:
        att.target = as_written.url
    if t.scheme == "https" and att.blocked_by:
        ok, line = await a.tls_control()
        att.control = line
        if not ok and att.blocked_by in TLS_STOPS:
            att.inconclusive = True
            att.note = ("HTTPS does not get through to an allowed site either: this stop "
                        "cannot be told from a path that carries no HTTPS")
    return att


async def _each_scheme(a: _Audit, t: Target, address: str, technique: str) -> list[Attempt]:
    """The request over HTTPS and HTTP, as a browser would make it."""
    return await _gather([_request(a, s, address, technique, as_written=t)
                          for s in t.browser_schemes()])


async def _sinkhole_page(a: _Audit, t: Target, address: str) -> Attempt:
    f = await a.fetch(t.url, address, t.host)
    att = Attempt("sinkhole_page", t.url, f.request_text(), f.result_text(),
                  blocked_by="dns_sinkhole")
    if f.outcome == http_fetch.RESPONSE and a.is_block_page(f):
        att.blocked_by = "http_block_page"
    return att


async def _subdomain_attempt(a: _Audit, t: Target, sub: str) -> Attempt:
    """One subdomain of a blocked name, from the seat. A stop proves a wildcard rule only
    when the subdomain exists: the control resolver (or the seat's own DNS) knows it."""
    lookup = a.seat_dns.get((sub, "A"))
    if lookup is None:
        lookup = await a.resolve_at_seat(sub, "A")
    known = [x for x in a.p.control.get(sub, ()) if ":" not in x]
    real = [x for x in lookup.addresses if not a.is_sinkhole(x)] \
        if lookup.outcome == dns_query.ANSWER else []
    if known:
        control = f"control resolver: {sub} A {', '.join(known[:2])}"
    elif real:
        control = f"the seat's DNS: {sub} A {', '.join(real[:2])}"
    else:
        control = ""
    if not real:
        att = Attempt("subdomain", t.url, lookup.request_text(), lookup.result_text(),
                      control=control)
        att.blocked_by = ("dns_sinkhole" if lookup.outcome == dns_query.ANSWER
                          else DNS_BLOCKS.get(lookup.outcome, ""))
        if not control:
            # NXDOMAIN from the filter and from the real zone look alike
            att.inconclusive = True
            att.note = (f"the control resolver does not know {sub} either: this cannot tell "
                        "a wildcard rule from a name that does not exist")
        return att
    default = t.scheme != "tcp" and t.port == http_fetch.default_port(t.scheme)
    port = "" if default else f":{t.port}"
    sub_target = Target.parse(f"{t.scheme}://{sub}{port}{t.path}")
    if t.scheme == "tcp":
        att = await a.tcp_attempt(sub_target, real[0], "subdomain", must_block=True)
    else:
        f = await a.fetch(sub_target.url, real[0], sub)
        att = a.judge_blocked_fetch(f, sub_target, "subdomain")
    att.target = t.url
    att.control = control
    return att


async def _icmp(a: _Audit, t: Target, address: str) -> Attempt:
    from .engines import icmp

    request = f"ICMP echo {address}" + (f" ({t.host})" if t.is_name else "")
    try:
        async with a.gate:
            stats = await icmp.ping(address, count=2, interval_s=0.2,
                                    timeout_s=min(1.0, a.p.connect_timeout_s))
    except icmp.IcmpUnavailable as exc:
        return Attempt("icmp", t.url, request, "not tried", note=str(exc))
    if stats.received:
        return Attempt("icmp", t.url, request, f"{stats.received} replies", leak=True)
    return Attempt("icmp", t.url, request, "no reply", blocked_by="icmp_no_reply")


async def _keyword(a: _Audit, must_load: list[Target], keyword: str) -> list[Attempt]:
    # The keyword rides on a site that must load, outside the room (traffic to the room's
    # own exam server never passes the router's filter), beside a control: the same
    # site's own URL at the same address. Only a keyword filter stops the one and not
    # the other.
    async def addresses(t: Target) -> list[str]:
        if not t.is_name:
            return [t.host]
        found = a.seat_addresses(t.host)
        for _ in range(2):
            lookup = a.seat_dns.get((t.host, "A"))
            # a lost answer or a resolver too busy to answer (forty seats audit at once)
            # must not leave the keyword untried; a name that does not resolve stays so
            busy = lookup is None or lookup.outcome in (dns_query.TIMEOUT, dns_query.SERVFAIL)
            if found or not busy or not a.time_for(3):
                break
            a.seat_dns[(t.host, "A")] = await a.limited(dns_query.resolve(
                t.host, "A", list(a.p.resolvers), a.p.dns_timeout_s))
            found = a.seat_addresses(t.host)
        return found

    base, addrs = None, []
    for t in must_load:
        if t.scheme == "tcp":
            continue
        found = await addresses(t)
        if found and not all(a.is_local(x) for x in found):
            base, addrs = t, found
            break
    if base is None:
        return [Attempt("keyword", keyword, f"keyword {keyword!r}", "not tried",
                        inconclusive=True,
                        note="no exam URL outside the room loads to carry the keyword")]
    address = next((x for x in addrs if ":" not in x or a.has_ipv6), addrs[0])
    url = base.with_path("/" + quote(keyword, safe=""))
    control, control_line = await a.control_fetch(base.url, address, base.host, then=1)
    f = await a.fetch(url, address, base.host)
    result = f.result_text()
    if f.outcome in RETRYABLE and _loads(a, control, base.host) and a.time_for(1):
        # a stop that a busy server could also give: seen twice, it is the filter's
        await asyncio.sleep(RETRY_PAUSE_S)
        again = await a.fetch(url, address, base.host)
        result += f"; again -> {again.result_text()}"
        # a second try that neither loads nor stops says nothing: the first one stands
        if again.outcome == http_fetch.RESPONSE or again.outcome in FETCH_BLOCKS:
            f = again
    att = Attempt("keyword", url, f.request_text(), result, control=control_line)
    if f.outcome in FETCH_BLOCKS:
        att.blocked_by = FETCH_BLOCKS[f.outcome]
    elif f.outcome == http_fetch.RESPONSE:
        if a.is_block_page(f):
            att.blocked_by = "http_block_page"
        elif a.is_block_redirect(f, base.host):
            att.blocked_by = "http_redirect"
        else:
            att.leak = True
            att.note = "the keyword was not filtered: the site's server answered"
    else:
        att.note = "could not be tried: " + f.result_text()
    if not att.leak and not _loads(a, control, base.host):
        att.inconclusive = True
        att.note = (f"the carrier {base.url} does not load either: this cannot tell a keyword "
                    "filter from the site being unreachable")
    return [att]


# -- judging -------------------------------------------------------------------------------


def _how(a: _Audit, url: str) -> list[str]:
    # an inconclusive stop (the name has no such record anywhere) says nothing of how
    seen = [x.blocked_by for x in a.attempts if x.target == url and x.blocked_by
            and not x.inconclusive
            and x.technique in ("dns", "plain", "direct_ip", "sinkhole_page")]
    return list(dict.fromkeys(seen))


def _how_text(codes: list[str]) -> Text:
    en = ", ".join(HOW.get(c, (c, c))[0] for c in codes) or "not blocked"
    zh = "、".join(HOW.get(c, (c, c))[1] for c in codes) or "未拦截"
    return Text(en, zh)


def _shorten(lines: list[str], limit: int = 3) -> str:
    shown = "; ".join(lines[:limit])
    return shown + (f" (+{len(lines) - limit} more)" if len(lines) > limit else "")


def measurements(a: _Audit, roles: dict[str, list[str]], duration_s: float) -> ProbeOutcome:
    """Everything the audit tried, for readiness/judges/filtering.py to decide on: the
    probe measures, the judge gives the verdict and the feature results."""
    p = a.p
    # web requests that got through first: they are what a candidate would use
    leaks = sorted((x for x in a.attempts if x.leak),
                   key=lambda x: x.technique in ("resolver", "doh"))
    blocked_report = []
    for url in roles["must_block"]:
        codes = _how(a, url)
        target_leaks = [x.line() for x in leaks if x.target == url
                        or (x.target == Target.parse(url).host)]
        blocked_report.append({"url": url, "blocked_by": codes,
                               "how": _how_text(codes).en, "leaks": target_leaks})
    measured: dict[str, Any] = {
        "audit": "url_filter",
        "mode": p.mode,
        "vantage_is_seat": p.vantage_is_seat,
        "in_exam_window": in_windows(p.windows, p.now),
        "resolvers": list(p.resolvers),
        "exam": a.exam_results,
        "blocked": blocked_report,
        "leaks": [x.line() for x in leaks],
        "ipv6_route": a.has_ipv6,
        "keywords": list(p.keywords),
        "bypass_resolvers": list(p.bypass_resolvers),
        "doh_urls": list(p.doh_urls),
        "attempts": [x.to_dict() for x in a.attempts],
        "attempt_count": len(a.attempts) + sum(len(e["requests"]) for e in a.exam_results),
        "duration_s": round(duration_s, 2),
    }
    return ProbeOutcome(Status.PASS, Text(
        f"{measured['attempt_count']} block and bypass attempts made",
        f"已进行 {measured['attempt_count']} 次拦截与绕过尝试"), measured)


async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    if params.get("control_resolver_addresses") is not None:
        # run from the coordinator, which may ask the control resolvers itself
        started = time.monotonic()
        learned = await learn_for(params, deadline_s)
        params = {**params, **learned.measured["params"]}
        deadline_s -= time.monotonic() - started
    try:
        p = _Params.parse(params).fit(deadline_s)
    except (ValueError, TypeError) as exc:
        return ProbeOutcome(Status.ERROR, Text(f"bad parameters: {exc}", f"参数错误：{exc}"))
    if not p.resolvers and any(t.is_name for t in p.exam + p.blocked):
        return ProbeOutcome(Status.ERROR, Text(
            "this computer has no DNS server configured, so names cannot be tried as a "
            "browser would: set the seat's DNS server (usually the router)",
            "本机未配置 DNS 服务器，无法像浏览器一样按域名访问："
            "请设置考生机的 DNS（通常为路由器）"))
    started = time.monotonic()
    audit, roles = await _audit(p, deadline_s)
    return measurements(audit, roles, time.monotonic() - started)


# -- the coordinator's side -------------------------------------------------------------------


async def learn_control(names: Iterable[str], resolvers: Iterable[str],
                        timeout_s: float = 2.0, ipv6: bool = True,
                        static: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """What the control resolvers (asked from the coordinator, which may get out) say
    each name's addresses are: the targets of the direct-address bypass."""
    servers = list(resolvers) or dns_query.system_nameservers()
    rdtypes = ["A", "AAAA"] if ipv6 else ["A"]
    wanted = list(dict.fromkeys(n.lower().rstrip(".") for n in names))
    lookups = await asyncio.gather(*(dns_query.resolve(n, r, servers, timeout_s)
                                     for n in wanted for r in rdtypes))
    out: dict[str, list[str]] = {n: list((static or {}).get(n, [])) for n in wanted}
    for lookup in lookups:
        if lookup.outcome == dns_query.ANSWER:
            out[lookup.name] = list(dict.fromkeys(out[lookup.name] + lookup.addresses))
    return {n: a for n, a in out.items() if a}


async def learn_for(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    """The control answers for a url_filter audit, learned here before the audit runs
    (here or on a seat): params are `control_resolver_addresses`, `known_addresses`
    ({name: [address]}, known without DNS) and the audit's own `params` (or, when it
    runs here, the audit's params themselves). measured["params"] holds what to add to
    the audit's params."""
    audit = params["params"]
    answers = await learn_control(
        control_names(audit), params.get("control_resolver_addresses") or [],
        timeout_s=min(2.0, max(0.2, deadline_s / 8)),
        static=params.get("known_addresses") or {})
    known = {**(audit.get("control_answers") or {}), **answers}
    return ProbeOutcome(Status.PASS, Text(
        f"control answers for {len(known)} name(s)", f"对照解析 {len(known)} 个域名"),
        {"params": {"control_answers": known}})


def control_names(params: dict[str, Any]) -> list[str]:
    """The names `learn_control` must look up for these url_filter params: every
    must-block host, its wildcard-test subdomain, and (mode none) the exam hosts."""
    urls = list(params.get("blocked_urls") or [])
    if params.get("mode") == NO_INTERNET:
        urls += list(params.get("exam_urls") or [])
    hosts = [t.host for t in (Target.parse(u) for u in urls) if t.is_name]
    label = params.get("subdomain_label")
    subs = [x for h in hosts for x in wildcard_names(h, label)]
    return list(dict.fromkeys(hosts + subs))


def new_subdomain_label() -> str:
    return f"rdy-{secrets.token_hex(5)}"


# -- internet_reach: a host that must get out (the exam server, the coordinator) -------------


async def run_reach(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    """The URLs in `urls` load from here (the exam server must reach the internet; the
    coordinator's reach shows that the filter is per address).

    params: urls, resolver_address (default: this machine's DNS), require "all" | "any",
    connect_timeout_s, read_timeout_s, verify_tls. It measures what loaded; the judges
    (readiness/judges/filtering.py server_reach, evidence_only) say whether it is enough.
    """
    try:
        targets = [Target.parse(u) for u in _strings(params.get("urls"), "urls")]
        if not targets:
            raise ValueError("'urls' is empty")
        require = params["require"]
        if require not in ("all", "any"):
            raise ValueError("'require' must be 'all' or 'any'")
    except ValueError as exc:
        return ProbeOutcome(Status.ERROR, Text(f"bad parameters: {exc}", f"参数错误：{exc}"))
    resolver = params.get("resolver_address")
    budget = max(1.0, deadline_s - 1.0)
    p = _Params.parse({
        # only the exam side of an audit: load these, nothing to block
        "mode": EXAM_SITES_ONLY, "exam_urls": [t.url for t in targets], "blocked_urls": [],
        "resolver_address": resolver, "vantage_is_seat": False, "dns_timeout_s": 2.0,
        "connect_timeout_s": params["connect_timeout_s"],
        "read_timeout_s": params["read_timeout_s"], "verify_tls": params["verify_tls"],
        "ipv6": True, "icmp": False, "concurrency": len(targets),
    }).fit(budget)
    audit = _Audit(p, budget)
    started = time.monotonic()
    loads = await _gather([audit.exam_load(t) for t in targets])
    good = [e for e in loads if e["ok"]]
    bad = [e for e in loads if not e["ok"]]
    measured = {"require": require, "reached": [e["url"] for e in good],
                "failed": [e["url"] for e in bad],
                "failed_why": _shorten([e["detail"] for e in bad]),
                "requests": [r for e in loads for r in e["requests"]],
                "duration_s": round(time.monotonic() - started, 2)}
    return ProbeOutcome(Status.PASS, Text(
        f"{len(good)} of {len(loads)} loaded", f"{len(loads)} 个中 {len(good)} 个可打开"),
        measured)


_AUDIT = (
    *knobs("mode", "keywords", "block_page_patterns", "local_networks", "subdomain_label",
           "exam_windows", "vantage_is_seat", "dns_timeout_s", "connect_timeout_s",
           "read_timeout_s", "verify_tls", "ipv6", "icmp", "concurrency"),
    Param("exam_urls", TARGETS), Param("blocked_urls", TARGETS),
    Param("bypass_resolver_addresses", TARGETS), Param("doh_urls", TARGETS),
    Param("block_hosts", TARGETS), Param("sinkhole_addresses", TARGETS),
    Param("resolver_address", TARGET, optional=True),
    Param("control_answers", NAMES, optional=True),
    *optional("now"),
)
_CONTROL = (Param("control_resolver_addresses", TARGETS), Param("known_addresses", NAMES))
KINDS = (
    CheckKind(probe="url_filter", run=run,
              params=(*_AUDIT, *(Param(p.name, p.mark, optional=True) for p in _CONTROL)),
              judges=("filtering.audit", "filtering.seat_audit"),
              runs_on=frozenset({COORDINATOR, SEAT})),
    # the coordinator learns the blocked names' real addresses before a seat's audit
    CheckKind(probe="url_filter_control", run=learn_for,
              params=(*_CONTROL, Param("params")), leg_of="url_filter"),
    CheckKind(probe="internet_reach", run=run_reach,
              params=(Param("urls", TARGETS), *knobs("require", "connect_timeout_s",
                                                    "read_timeout_s", "verify_tls"),
                      Param("resolver_address", TARGET, optional=True)),
              judges=("filtering.server_reach", "filtering.evidence_only"),
              runs_on=frozenset({COORDINATOR, SEAT})),
)
