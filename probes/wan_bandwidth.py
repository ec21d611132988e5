"""WAN-FLOOR: download and upload throughput to an endpoint on the internet (the
verdict against the certificate's floor is readiness.judges.filtering's).

Several parallel TCP streams (one stream rarely fills a long path), sampled every
`interval_s`: the ramp (slow start, socket buffers filling) is not counted, and each
direction stops as soon as its last `settle_window` intervals agree within
`tolerance_pct` (probes/engines/steady_rate.py); the figure is the median of those
intervals. A line that never settles stops at `max_s` per direction, and the result
says so. Download, then upload: over the same HTTP sessions (a connection the download
ended cleanly carries the upload); an iperf3 server runs one test per direction (its
protocol opens new data connections per test). Three kinds of endpoint:

  http_download  a large file (`url`), fetched again and again; upload only when
                 `upload_url` is given (POSTed bodies)
  librespeed     a LibreSpeed-compatible backend at `url`: `garbage?ckSize=N` to download,
                 `empty` to upload. Both layouts are found on their own: the Go/Rust
                 backends' `/garbage` + `/empty` and the PHP one's
                 `/backend/garbage.php` + `/backend/empty.php`, or give
                 `garbage_path` / `empty_path`
  iperf3         a stock iperf3 server at `host`:`port` (reverse test for download)

params: kind, url, upload_url, host, port (5201), garbage_path, empty_path,
  streams (4), interval_s (0.5), settle_window (4), tolerance_pct (2.5), ramp_s (0.5),
  max_s (5, per direction), connect_timeout_s (3), latency_samples (5),
  verify_tls (true), floor_mbps, overhead_allowance_pct (0). (runs, warmup_s and
  duration_s of earlier versions are ignored.)

The probe measures (status pass once figures exist); the judge decides. An endpoint
that cannot be reached at all is a fail (no internet from here); one that answers but
is not a speed-test endpoint is an error (the configuration is wrong). floor_mbps and
overhead_allowance_pct are recorded in measured, for the result to show.

measured: download_mbps, upload_mbps, latency_ms, throughput_mbps (= download, which the
results store's uplink trend reads), directions (per direction: every interval, how
many the median is over, their spread, settled or stopped at max_s), settled, method.
"""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import socket
import statistics
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests

from readiness.checkkind import COORDINATOR, PATH, SEAT, TARGET, CheckKind, Param, knobs
from readiness.results import ProbeOutcome, Status, Text

from .engines import icmp, target_guard
from .engines.blocking import in_thread
from .engines.http_fetch import join_on_server
from .engines.iperf3_client import Iperf3Busy, Iperf3ConnectError, Iperf3Error, run_test
from .engines.steady_rate import SettledRate, SettleRule, Settling

T = TypeVar("T")

ENDPOINT_KINDS = ("http_download", "librespeed", "iperf3")
READ_BLOCK = 64 * 1024  # small enough that a stream notices "stop" within a few ms
# Upload pieces are small so the byte count moves smoothly: at 0.5 s intervals a 256 KiB
# step would be ±4 Mbit/s of noise per interval and the rate would never seem to settle.
UPLOAD_PIECE = 16 * 1024
# random: nothing on the path can compress it
UPLOAD_PIECES = [os.urandom(UPLOAD_PIECE) for _ in range(16)]
UPLOAD_POST_BYTES = 32 * 1024 * 1024
GARBAGE_MIB = 100
LAYOUTS = (("garbage", "empty"), ("backend/garbage.php", "backend/empty.php"),
           ("garbage.php", "empty.php"))
USER_AGENT = "readiness-wan-floor/1"
# seconds a direction needs beyond its measurement (connecting, stopping streams)
DIRECTION_OVERHEAD_S = 1.5


class EndpointUnreachable(Exception):
    """No connection to the endpoint at all: from here, the internet is not reachable."""


class EndpointWrong(Exception):
    """The endpoint answers, but not as the configured kind of speed test."""


@dataclass(frozen=True)
class _Params:
    kind: str
    url: str | None
    upload_url: str | None
    host: str | None
    port: int
    garbage_path: str | None
    empty_path: str | None
    streams: int
    rule: SettleRule
    connect_timeout_s: float
    latency_samples: int
    verify_tls: bool
    floor_mbps: float
    allowance_pct: float

    @classmethod
    def parse(cls, params: dict[str, Any]) -> _Params:
        kind = params.get("kind")
        if kind not in ENDPOINT_KINDS:
            raise ValueError(f"'kind' must be one of {', '.join(ENDPOINT_KINDS)}, not {kind!r}")
        url, host = params.get("url"), params.get("host")
        if kind != "iperf3" and not (isinstance(url, str) and url.startswith(("http://",
                                                                             "https://"))):
            raise ValueError(f"kind {kind} needs an http(s) 'url'")
        if kind == "iperf3" and not host:
            raise ValueError("kind iperf3 needs 'host'")
        floor = float(params["floor_mbps"])
        if floor <= 0:
            raise ValueError("'floor_mbps' must be above 0")
        streams = int(params["streams"])
        if not 1 <= streams <= 64:
            raise ValueError("streams must be 1..64")
        rule = SettleRule(interval_s=float(params["interval_s"]),
                          window=int(params["settle_window"]),
                          tolerance_pct=float(params["tolerance_pct"]),
                          ramp_s=float(params["ramp_s"]),
                          max_s=float(params["max_s"]))
        for key in ("garbage_path", "empty_path"):
            # a path on the endpoint's server, never another server (urljoin would let
            # an absolute URL replace it)
            if params.get(key) is not None:
                join_on_server(str(url), str(params[key]))
        return cls(
            kind=kind, url=url, upload_url=params.get("upload_url"),
            host=str(host) if host else None, port=int(params["port"]),
            garbage_path=params.get("garbage_path"), empty_path=params.get("empty_path"),
            streams=streams, rule=rule,
            connect_timeout_s=float(params["connect_timeout_s"]),
            latency_samples=max(1, int(params["latency_samples"])),
            verify_tls=bool(params["verify_tls"]),
            floor_mbps=floor,
            allowance_pct=float(params["overhead_allowance_pct"]),
        )

    @property
    def target(self) -> tuple[str, int]:
        if self.kind == "iperf3":
            return str(self.host), self.port
        parts = urlsplit(str(self.url))
        return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def directions(self) -> int:
        return 1 if self.kind == "http_download" and not self.upload_url else 2

    def cost_s(self) -> float:
        """The longest the measurement can take (every direction stopped at max_s)."""
        return self.directions * (self.rule.max_s + DIRECTION_OVERHEAD_S)

    def fit(self, deadline_s: float) -> _Params:
        """A lower max_s when the deadline cannot hold every direction at the cap (never
        below the ramp and one window: less could not settle at all)."""
        budget = deadline_s - self.connect_timeout_s - 2.0  # latency and slack
        per_direction = budget / self.directions - DIRECTION_OVERHEAD_S
        least = self.rule.ramp_s + self.rule.window * self.rule.interval_s
        max_s = max(least, min(self.rule.max_s, per_direction))
        return replace(self, rule=replace(self.rule, max_s=max_s))


# -- running blocking work off the loop ---------------------------------------------------


# -- latency ---------------------------------------------------------------------------------


def _resolve(host: str, port: int) -> tuple[int, tuple[Any, ...]]:
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise EndpointUnreachable(f"{host} does not resolve: {exc.strerror}") from None
    family, _, _, _, sockaddr = info[0]
    return family, sockaddr


def tcp_connect_rtt_ms(host: str, port: int, samples: int, timeout_s: float,
                       cancel: threading.Event | None = None) -> list[float]:
    """Time of the TCP handshake: one round trip, free of any server's think time. The
    connection is closed at once (a stock iperf3 server treats it as a failed client
    and moves on)."""
    family, sockaddr = _resolve(host, port)
    rtts: list[float] = []
    for _ in range(samples):
        if cancel is not None and cancel.is_set():
            break
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            started = time.perf_counter()
            try:
                sock.connect(sockaddr)
            except TimeoutError:
                raise EndpointUnreachable(
                    f"no answer from {host}:{port} within {timeout_s:g} s") from None
            except OSError as exc:
                raise EndpointUnreachable(f"cannot connect to {host}:{port}: "
                                          f"{exc.strerror or exc}") from None
            rtts.append((time.perf_counter() - started) * 1000)
            # close with a reset: no TIME_WAIT left behind per sample
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return rtts


async def _latency(p: _Params, host: str, port: int) -> tuple[list[float], str]:
    if p.kind != "iperf3":
        rtts = await in_thread(lambda c: tcp_connect_rtt_ms(
            host, port, p.latency_samples, p.connect_timeout_s, c), "wan-latency")
        return rtts, "tcp_connect"
    # Not a TCP connect to a stock iperf3 server: it handles one connection at a time
    # and refuses others while it does, so probing it could make the test itself fail.
    try:
        stats = await icmp.ping(host, count=p.latency_samples, interval_s=0.1,
                                timeout_s=min(1.0, p.connect_timeout_s))
    except (icmp.IcmpUnavailable, OSError):
        return [], "unavailable (no ICMP permission)"
    return list(stats.rtts_ms), "icmp_echo"


# -- HTTP streams ----------------------------------------------------------------------------


class _Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self, n: int) -> None:
        with self._lock:
            self.value += n


class _Cancelled(Exception):
    """The awaiting task was cancelled: stop measuring."""


class _Stop(Exception):
    """Raised inside an upload body to abandon the request when measuring is over."""


class _UploadBody:
    """A POST body of known length (so no chunked encoding, which some backends refuse)
    that counts what the socket took and gives up when told to stop."""

    def __init__(self, size: int, counter: _Counter, stop: threading.Event) -> None:
        self.size, self.counter, self.stop = size, counter, stop

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[bytes]:
        left = self.size
        while left > 0:
            if self.stop.is_set():
                raise _Stop
            n = min(UPLOAD_PIECE, left)
            piece = UPLOAD_PIECES[(left // UPLOAD_PIECE) % len(UPLOAD_PIECES)]
            yield piece if n == UPLOAD_PIECE else piece[:n]
            # the code after `yield` runs once the connection asks for more, i.e. the
            # previous block has been handed to the socket
            self.counter.add(n)
            left -= n


@dataclass
class _HttpPlan:
    download: Callable[[], str]  # a fresh URL per request (defeats caches, as LibreSpeed)
    upload: Callable[[], str] | None
    layout: str
    check: target_guard.Check | None = None  # the agent's allow-list, for every hop


class _GuardedSession(requests.Session):
    """A requests session that asks the agent's allow-list before every request it
    sends, redirects included (requests sends each hop through `send`)."""

    def __init__(self, check: target_guard.Check | None):
        super().__init__()
        self.headers["User-Agent"] = USER_AGENT
        self._check = check
        if check is not None:
            # for the agent: a proxy from the environment is a host outside the site file
            self.trust_env = False

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        target_guard.require(str(request.url), "the speed-test endpoint leads to", self._check)
        return super().send(request, **kwargs)


def _cache_buster(url: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}r={secrets.token_hex(6)}"


def _plan_http(p: _Params, check: target_guard.Check | None = None) -> _HttpPlan:
    """Find the endpoint's layout with small requests before measuring anything."""
    session = _GuardedSession(check)
    timeout = (p.connect_timeout_s, 10.0)
    base = str(p.url)
    try:
        if p.kind == "http_download":
            with session.get(base, stream=True, timeout=timeout, verify=p.verify_tls) as r:
                if r.status_code != 200:
                    raise EndpointWrong(f"GET {base} answers HTTP {r.status_code}, "
                                        "not the file")
            upload = (lambda: _cache_buster(str(p.upload_url))) if p.upload_url else None
            return _HttpPlan(lambda: _cache_buster(base), upload, "file", check)
        if not base.endswith("/") and not base.endswith((".php", "garbage")):
            base += "/"
        if p.garbage_path or base.endswith((".php", "garbage")):
            garbage = join_on_server(base, p.garbage_path) if p.garbage_path else base
            empty = join_on_server(base, p.empty_path) if p.empty_path else \
                garbage.replace("garbage", "empty")
            layouts = [(garbage, empty)]
        else:
            layouts = [(urljoin(base, g), urljoin(base, e)) for g, e in LAYOUTS]
        tried = []
        for garbage, empty in layouts:
            probe_url = f"{garbage}?ckSize=1"
            with session.get(probe_url, stream=True, timeout=timeout,
                             verify=p.verify_tls) as r:
                tried.append(f"{probe_url} -> HTTP {r.status_code}")
                if r.status_code == 200:
                    size = GARBAGE_MIB

                    def dl(g: str = garbage, n: int = size) -> str:
                        return _cache_buster(f"{g}?ckSize={n}")

                    return _HttpPlan(dl, lambda e=empty: _cache_buster(e),
                                     urlsplit(garbage).path, check)
        raise EndpointWrong("no LibreSpeed backend found: " + "; ".join(tried))
    except requests.exceptions.ConnectionError as exc:
        raise EndpointUnreachable(f"cannot connect to {base}: {_reason(exc)}") from None
    except requests.exceptions.Timeout:
        raise EndpointUnreachable(f"no answer from {base}") from None
    except requests.RequestException as exc:
        raise EndpointWrong(f"{base}: {exc}") from None
    finally:
        session.close()


def _reason(exc: BaseException) -> str:
    inner: BaseException | None = exc
    while inner is not None and inner.__context__ is not None and inner.args and \
            not isinstance(inner, OSError):
        inner = inner.__context__
    return str(inner or exc)[:200]


def _download_worker(p: _Params, plan: _HttpPlan, session: requests.Session,
                     counter: _Counter, stop: threading.Event, errors: list[str]) -> None:
    while not stop.is_set():
        try:
            with session.get(plan.download(), stream=True, verify=p.verify_tls,
                             timeout=(p.connect_timeout_s, 10.0)) as r:
                if r.status_code != 200:
                    errors.append(f"download answered HTTP {r.status_code}")
                    return
                while not stop.is_set():
                    # read1: whatever has arrived (up to a block), so the count follows
                    # the socket rather than jumping a whole block at a time
                    chunk = r.raw.read1(READ_BLOCK)
                    if not chunk:
                        break
                    counter.add(len(chunk))
        except requests.RequestException as exc:
            if not stop.is_set():
                errors.append(f"download: {_reason(exc)}")
            return
        except target_guard.TargetNotAllowed as exc:
            errors.append(f"download: {exc.message}")
            return


def _upload_worker(p: _Params, plan: _HttpPlan, session: requests.Session,
                   counter: _Counter, stop: threading.Event, errors: list[str]) -> None:
    assert plan.upload is not None
    while not stop.is_set():
        try:
            r = session.post(plan.upload(), data=_UploadBody(UPLOAD_POST_BYTES, counter,
                                                             stop),
                             headers={"Content-Type": "application/octet-stream"},
                             verify=p.verify_tls, timeout=(p.connect_timeout_s, 10.0))
            r.close()
            if r.status_code >= 400:
                errors.append(f"upload answered HTTP {r.status_code}")
                return
        except _Stop:
            return
        except target_guard.TargetNotAllowed as exc:
            errors.append(f"upload: {exc.message}")
            return
        except requests.RequestException as exc:
            if isinstance(exc.__context__, _Stop) or stop.is_set():
                return
            errors.append(f"upload: {_reason(exc)}")
            return


Worker = Callable[[requests.Session, _Counter, threading.Event, list[str]], None]


def _measure(worker: Worker, sessions: list[requests.Session], rule: SettleRule,
             cancel: threading.Event) -> SettledRate:
    """One direction: a worker per session, sampled every interval until the rule says
    the rate has settled (or max_s has passed)."""
    counter, stop, errors = _Counter(), threading.Event(), []
    threads = [threading.Thread(target=worker, args=(session, counter, stop, errors),
                                daemon=True, name=f"wan-stream-{i}")
               for i, session in enumerate(sessions)]
    settling = Settling(rule)
    for thread in threads:
        thread.start()
    try:
        tick_at, tick_bytes = time.monotonic(), counter.value
        while True:
            # wait for the next tick, not a fixed sleep: no drift across intervals
            if cancel.wait(max(0.0, tick_at + rule.interval_s - time.monotonic())):
                raise _Cancelled
            now, moved = time.monotonic(), counter.value
            seconds = now - tick_at
            enough = settling.add((moved - tick_bytes) * 8 / seconds / 1e6, seconds)
            tick_at, tick_bytes = now, moved
            if enough or (errors and not any(t.is_alive() for t in threads)):
                break
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=2.0)
    if counter.value == 0 and errors:
        raise EndpointWrong(errors[0])
    return settling.result()


def _http_measure(p: _Params, plan: _HttpPlan,
                  cancel: threading.Event) -> dict[str, SettledRate]:
    """Download, then upload over the same sessions (one per stream)."""
    sessions = [_GuardedSession(plan.check) for _ in range(p.streams)]

    def dl(session: requests.Session, counter: _Counter, stop: threading.Event,
           errors: list[str]) -> None:
        _download_worker(p, plan, session, counter, stop, errors)

    def ul(session: requests.Session, counter: _Counter, stop: threading.Event,
           errors: list[str]) -> None:
        _upload_worker(p, plan, session, counter, stop, errors)

    try:
        rates = {"download": _measure(dl, sessions, p.rule, cancel)}
        if plan.upload is not None:
            rates["upload"] = _measure(ul, sessions, p.rule, cancel)
        return rates
    finally:
        for session in sessions:
            session.close()


# -- iperf3 ----------------------------------------------------------------------------------


async def _iperf3_direction(p: _Params, reverse: bool) -> SettledRate:
    # the time agreed with the server is past the cap: the rule ends the test first
    agreed_s = math.ceil(p.rule.max_s) + 1
    # a stock server whose last test this client ended early (the rule settled) stays busy
    # until that test's agreed time is over: ask again each second until then
    busy_until = time.monotonic() + agreed_s + 1.0
    asked_before = False
    while True:
        settling = Settling(p.rule)

        def enough(nbytes: int, seconds: float, s: Settling = settling) -> bool:
            return s.add(nbytes * 8 / seconds / 1e6 if seconds > 0 else 0.0, seconds)

        try:
            await run_test(str(p.host), p.port, duration_s=agreed_s, parallel=p.streams,
                           reverse=reverse, omit_s=0, connect_timeout_s=p.connect_timeout_s,
                           interval_s=p.rule.interval_s, on_interval=enough)
            return settling.result()
        except Iperf3Busy:
            # the stock server serves one test at a time: someone else's may be ending
            if asked_before and time.monotonic() >= busy_until:
                raise EndpointWrong(f"iperf3 server {p.host}:{p.port} is busy with "
                                    "another test") from None
            asked_before = True
            await asyncio.sleep(1.0)
        except Iperf3ConnectError as exc:
            raise EndpointUnreachable(str(exc)) from None
        except Iperf3Error as exc:
            raise EndpointWrong(f"iperf3 {p.host}:{p.port}: {exc}") from None


def _method(rule: SettleRule, streams: int) -> str:
    return (f"{streams} streams; intervals of {rule.interval_s:g} s after a "
            f"{rule.ramp_s:g} s ramp; stops when the last {rule.window} agree within "
            f"±{rule.tolerance_pct:g} % (median of those), at most {rule.max_s:g} s "
            "per direction")


async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    try:
        p = _Params.parse(params)
    except (ValueError, TypeError) as exc:
        return ProbeOutcome(Status.ERROR, Text(f"bad parameters: {exc}", f"参数错误：{exc}"))
    p = p.fit(deadline_s)
    host, port = p.target
    endpoint = p.url if p.kind != "iperf3" else f"iperf3://{host}:{port}"
    measured: dict[str, Any] = {
        "endpoint": endpoint, "kind": p.kind, "streams": p.streams,
        "method": _method(p.rule, p.streams), "directions": {}, "download_mbps": None,
        "upload_mbps": None, "throughput_mbps": None, "latency_ms": None,
    }
    directions: dict[str, SettledRate] = {}
    started = time.monotonic()
    try:
        rtts, measured["latency_method"] = await _latency(p, host, port)
        measured["latency_ms"] = round(statistics.median(rtts), 2) if rtts else None
        # the agent's allow-list, read here: the plan and the streams run in threads,
        # which do not inherit it
        check = target_guard.current()
        if p.kind != "iperf3":
            plan = await in_thread(lambda c: _plan_http(p, check), "wan-plan")
            measured["path"] = plan.layout
            directions = await in_thread(lambda c: _http_measure(p, plan, c), "wan-run")
        else:
            directions["download"] = await _iperf3_direction(p, reverse=True)
            directions["upload"] = await _iperf3_direction(p, reverse=False)
    except EndpointUnreachable as exc:
        if not directions:
            return ProbeOutcome(Status.FAIL, Text(
                f"cannot reach the speed-test endpoint {endpoint} from here: {exc}; the "
                "internet link is down, or the endpoint in the site file is wrong",
                f"无法从本机访问测速服务器 {endpoint}：{exc}；"
                "外网不通，或站点配置中的测速地址有误"),
                measured)
        measured["incomplete"] = str(exc)
    except target_guard.TargetNotAllowed as exc:
        return ProbeOutcome(Status.ERROR, Text(
            f"the speed-test endpoint {endpoint} was not measured: {exc.message}; give the "
            "endpoint's final URL in wan_endpoints of the site file",
            f"未测量测速服务器 {endpoint}：{exc.target} 不在本代理的站点配置中，未向其发送任何"
            "数据；请在站点配置的 wan_endpoints 中填写最终地址"), measured)
    except EndpointWrong as exc:
        if not directions:
            return ProbeOutcome(Status.ERROR, Text(
                f"the speed-test endpoint {endpoint} does not work as a {p.kind} endpoint: "
                f"{exc}; fix wan_endpoints in the site file",
                f"测速服务器 {endpoint} 不是可用的 {p.kind} 测速端点：{exc}；"
                "请修正站点配置中的 wan_endpoints"), measured)
        measured["incomplete"] = str(exc)
    download = directions["download"].mbps if "download" in directions else None
    upload = directions["upload"].mbps if "upload" in directions else None
    measured.update(directions={k: v.to_json() for k, v in directions.items()},
                    settled=all(v.settled for v in directions.values()),
                    download_mbps=download, upload_mbps=upload, throughput_mbps=download,
                    elapsed_s=round(time.monotonic() - started, 2),
                    floor_mbps=p.floor_mbps, overhead_allowance_pct=p.allowance_pct)
    # the verdict against the floor is readiness.judges.filtering's (wan_floor_verdict)
    dl = f"{download:.1f} Mbit/s" if download is not None else "-"
    ul = f"{upload:.1f} Mbit/s" if upload is not None else "-"
    return ProbeOutcome(Status.PASS, Text(f"measured: download {dl}, upload {ul}",
                                          f"实测：下行 {dl}，上行 {ul}"), measured)


KIND = CheckKind(
    probe="wan_bandwidth", run=run,
    params=(*knobs("kind", "floor_mbps", "overhead_allowance_pct", "streams", "interval_s",
                   "settle_window", "tolerance_pct", "ramp_s", "max_s", "port",
                   "connect_timeout_s", "latency_samples", "verify_tls"),
            Param("url", TARGET, optional=True), Param("upload_url", TARGET, optional=True),
            Param("host", TARGET, optional=True), Param("garbage_path", PATH, optional=True),
            Param("empty_path", PATH, optional=True)),
    judges=("filtering.wan_floor",), runs_on=frozenset({COORDINATOR, SEAT}), exclusive=True)
