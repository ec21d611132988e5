"""WAN-FLOOR: download and upload throughput to an endpoint on the internet (the
verdict against the certificate's floor is readiness.judges.filtering's).

Several parallel TCP streams (one stream rarely fills a long path), a warm-up that is
thrown away (slow start and filling the socket buffers), several seconds measured, the
median of repeated runs. Three kinds of endpoint:

  http_download  a large file (`url`), fetched again and again; upload only when
                 `upload_url` is given (POSTed bodies)
  librespeed     a LibreSpeed-compatible backend at `url`: `garbage?ckSize=N` to download,
                 `empty` to upload. Both layouts are found on their own: the Go/Rust
                 backends' `/garbage` + `/empty` and the PHP one's
                 `/backend/garbage.php` + `/backend/empty.php`, or give
                 `garbage_path` / `empty_path`
  iperf3         a stock iperf3 server at `host`:`port` (reverse test for download)

params: kind, url, upload_url, host, port (5201), garbage_path, empty_path,
  streams (4), warmup_s (1), duration_s (5), runs (3), connect_timeout_s (3),
  latency_samples (5), verify_tls (true), floor_mbps, overhead_allowance_pct (0).

The probe measures (status pass once figures exist); the judge decides. An endpoint
that cannot be reached at all is a fail (no internet from here); one that answers but
is not a speed-test endpoint is an error (the configuration is wrong). floor_mbps and
overhead_allowance_pct are recorded in measured, for the result to show.

measured: download_mbps, upload_mbps, latency_ms, throughput_mbps (= download, which the
results store's uplink trend reads), runs (each run's figures), and the method.
"""

from __future__ import annotations

import asyncio
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

from readiness.results import ProbeOutcome, Status, Text

from .engines import icmp, target_guard
from .engines.blocking import in_thread
from .engines.http_fetch import join_on_server
from .engines.iperf3_client import Iperf3Busy, Iperf3ConnectError, Iperf3Error, run_test

T = TypeVar("T")

KINDS = ("http_download", "librespeed", "iperf3")
READ_BLOCK = 64 * 1024  # small enough that a stream notices "stop" within a few ms
UPLOAD_BLOCK = os.urandom(256 * 1024)  # random: nothing on the path can compress it
UPLOAD_POST_BYTES = 32 * 1024 * 1024
GARBAGE_MIB = 100
LAYOUTS = (("garbage", "empty"), ("backend/garbage.php", "backend/empty.php"),
           ("garbage.php", "empty.php"))
USER_AGENT = "readiness-wan-floor/1"
# seconds a run needs beyond warm-up and measurement (connecting, stopping streams)
RUN_OVERHEAD_S = 1.5


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
    warmup_s: float
    duration_s: float
    runs: int
    connect_timeout_s: float
    latency_samples: int
    verify_tls: bool
    floor_mbps: float
    allowance_pct: float

    @classmethod
    def parse(cls, params: dict[str, Any]) -> _Params:
        kind = params.get("kind")
        if kind not in KINDS:
            raise ValueError(f"'kind' must be one of {', '.join(KINDS)}, not {kind!r}")
        url, host = params.get("url"), params.get("host")
        if kind != "iperf3" and not (isinstance(url, str) and url.startswith(("http://",
                                                                             "https://"))):
            raise ValueError(f"kind {kind} needs an http(s) 'url'")
        if kind == "iperf3" and not host:
            raise ValueError("kind iperf3 needs 'host'")
        floor = float(params.get("floor_mbps", 0))
        if floor <= 0:
            raise ValueError("'floor_mbps' must be above 0")
        streams = int(params.get("streams", 4))
        runs = int(params.get("runs", 3))
        duration = float(params.get("duration_s", 5))
        warmup = float(params.get("warmup_s", 1))
        if not 1 <= streams <= 64 or not 1 <= runs <= 20 or duration <= 0 or warmup < 0:
            raise ValueError("streams 1..64, runs 1..20, duration_s > 0, warmup_s >= 0")
        for key in ("garbage_path", "empty_path"):
            # a path on the endpoint's server, never another server (urljoin would let
            # an absolute URL replace it)
            if params.get(key) is not None:
                join_on_server(str(url), str(params[key]))
        return cls(
            kind=kind, url=url, upload_url=params.get("upload_url"),
            host=str(host) if host else None, port=int(params.get("port", 5201)),
            garbage_path=params.get("garbage_path"), empty_path=params.get("empty_path"),
            streams=streams, warmup_s=warmup, duration_s=duration, runs=runs,
            connect_timeout_s=float(params.get("connect_timeout_s", 3.0)),
            latency_samples=max(1, int(params.get("latency_samples", 5))),
            verify_tls=bool(params.get("verify_tls", True)),
            floor_mbps=floor,
            allowance_pct=float(params.get("overhead_allowance_pct", 0)),
        )

    @property
    def target(self) -> tuple[str, int]:
        if self.kind == "iperf3":
            return str(self.host), self.port
        parts = urlsplit(str(self.url))
        return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)

    def run_cost_s(self) -> float:
        directions = 1 if self.kind == "http_download" and not self.upload_url else 2
        return directions * (self.warmup_s + self.duration_s + RUN_OVERHEAD_S)

    def fit(self, deadline_s: float) -> _Params:
        """Fewer runs (then shorter ones) when the deadline cannot hold them all."""
        budget = deadline_s - self.connect_timeout_s - 2.0  # latency and slack
        runs = max(1, min(self.runs, int(budget // self.run_cost_s())))
        p = replace(self, runs=runs)
        if runs * p.run_cost_s() > budget:
            directions = p.run_cost_s() / (p.warmup_s + p.duration_s + RUN_OVERHEAD_S)
            per_direction = budget / directions - RUN_OVERHEAD_S
            warmup = min(p.warmup_s, max(0.0, per_direction * 0.2))
            p = replace(p, warmup_s=warmup, duration_s=max(1.0, per_direction - warmup))
        return p


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
        stats = await icmp.ping(host, count=p.latency_samples, interval_s=0.2,
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
            n = min(len(UPLOAD_BLOCK), left)
            yield UPLOAD_BLOCK if n == len(UPLOAD_BLOCK) else UPLOAD_BLOCK[:n]
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


def _download_worker(p: _Params, plan: _HttpPlan, counter: _Counter, stop: threading.Event,
                     errors: list[str]) -> None:
    with _GuardedSession(plan.check) as session:
        while not stop.is_set():
            try:
                with session.get(plan.download(), stream=True, verify=p.verify_tls,
                                 timeout=(p.connect_timeout_s, 10.0)) as r:
                    if r.status_code != 200:
                        errors.append(f"download answered HTTP {r.status_code}")
                        return
                    while not stop.is_set():
                        chunk = r.raw.read(READ_BLOCK)
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


def _upload_worker(p: _Params, plan: _HttpPlan, counter: _Counter, stop: threading.Event,
                   errors: list[str]) -> None:
    assert plan.upload is not None
    with _GuardedSession(plan.check) as session:
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


def _measure(worker: Callable[[_Counter, threading.Event, list[str]], None], streams: int,
             warmup_s: float, duration_s: float, cancel: threading.Event) -> float:
    """Mbit/s carried by `streams` parallel workers between the end of the warm-up and
    the end of the measurement."""
    counter, stop, errors = _Counter(), threading.Event(), []
    threads = [threading.Thread(target=worker, args=(counter, stop, errors), daemon=True,
                                name=f"wan-stream-{i}") for i in range(streams)]
    for thread in threads:
        thread.start()
    try:
        if cancel.wait(warmup_s):
            raise _Cancelled
        b0, t0 = counter.value, time.monotonic()
        if cancel.wait(duration_s):
            raise _Cancelled
        b1, t1 = counter.value, time.monotonic()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=2.0)
    if b1 == b0 and errors:
        raise EndpointWrong(errors[0])
    return (b1 - b0) * 8 / (t1 - t0) / 1e6


def _http_run(p: _Params, plan: _HttpPlan, cancel: threading.Event) -> dict[str, Any]:
    def dl(counter: _Counter, stop: threading.Event, errors: list[str]) -> None:
        _download_worker(p, plan, counter, stop, errors)

    def ul(counter: _Counter, stop: threading.Event, errors: list[str]) -> None:
        _upload_worker(p, plan, counter, stop, errors)

    run: dict[str, Any] = {
        "download_mbps": round(_measure(dl, p.streams, p.warmup_s, p.duration_s, cancel), 2)}
    if plan.upload is not None:
        run["upload_mbps"] = round(_measure(ul, p.streams, p.warmup_s, p.duration_s,
                                            cancel), 2)
    return run


# -- iperf3 ----------------------------------------------------------------------------------


async def _iperf3_once(p: _Params, reverse: bool) -> float:
    duration = max(1, round(p.duration_s))
    omit = round(p.warmup_s)
    for attempt in range(2):
        try:
            result = await run_test(str(p.host), p.port, duration_s=duration,
                                    parallel=p.streams, reverse=reverse, omit_s=omit,
                                    connect_timeout_s=p.connect_timeout_s)
            return result.throughput_mbps
        except Iperf3Busy:
            # the stock server serves one test at a time: someone else's may be ending
            if attempt:
                raise EndpointWrong(f"iperf3 server {p.host}:{p.port} is busy with "
                                    "another test") from None
            await asyncio.sleep(1.0)
        except Iperf3ConnectError as exc:
            raise EndpointUnreachable(str(exc)) from None
        except Iperf3Error as exc:
            raise EndpointWrong(f"iperf3 {p.host}:{p.port}: {exc}") from None
    raise AssertionError("unreachable")


async def _iperf3_run(p: _Params) -> dict[str, Any]:
    return {"download_mbps": round(await _iperf3_once(p, reverse=True), 2),
            "upload_mbps": round(await _iperf3_once(p, reverse=False), 2)}


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    try:
        p = _Params.parse(params)
    except (ValueError, TypeError) as exc:
        return ProbeOutcome(Status.ERROR, Text(f"bad parameters: {exc}", f"参数错误：{exc}"))
    p = p.fit(deadline_s)
    host, port = p.target
    endpoint = p.url if p.kind != "iperf3" else f"iperf3://{host}:{port}"
    measured: dict[str, Any] = {
        "endpoint": endpoint, "kind": p.kind, "streams": p.streams, "warmup_s": p.warmup_s,
        "duration_s": p.duration_s, "runs": [], "download_mbps": None, "upload_mbps": None,
        "throughput_mbps": None, "latency_ms": None,
    }
    started = time.monotonic()
    try:
        rtts, measured["latency_method"] = await _latency(p, host, port)
        measured["latency_ms"] = round(statistics.median(rtts), 2) if rtts else None
        # the agent's allow-list, read here: the plan and the streams run in threads,
        # which do not inherit it
        check = target_guard.current()
        plan = await in_thread(lambda c: _plan_http(p, check), "wan-plan") \
            if p.kind != "iperf3" else None
        if plan is not None:
            measured["path"] = plan.layout
        for _ in range(p.runs):
            if plan is not None:
                one = await in_thread(lambda c, pl=plan: _http_run(p, pl, c), "wan-run")
            else:
                one = await _iperf3_run(p)
            measured["runs"].append(one)
    except EndpointUnreachable as exc:
        if not measured["runs"]:
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
        if not measured["runs"]:
            return ProbeOutcome(Status.ERROR, Text(
                f"the speed-test endpoint {endpoint} does not work as a {p.kind} endpoint: "
                f"{exc}; fix wan_endpoints in the site file",
                f"测速服务器 {endpoint} 不是可用的 {p.kind} 测速端点：{exc}；"
                "请修正站点配置中的 wan_endpoints"), measured)
        measured["incomplete"] = str(exc)
    download = _median([r["download_mbps"] for r in measured["runs"]])
    upload = _median([r["upload_mbps"] for r in measured["runs"] if "upload_mbps" in r])
    measured.update(download_mbps=download, upload_mbps=upload, throughput_mbps=download,
                    elapsed_s=round(time.monotonic() - started, 2),
                    floor_mbps=p.floor_mbps, overhead_allowance_pct=p.allowance_pct)
    # the verdict against the floor is readiness.judges.filtering's (wan_floor_verdict)
    dl = f"{download:.1f} Mbit/s" if download is not None else "-"
    ul = f"{upload:.1f} Mbit/s" if upload is not None else "-"
    return ProbeOutcome(Status.PASS, Text(f"measured: download {dl}, upload {ul}",
                                          f"实测：下行 {dl}，上行 {ul}"), measured)
