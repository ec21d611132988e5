"""WAN-FLOOR: download and upload throughput to an endpoint on the internet, judged
against the certificate's floor.

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

Verdict (the profiles' WAN-FLOOR rule): download and upload both at or above the floor:
pass; download at or above the floor but upload below it or not measured: warn;
download within the overhead allowance below the floor: warn; below that: fail. An
endpoint that cannot be reached at all is a fail (no internet from here); one that
answers but is not a speed-test endpoint is an error (the configuration is wrong).

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

from . import icmp
from .iperf3_client import Iperf3Busy, Iperf3ConnectError, Iperf3Error, run_test

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


async def _in_thread(fn: Callable[[threading.Event], T], name: str) -> T:
    """Run `fn(cancel)` in a daemon thread of its own (not the loop's executor, which a
    busy run could make us queue behind); on cancellation, tell it to stop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    cancel = threading.Event()

    def settle(value: Any, exc: BaseException | None) -> None:
        if not future.done():
            if exc is not None:
                future.set_exception(exc)
            else:
                future.set_result(value)

    def work() -> None:
        try:
            value, exc = fn(cancel), None
        except BaseException as e:  # handed to the awaiting task
            value, exc = None, e
        try:
            loop.call_soon_threadsafe(settle, value, exc)
        except RuntimeError:  # the loop is gone: nobody waits
            pass

    threading.Thread(target=work, name=name, daemon=True).start()
    try:
        return await future
    finally:
        cancel.set()


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
        rtts = await _in_thread(lambda c: tcp_connect_rtt_ms(
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


def _cache_buster(url: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}r={secrets.token_hex(6)}"


def _plan_http(p: _Params) -> _HttpPlan:
    """Find the endpoint's layout with small requests before measuring anything."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    timeout = (p.connect_timeout_s, 10.0)
    base = str(p.url)
    try:
        if p.kind == "http_download":
            with session.get(base, stream=True, timeout=timeout, verify=p.verify_tls) as r:
                if r.status_code != 200:
                    raise EndpointWrong(f"GET {base} answers HTTP {r.status_code}, "
                                        "not the file")
            upload = (lambda: _cache_buster(str(p.upload_url))) if p.upload_url else None
            return _HttpPlan(lambda: _cache_buster(base), upload, "file")
        if not base.endswith("/") and not base.endswith((".php", "garbage")):
            base += "/"
        if p.garbage_path or base.endswith((".php", "garbage")):
            garbage = urljoin(base, p.garbage_path) if p.garbage_path else base
            empty = urljoin(base, p.empty_path) if p.empty_path else \
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
                                     urlsplit(garbage).path)
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
    with requests.Session() as session:
        session.headers["User-Agent"] = USER_AGENT
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


def _upload_worker(p: _Params, plan: _HttpPlan, counter: _Counter, stop: threading.Event,
                   errors: list[str]) -> None:
    assert plan.upload is not None
    with requests.Session() as session:
        session.headers["User-Agent"] = USER_AGENT
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


# -- verdict ---------------------------------------------------------------------------------


def judge(download: float | None, upload: float | None, floor_mbps: float,
          allowance_pct: float) -> tuple[Status, Text]:
    low = floor_mbps * (100 - allowance_pct) / 100
    dl_en = f"download {download:.1f} Mbit/s" if download is not None else "no download"
    ul_en = f"upload {upload:.1f} Mbit/s" if upload is not None else "upload not measured"
    dl_zh = f"下行 {download:.1f} Mbit/s" if download is not None else "无下行"
    ul_zh = f"上行 {upload:.1f} Mbit/s" if upload is not None else "未测上行"
    figures_en, figures_zh = f"{dl_en}, {ul_en}", f"{dl_zh}，{ul_zh}"
    if download is None or download < low:
        extra = (f" (the overhead allowance reaches down to {low:g})"
                 if allowance_pct else "")
        extra_zh = f"（含协议开销容差，下限 {low:g}）" if allowance_pct else ""
        return Status.FAIL, Text(
            f"{figures_en}: below the floor of {floor_mbps:g} Mbit/s{extra}; ask the "
            "provider for a faster line, or check that nothing else uses it during the test",
            f"{figures_zh}：低于 {floor_mbps:g} Mbit/s 的要求{extra_zh}；"
            "请向运营商升级带宽，或确认测试时没有其他流量占用")
    if download < floor_mbps:
        return Status.WARN, Text(
            f"{figures_en}: download just under the floor of {floor_mbps:g} Mbit/s, within "
            f"the {allowance_pct:g} % protocol overhead a line of exactly that speed shows",
            f"{figures_zh}：下行略低于 {floor_mbps:g} Mbit/s，在 {allowance_pct:g}% 的协议开销"
            "范围内（恰好该速率的线路的正常实测值）")
    if upload is None or upload < floor_mbps:
        return Status.WARN, Text(
            f"{figures_en}: download meets the floor of {floor_mbps:g} Mbit/s, upload "
            + ("was not measured" if upload is None else "is below it"),
            f"{figures_zh}：下行达到 {floor_mbps:g} Mbit/s，上行"
            + ("未测量" if upload is None else "低于该值"))
    return Status.PASS, Text(
        f"{figures_en}: both meet the floor of {floor_mbps:g} Mbit/s",
        f"{figures_zh}：均达到 {floor_mbps:g} Mbit/s 的要求")


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
        plan = await _in_thread(lambda c: _plan_http(p), "wan-plan") \
            if p.kind != "iperf3" else None
        if plan is not None:
            measured["path"] = plan.layout
        for _ in range(p.runs):
            if plan is not None:
                one = await _in_thread(lambda c, pl=plan: _http_run(p, pl, c), "wan-run")
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
    status, text = judge(download, upload, p.floor_mbps, p.allowance_pct)
    runs = len(measured["runs"])
    latency = measured["latency_ms"]
    suffix_en = f" (median of {runs} run(s) of {p.streams} streams"
    suffix_en += f", latency {latency:.1f} ms)" if latency is not None else ")"
    suffix_zh = f"（{runs} 轮、每轮 {p.streams} 路并发的中位数"
    suffix_zh += f"，时延 {latency:.1f} ms）" if latency is not None else "）"
    return ProbeOutcome(status, Text(text.en + suffix_en, text.zh + suffix_zh), measured)
