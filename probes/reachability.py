"""LAN-SUBNET per host: how does this host answer ping, and do its configured TCP ports
accept a connection? The probe measures; readiness/judges/lan.py (`lan.reachability`)
judges the figures against the profile's loss and round-trip thresholds.

params (the probe defaults none: count and interval_s are the profile's LAN-SUBNET
rule, the timeouts are in readiness/planning/knobs.py; a missing or unusable one is an
ERROR naming it):
  address         IPv4 address (or a name that resolves to one)
  count           echo requests to send
  interval_s      seconds between them
  ports           TCP ports that must accept a connection (may be empty)
  reply_timeout_s how long one echo may take, port_timeout_s per port; both are
                  shortened to fit the deadline
  subnet          the exam LAN's subnet: when the address is in it, this computer is on
                  it and no echo comes back, the host is also asked by ARP (answers on
                  the wire, whatever its firewall does to ping)
  fallback_port   a TCP port the host listens on (its seat agent): when no echo comes
                  back, up to TCP_ATTEMPTS connects to it give loss and latency instead,
                  each timed by the kernel's handshake round trip where it can be
                  (probes/engines/tcp_connect.py; `tcp.timed_by` says which)
  sample_window_s the echoes are spread over this many seconds (at least interval_s
                  apart): a link that goes down and up every few seconds shows as a
                  pattern of answers and losses, not as all-up or all-down by chance

A host's firewall may drop ping (Windows does by default) while the host works: ARP and
TCP show it is there, and the judge words ICMP silence as a firewall setting, not a
switched-off PC. Every attempt that decides is kept in `measured`: arp, tcp,
latency_from ("icmp", "tcp" or None).

measured: sent, received, loss_pct, rtt_{min,avg,max}_ms, ports {port: open|refused|
timeout|unreachable|error}, interval_s, icmp_socket, and for the judge: address (as
resolved), count (requested), no_route (the kernel had no route), port_timeout_s;
with a sample window: replies ("1" answered, "0" lost, one per echo in order) and
sample_window_s; cut_short_s when the deadline came before the probe was done.
Status PASS means "measured"; ERROR means pings could not be sent (no ICMP rights:
the port states are still measured) or nothing could be measured at all.

The probe keeps its own deadline: pings and port connects run concurrently and their
timeouts are cut from `deadline_s`, so the runner's hard stop is only a backstop. On a
busy computer that still runs late, the probe's own backstop returns what was seen
until then (the echoes sent, the TCP connects made), never an error for a host that
simply did not answer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass, field, replace
from typing import Any

from readiness.checkkind import TARGET, CheckKind, Param, knobs, optional, param
from readiness.results import ProbeOutcome, Status, Text

from . import l2_sweep
from .engines import tcp_connect
from .engines.icmp import NEEDS, IcmpUnavailable, PingStats, ping, resolve_ipv4
from .engines.own_addresses import own_addresses

# Below this an echo on a healthy but busy LAN could be counted lost.
MIN_REPLY_TIMEOUT_S = 0.2
# TCP connects to the fallback port when ping is silent: enough for a loss figure,
# few enough that a dropped port costs little of the deadline.
TCP_ATTEMPTS = 3
TCP_CONNECT_TIMEOUT_S = 1.0
ARP_WINDOW_S = 1.0
# kept back from the pings for ARP and the first TCP connects when ping stays silent
SILENT_RESERVE_S = ARP_WINDOW_S + 0.5

PORT_OPEN = tcp_connect.OPEN
PORT_REFUSED = tcp_connect.REFUSED
PORT_TIMEOUT = tcp_connect.TIMEOUT
PORT_UNREACHABLE = tcp_connect.UNREACHABLE
PORT_ERROR = tcp_connect.ERROR


@dataclass(frozen=True)
class _Params:
    address: str
    count: int
    interval_s: float
    ports: tuple[int, ...]
    reply_timeout_s: float
    port_timeout_s: float
    subnet: str | None = None
    fallback_port: int | None = None
    sample_window_s: float | None = None

    @classmethod
    def parse(cls, params: dict[str, Any]) -> _Params:
        address = param(params, "address")
        if not isinstance(address, str) or not address:
            raise ValueError("'address' must be a non-empty string")
        count = param(params, "count", int)
        if not 1 <= count <= 0xFFFF:
            raise ValueError(f"'count' must be 1..65535, not {count}")
        ports = param(params, "ports", lambda v: tuple(int(p) for p in v))
        bad = [p for p in ports if not 1 <= p <= 0xFFFF]
        if bad:
            raise ValueError(f"'ports' must be 1..65535, not {bad}")
        interval_s = param(params, "interval_s", float)
        reply_timeout_s = param(params, "reply_timeout_s", float)
        port_timeout_s = param(params, "port_timeout_s", float)
        if interval_s < 0:
            raise ValueError(f"'interval_s' must not be negative, not {interval_s:g}")
        for name, value in (("reply_timeout_s", reply_timeout_s),
                            ("port_timeout_s", port_timeout_s)):
            if value <= 0:
                raise ValueError(f"{name!r} must be positive, not {value:g}")
        subnet = None if params.get("subnet") is None else param(
            params, "subnet", lambda v: str(ipaddress.IPv4Network(v, strict=False)))
        fallback = None if params.get("fallback_port") is None else param(
            params, "fallback_port", int)
        if fallback is not None and not 1 <= fallback <= 0xFFFF:
            raise ValueError(f"'fallback_port' must be 1..65535, not {fallback}")
        window = None if params.get("sample_window_s") is None else param(
            params, "sample_window_s", float)
        if window is not None and not 0 < window <= 60:
            raise ValueError(f"'sample_window_s' must be 0..60 s, not {window:g}")
        return cls(
            sample_window_s=window,
            address=address,
            count=count,
            interval_s=interval_s,
            ports=tuple(dict.fromkeys(ports)),
            reply_timeout_s=reply_timeout_s,
            port_timeout_s=port_timeout_s,
            subnet=subnet,
            fallback_port=fallback,
        )


def _error(en: str, zh: str, measured: dict[str, Any] | None = None) -> ProbeOutcome:
    return ProbeOutcome(Status.ERROR, Text(en, zh), measured or {})


def _plan_pings(count: int, interval_s: float, reply_timeout_s: float,
                budget_s: float) -> tuple[float, float]:
    """(interval, reply timeout) that fit `count` echoes into `budget_s`.

    The interval gives way before the reply timeout does: a shorter gap between
    echoes changes nothing on a LAN, a too-short timeout turns slow replies into loss.
    """
    gaps = count - 1
    if gaps and gaps * interval_s + MIN_REPLY_TIMEOUT_S > budget_s:
        interval_s = max(0.0, (budget_s - MIN_REPLY_TIMEOUT_S) / gaps)
    reply_timeout_s = min(reply_timeout_s, budget_s - gaps * interval_s)
    return interval_s, reply_timeout_s


async def _connect(address: str, port: int, timeout_s: float) -> str:
    return (await tcp_connect.connect(address, port, timeout_s)).state


async def _tcp_series(address: str, port: int, budget_s: float,
                      seen: dict[str, Any] | None = None) -> dict[str, Any]:
    """Loss and connect time to `port`, the way ping would give them: a SYN answered by
    SYN/ACK or by a reset is an answer (the host is there), silence is a loss.

    `seen` is filled attempt by attempt, so that a caller whose deadline cuts the series
    short keeps the attempts made until then."""
    start = time.monotonic()
    rtts: list[float] = []
    states: list[str] = []
    timed_by: set[str] = set()
    series = seen if seen is not None else {}
    series.update(_series_figures(port, states, rtts, timed_by))
    for _ in range(TCP_ATTEMPTS):
        left = budget_s - (time.monotonic() - start)
        if left < MIN_REPLY_TIMEOUT_S:
            break
        tried = await tcp_connect.connect(address, port, min(TCP_CONNECT_TIMEOUT_S, left))
        states.append(tried.state)
        if tried.rtt_ms is not None:
            rtts.append(tried.rtt_ms)
            timed_by.add(tried.timed_by)
        series.update(_series_figures(port, states, rtts, timed_by))
        await asyncio.sleep(0.05)
    return series


def _series_figures(port: int, states: list[str], rtts: list[float],
                    timed_by: set[str]) -> dict[str, Any]:
    sent = len(states)
    return {
        "port": port, "sent": sent, "answered": len(rtts),
        "timed_by": sorted(timed_by),
        "loss_pct": round(100.0 * (sent - len(rtts)) / sent, 1) if sent else None,
        "rtt_min_ms": _round(min(rtts)) if rtts else None,
        "rtt_avg_ms": _round(sum(rtts) / len(rtts)) if rtts else None,
        "rtt_max_ms": _round(max(rtts)) if rtts else None,
        "states": sorted(set(states)),
    }


async def _nothing() -> None:
    return None


async def _arp(address: str, subnet: str | None, budget_s: float) -> dict[str, Any]:
    """Does `address` answer ARP on the exam LAN? {"asked": False, "why": ...} when it
    cannot be asked from here (no raw-socket rights, not on that LAN, outside it, no
    time left)."""
    if subnet is None:
        return {"asked": False, "why": "no subnet given"}
    if ipaddress.IPv4Address(address) not in ipaddress.IPv4Network(subnet):
        return {"asked": False, "why": f"{address} is outside {subnet}"}
    if budget_s < ARP_WINDOW_S + 0.2:
        return {"asked": False, "why": f"only {budget_s:.1f} s left of the deadline"}
    try:
        found = await l2_sweep.sweep(subnet, targets=[address], dhcp=False,
                                     arp_window_s=ARP_WINDOW_S)
    except l2_sweep.Layer2Unavailable as exc:
        return {"asked": False, "why": str(exc)}
    except l2_sweep.NoInterfaceInSubnet as exc:
        return {"asked": False, "why": exc.text.en}
    return {"asked": True, "macs": found.hosts.get(address, [])}


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class _Seen:
    """What the probe has measured so far. When the deadline comes first (a busy
    computer runs late), this is what it returns: a silent host stays a silent host and
    is never turned into an error by the clock."""

    address: str
    interval_s: float
    port_timeout_s: float
    ping: PingStats | None = None
    ping_done: bool = False
    ports: dict[str, str] = field(default_factory=dict)
    arp: dict[str, Any] | None = None
    tcp: dict[str, Any] | None = None

    def watch_ping(self, stats: PingStats) -> None:
        self.ping = stats


def _margin(deadline_s: float) -> float:
    """Time kept back from the deadline, twice: once before the probe's own backstop,
    once more for its measurements. On a busy computer a timer fires late by a loop's
    lag; a tenth of the deadline (up to a second) keeps the result ahead of the
    runner's hard stop."""
    return min(1.0, 0.1 * deadline_s)


def _ping_interval(p: _Params) -> float:
    """Spread the echoes over the sample window: ten echoes 0.1 s apart can all fall
    into one up or one down phase of a link that flaps every few seconds."""
    if p.sample_window_s is None or p.count < 2:
        return p.interval_s
    return max(p.interval_s, p.sample_window_s / (p.count - 1))


async def _probe(p: _Params, deadline_s: float, seen_box: list[_Seen]) -> ProbeOutcome:
    # Leave the runner slack: finishing at exactly its deadline is a race.
    margin_s = _margin(deadline_s)
    budget_s = deadline_s - 2 * margin_s
    if budget_s < MIN_REPLY_TIMEOUT_S:
        return _error(f"deadline of {deadline_s:g} s is too short to ping {p.address}",
                      f"{deadline_s:g} 秒的时限太短，无法 ping {p.address}")
    start = time.monotonic()
    try:
        address = await asyncio.wait_for(resolve_ipv4(p.address), budget_s)
    except (OSError, TimeoutError) as exc:
        return _error(
            f"cannot resolve {p.address} ({exc}): check the address in the site file",
            f"无法解析 {p.address}（{exc}）：请检查站点配置中的地址")
    # a silent host is then asked by ARP and TCP: keep time for that
    reserve_s = SILENT_RESERVE_S if (p.subnet or p.fallback_port) else 0.0
    ping_budget_s = budget_s - (time.monotonic() - start)
    if ping_budget_s - reserve_s >= MIN_REPLY_TIMEOUT_S:
        ping_budget_s -= reserve_s
    interval_s, reply_timeout_s = _plan_pings(p.count, _ping_interval(p), p.reply_timeout_s,
                                              ping_budget_s)
    port_timeout_s = min(p.port_timeout_s, ping_budget_s)
    seen = _Seen(address, interval_s, port_timeout_s,
                 ports={str(port): PORT_TIMEOUT for port in p.ports})
    seen_box.append(seen)

    ping_task = asyncio.ensure_future(ping(address, p.count, interval_s, reply_timeout_s,
                                           watch=seen.watch_ping))
    try:
        port_states = await asyncio.gather(
            *(_connect(address, port, port_timeout_s) for port in p.ports))
        seen.ports = dict(zip((str(port) for port in p.ports), port_states, strict=True))
        pinged = await _settle(ping_task)
        seen.ping_done = True
        if isinstance(pinged, IcmpUnavailable):
            seen.ping = None
        seen.arp = {"asked": False, "why": "the host answered ping"}
        if isinstance(pinged, IcmpUnavailable) or pinged.received == 0:
            # Only a silent host is asked by ARP and TCP: a whole room checked at once
            # would otherwise run one raw-socket listener per seat for nothing.
            await _ask_silent_host(p, seen, budget_s - (time.monotonic() - start))
        return _outcome(p, seen, pinged)
    finally:
        # On the backstop timeout the ping must not outlive the probe.
        ping_task.cancel()


async def _ask_silent_host(p: _Params, seen: _Seen, left_s: float) -> None:
    """ARP and TCP for a host that did not answer ping, inside `left_s`; what is not
    asked in time says so, and the attempts made until then count."""
    seen.arp = {"asked": False, "why": f"only {max(left_s, 0):.1f} s left of the deadline"}
    if p.fallback_port:
        seen.tcp = {}
    # the calls below keep their own time; this only stops a computer too busy to
    # keep it, with a little room to write the result
    slack_s = min(0.3, max(left_s, 0) / 10)

    async def arp() -> None:
        seen.arp = await _arp(seen.address, p.subnet, left_s - slack_s)

    async def tcp() -> None:
        if p.fallback_port:
            await _tcp_series(seen.address, p.fallback_port, left_s - slack_s, seen.tcp)

    try:
        async with asyncio.timeout(max(left_s - slack_s, 0.0)):
            await asyncio.gather(arp(), tcp())
    except TimeoutError:
        pass
    if seen.tcp == {}:
        seen.tcp = None


def _outcome(p: _Params, seen: _Seen, pinged: PingStats | IcmpUnavailable,
             cut_short_s: float | None = None) -> ProbeOutcome:
    tcp = seen.tcp or None
    outcome = _measured(p, seen.address, pinged, ports=seen.ports,
                        interval_s=seen.interval_s, port_timeout_s=seen.port_timeout_s)
    outcome.measured.update(arp=seen.arp or {"asked": False, "why": "no time was left"},
                            tcp=tcp, latency_from=_latency_from(outcome.measured, tcp))
    if p.sample_window_s is not None and not isinstance(pinged, IcmpUnavailable):
        outcome.measured.update(replies=_replies(pinged),
                                sample_window_s=round(seen.interval_s * (p.count - 1), 2))
    if cut_short_s is not None:
        outcome.measured["cut_short_s"] = round(cut_short_s, 2)
    return outcome


def _replies(stats: PingStats) -> str:
    """One character per echo asked for, in order: "1" answered in time, "0" not (also
    when the kernel refused to send it: a link that is down refuses)."""
    answered = set(stats.answered_seqs)
    return "".join("1" if seq in answered else "0" for seq in range(1, stats.count + 1))


def _latency_from(m: dict[str, Any], tcp: dict[str, Any] | None) -> str | None:
    if m.get("received"):
        return "icmp"
    if tcp and tcp["answered"]:
        return "tcp"
    return None


async def _settle(task: asyncio.Future[PingStats]) -> PingStats | IcmpUnavailable:
    try:
        return await task
    except IcmpUnavailable as exc:
        return exc


def _measured(p: _Params, address: str, result: PingStats | IcmpUnavailable,
              *, ports: dict[str, str], interval_s: float, port_timeout_s: float) -> ProbeOutcome:
    measured: dict[str, Any] = {
        "sent": 0, "received": 0, "loss_pct": None, "rtt_min_ms": None,
        "rtt_avg_ms": None, "rtt_max_ms": None, "ports": ports,
        "interval_s": round(interval_s, 4), "icmp_socket": None,
        "address": address, "count": p.count, "no_route": False,
        "port_timeout_s": round(port_timeout_s, 3),
    }
    if isinstance(result, IcmpUnavailable):
        # The ports were still tried: the judge reports them beside this error.
        detail = f" ({result.detail})" if result.detail else ""
        detail_zh = f"（{result.detail}）" if result.detail else ""
        return ProbeOutcome(Status.ERROR, Text(
            f"cannot ping from this computer: {NEEDS}{detail}. Run readiness as root "
            "(sudo) or give it CAP_NET_RAW",
            f"本机无法发送 ping：需要 root 权限或 CAP_NET_RAW，或 net.ipv4.ping_group_range "
            f"包含当前用户组{detail_zh}。请以 root（sudo）运行 readiness 或为其授予 CAP_NET_RAW"),
            measured)
    stats = result
    measured.update(
        sent=stats.sent, received=stats.received, loss_pct=round(stats.loss_pct, 1),
        rtt_min_ms=_round(stats.rtt_min_ms), rtt_avg_ms=_round(stats.rtt_avg_ms),
        rtt_max_ms=_round(stats.rtt_max_ms), icmp_socket=stats.socket_kind,
        no_route=stats.no_route)
    if stats.errors:
        measured["errors"] = stats.errors
    states = ", ".join(f"{port} {state}" for port, state in ports.items())
    return ProbeOutcome(Status.PASS, Text(
        f"measured: {address} answered {stats.received}/{stats.count} pings"
        + (f"; ports {states}" if ports else ""),
        f"已测量：{address} 回应了 {stats.received}/{stats.count} 个 ping"
        + (f"；端口 {states}" if ports else "")), measured)


def _cut_short(seen: _Seen) -> PingStats:
    """The pings of a run the deadline cut short, counted over the echoes actually sent:
    an echo never sent is not a lost one."""
    assert seen.ping is not None
    stats = seen.ping
    if not seen.ping_done:
        # echoes still waiting for an answer when time ran out are lost
        stats = replace(stats, count=max(stats.sent, 1))
    return stats


def _mark_own(address: str, outcome: ProbeOutcome) -> ProbeOutcome:
    """`own_address` when the address is this computer's own (the proctor PC checking
    itself): its echoes never leave the machine, so their time says nothing of the LAN,
    only of how busy this computer is (a judge must not call the LAN slow for it)."""
    if address in own_addresses():
        outcome.measured["own_address"] = True
    return outcome


async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    try:
        p = _Params.parse(params)
    except (TypeError, ValueError) as exc:
        return _error(f"bad reachability parameters: {exc}", f"连通性检测参数错误：{exc}")
    margin_s = _margin(deadline_s)
    seen_box: list[_Seen] = []
    start = time.monotonic()
    try:
        # Backstop only: every wait inside is already cut to fit the budget.
        async with asyncio.timeout(deadline_s - margin_s):
            return _mark_own(p.address, await _probe(p, deadline_s, seen_box))
    except TimeoutError:
        ran_s = time.monotonic() - start
        if seen_box and seen_box[0].ping is not None:
            seen = seen_box[0]
            stats = _cut_short(seen)
            outcome = _outcome(p, seen, stats, cut_short_s=ran_s)
            if stats.count != p.count:
                outcome.measured["count"] = stats.count
            return _mark_own(p.address, outcome)
        return _error(f"checking {p.address} did not finish within {deadline_s:g} s",
                      f"检查 {p.address} 未能在 {deadline_s:g} 秒内完成")


KIND = CheckKind(
    probe="reachability", run=run,
    params=(Param("address", TARGET), *knobs("count", "interval_s", "ports",
                                            "reply_timeout_s", "port_timeout_s"),
            *optional("subnet", "fallback_port", "sample_window_s")),
    judges=("lan.reachability", "lan.spare"))
