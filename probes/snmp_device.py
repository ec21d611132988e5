"""SNMP probes: device identity and reboots, switch ports, seat -> switch port, UPS runtime.

Probes are built by factories that close over the credentials
(`make_device_probe(creds)` ...), because a probe's params end up in results and
reports, and credentials must never be there. Each returned function follows the
probe contract `async def run(params, deadline_s) -> ProbeOutcome`.

Common params: `host` (or `address`; the port-speed probe also takes `switch`),
`port` (UDP, 161), `timeout_s` (per try, 2), `retries` (1), `name` (how staff know
the device; the address by default).

An SNMP failure is `error` (the check could not be made) with the client's message,
which says which setting to look at; requirement failures are `fail`.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from readiness.results import SEVERITY, ProbeOutcome, Status, Text

from . import ProbeFn
from . import snmp_oids as o
from .snmp_client import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_S,
    SnmpCredentials,
    SnmpError,
    SnmpNoSuchObject,
    SnmpSession,
    as_text,
)

GIGABIT = "gigabit"
FAST_ETHERNET = "fast_ethernet"
SPEED_CLASSES = {GIGABIT: GIGABIT, FAST_ETHERNET: FAST_ETHERNET, "100m": FAST_ETHERNET}
DEFAULT_GIGABIT_MBPS = 1000
DEFAULT_FAST_MBPS = 100
DEFAULT_INTERVAL_S = 5.0
# A reboot shows as uptime well below "previous uptime + time since"; this much slack
# absorbs clock drift and the time the previous check took.
DEFAULT_REBOOT_TOLERANCE_S = 60.0
# Messages list this many seat/port findings, then "and N more".
MAX_LISTED = 6
# One SNMP exchange, pysnmp engine included, needs about this much at the least.
MIN_BUDGET_S = 0.5
# Below this a second counter reading says nothing about errors on a LAN.
MIN_INTERVAL_S = 0.5


# ---------------------------------------------------------------- common plumbing


@dataclass(frozen=True)
class _Target:
    host: str
    port: int
    timeout_s: float
    retries: int
    name: str

    @classmethod
    def parse(cls, params: dict[str, Any], keys: tuple[str, ...] = ("host", "address")) -> _Target:
        host = next((params[k] for k in keys if params.get(k)), None)
        if not isinstance(host, str):
            raise ValueError(f"'{keys[0]}' must be the device's address")
        port = int(params.get("port", 161))
        if not 1 <= port <= 0xFFFF:
            raise ValueError(f"'port' must be 1..65535, not {port}")
        timeout_s = float(params.get("timeout_s", DEFAULT_TIMEOUT_S))
        retries = int(params.get("retries", DEFAULT_RETRIES))
        if timeout_s <= 0 or retries < 0:
            raise ValueError("'timeout_s' must be positive and 'retries' not negative")
        return cls(host, port, timeout_s, retries, str(params.get("name") or host))

    def session(self, creds: SnmpCredentials, budget_s: float) -> SnmpSession:
        return SnmpSession(self.host, self.port, creds, timeout_s=self.timeout_s,
                           retries=self.retries, budget_s=budget_s)


def _margin(deadline_s: float) -> float:
    # Finishing at exactly the runner's deadline is a race: keep a little slack.
    return min(0.25, 0.1 * deadline_s)


def _error(en: str, zh: str, measured: dict[str, Any] | None = None) -> ProbeOutcome:
    return ProbeOutcome(Status.ERROR, Text(en, zh), measured or {})


def _snmp_failed(exc: SnmpError, measured: dict[str, Any]) -> ProbeOutcome:
    measured["snmp_error"] = exc.reason
    return ProbeOutcome(Status.ERROR, exc.text, measured)


def _combine(issues: list[tuple[Status, Text]]) -> tuple[Status, Text]:
    """Worst status first, then the findings in that order, trimmed to MAX_LISTED."""
    ordered = sorted(issues, key=lambda item: -SEVERITY[item[0]])
    shown = ordered[:MAX_LISTED]
    en = "; ".join(t.en for _, t in shown)
    zh = "；".join(t.zh for _, t in shown)
    if len(ordered) > len(shown):
        more = len(ordered) - len(shown)
        en += f"; and {more} more"
        zh += f"；另有 {more} 项"
    return ordered[0][0], Text(en, zh)


async def _guarded(deadline_s: float, what: Text, measured: dict[str, Any],
                   body: Coroutine[Any, Any, ProbeOutcome]) -> ProbeOutcome:
    """Run `body` under the backstop deadline; SNMP failures become `error` outcomes."""
    if deadline_s - 2 * _margin(deadline_s) < MIN_BUDGET_S:
        body.close()  # never started: close it so Python does not warn it was not awaited
        return _error(f"a deadline of {deadline_s:g} s is too short for {what.en}",
                      f"{deadline_s:g} 秒的时限太短，无法{what.zh}", measured)
    try:
        async with asyncio.timeout(deadline_s - _margin(deadline_s)):
            return await body
    except SnmpError as exc:
        return _snmp_failed(exc, measured)
    except TimeoutError:
        return _error(f"{what.en} did not finish within {deadline_s:g} s",
                      f"{what.zh}未能在 {deadline_s:g} 秒内完成", measured)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours:02d}:{minutes:02d}"
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


# ---------------------------------------------------------------- speed classes


def speed_class(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return SPEED_CLASSES[str(value)]
    except KeyError:
        raise ValueError(f"'required_class' must be gigabit or fast_ethernet, not {value!r}")\
            from None


def classify_speed(mbps: int | None, required_class: str,
                   gigabit_mbps: int = DEFAULT_GIGABIT_MBPS,
                   fast_mbps: int = DEFAULT_FAST_MBPS) -> Status:
    """LAN-SPEED for one negotiated speed: gigabit passes; 100M-class warns where only
    100M is the minimum (fast_ethernet) and fails where gigabit is required."""
    if not mbps:
        return Status.WARN  # the speed could not be read: only partly verified
    if mbps >= gigabit_mbps:
        return Status.PASS
    if required_class == FAST_ETHERNET and mbps >= fast_mbps:
        return Status.WARN
    return Status.FAIL


def _speed_advice(where_en: str, where_zh: str, mbps: int, status: Status,
                  gigabit_mbps: int) -> Text:
    if status == Status.FAIL:
        need_en, need_zh = f"at least {gigabit_mbps} Mbit/s is required", \
            f"要求至少 {gigabit_mbps} Mbit/s"
    else:
        need_en, need_zh = (f"the minimum is met, {gigabit_mbps} Mbit/s is recommended",
                            f"满足最低要求，推荐 {gigabit_mbps} Mbit/s")
    return Text(
        f"{where_en} runs at {mbps} Mbit/s ({need_en}): check the cable (gigabit needs all "
        "8 wires, Cat5e or better), the PC's network card and the switch port's speed "
        "setting",
        f"{where_zh} 速率为 {mbps} Mbit/s（{need_zh}）：请检查网线（千兆需要 8 芯全通，超五类"
        "或更好）、电脑网卡以及交换机端口的速率设置")


# ---------------------------------------------------------------- device identity


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float):
        moment = datetime.fromtimestamp(float(value), UTC)
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value)
    else:
        raise ValueError(f"'previous_checked_at' must be an ISO 8601 time, not {value!r}")
    # A naive time from an older record is taken as UTC, which is how we write them.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def rebooted_between(uptime_s: float, previous_uptime_s: float, elapsed_s: float,
                     tolerance_s: float = DEFAULT_REBOOT_TOLERANCE_S) -> bool | None:
    """True when the uptime is too small to be the previous uptime plus the time since.

    None when it cannot be told (the clock went backwards). sysUpTime wraps after 2**32
    ticks (~497 days): a small uptime that matches the wrapped expectation is no reboot.
    """
    if elapsed_s < 0:
        return None
    expected = previous_uptime_s + elapsed_s
    slack = tolerance_s + 0.001 * elapsed_s
    if uptime_s + slack >= expected:
        return False
    wrap_s = o.TIMETICKS_WRAP / o.TIMETICKS_PER_S
    return not (expected >= wrap_s and abs(uptime_s - expected % wrap_s) <= slack)


def make_device_probe(creds: SnmpCredentials) -> ProbeFn:
    """sysName / sysDescr / sysUpTime; with `previous_uptime_s` and `previous_checked_at`
    (what `measured` held last time: `uptime_s`, `checked_at`) a reboot in between warns.

    Extra params: `reboot_tolerance_s` (60).
    """

    async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        try:
            target = _Target.parse(params)
            previous_uptime = params.get("previous_uptime_s")
            previous_at = params.get("previous_checked_at")
            if (previous_uptime is None) != (previous_at is None):
                raise ValueError("give both 'previous_uptime_s' and 'previous_checked_at', "
                                 "or neither")
            previous = None if previous_at is None else (
                float(previous_uptime), _parse_time(previous_at))  # type: ignore[arg-type]
            tolerance = float(params.get("reboot_tolerance_s", DEFAULT_REBOOT_TOLERANCE_S))
        except (TypeError, ValueError) as exc:
            return _error(f"bad SNMP device parameters: {exc}", f"SNMP 设备检测参数错误：{exc}")
        measured: dict[str, Any] = {"target": f"{target.host}:{target.port}",
                                    "snmp": creds.describe()}
        return await _guarded(
            deadline_s, Text(f"reading {target.name} over SNMP", f"通过 SNMP 读取 {target.name}"),
            measured, _identity(creds, target, previous, tolerance, deadline_s, measured))

    return run


async def _identity(creds: SnmpCredentials, target: _Target,
                    previous: tuple[float, datetime] | None, tolerance_s: float,
                    deadline_s: float, measured: dict[str, Any]) -> ProbeOutcome:
    async with target.session(creds, deadline_s - 2 * _margin(deadline_s)) as session:
        values = await session.get([o.SYS_NAME, o.SYS_UPTIME, o.SYS_DESCR], allow_missing=True)
    checked_at = datetime.now(UTC)
    ticks = values[o.SYS_UPTIME]
    sys_name = as_text(values[o.SYS_NAME])
    descr = as_text(values[o.SYS_DESCR])
    measured.update(
        sys_name=sys_name,
        sys_descr=descr[:200] if descr else None,
        uptime_s=None if ticks is None else ticks / o.TIMETICKS_PER_S,
        checked_at=checked_at.isoformat(),
    )
    label = target.name if sys_name in (None, "", target.name) else f"{target.name} ({sys_name})"
    if ticks is None:
        return ProbeOutcome(Status.ERROR, Text(
            f"{label} answers SNMP but gives no sysUpTime: a reboot cannot be detected; "
            "check the device's SNMP view includes the system group (1.3.6.1.2.1.1)",
            f"{label} 回应 SNMP 但不提供 sysUpTime，无法判断是否重启；请确认设备的 SNMP "
            "视图包含 system 组（1.3.6.1.2.1.1）"), measured)
    uptime_s = ticks / o.TIMETICKS_PER_S
    if previous is not None:
        previous_uptime, previous_at = previous
        elapsed = (checked_at - previous_at).total_seconds()
        rebooted = rebooted_between(uptime_s, previous_uptime, elapsed, tolerance_s)
        measured.update(previous_uptime_s=previous_uptime,
                        previous_checked_at=previous_at.isoformat(), rebooted=rebooted)
        if rebooted:
            return ProbeOutcome(Status.WARN, Text(
                f"{label} rebooted since the last check (or its SNMP agent restarted): up "
                f"{_duration(uptime_s)} now, but the check {_duration(elapsed)} ago saw "
                f"{_duration(previous_uptime)} of uptime. Find out why (power cut, crash, "
                "someone restarting it) and confirm its settings, such as the filtering "
                "rules, survived the restart",
                f"{label} 自上次检查以来重启过（或其 SNMP 代理重启）：当前已运行 "
                f"{_duration(uptime_s)}，而 {_duration(elapsed)} 前的检查时已运行 "
                f"{_duration(previous_uptime)}。请查明原因（停电、死机或有人重启），并确认其"
                "设置（如过滤规则）在重启后仍然有效"), measured)
    return ProbeOutcome(Status.PASS, Text(
        f"{label} answers SNMP, up {_duration(uptime_s)}",
        f"{label} 回应 SNMP，已运行 {_duration(uptime_s)}"), measured)


# ---------------------------------------------------------------- interfaces


@dataclass
class PortState:
    if_index: int
    name: str
    if_type: int | None
    oper_status: str
    speed_mbps: int | None
    in_errors: int | None
    out_errors: int | None
    in_discards: int | None
    in_errors_delta: int | None = None
    out_errors_delta: int | None = None
    in_discards_delta: int | None = None


def _counter_delta(before: int | None, after: int | None) -> int | None:
    if before is None or after is None:
        return None
    # Counter32 wraps; a reset (agent restart) would look like a huge wrap, but the
    # interval is seconds, so a delta above half the range is a reset, not traffic.
    delta = (after - before) % o.COUNTER32_WRAP
    return None if delta > o.COUNTER32_WRAP // 2 else delta


def _column(rows: list[tuple[tuple[int, ...], Any]], column: str) -> dict[int, Any]:
    """ifIndex -> value for a single-index column's walk."""
    found: dict[int, Any] = {}
    for oid, value in rows:
        index = o.column_index(oid, column)
        if index and len(index) == 1:
            found[index[0]] = value
    return found


async def read_ports(session: SnmpSession) -> dict[int, PortState]:
    """Every interface the agent lists: name, type, status, speed, error counters."""
    columns = [o.IF_DESCR, o.IF_TYPE, o.IF_OPER_STATUS, o.IF_NAME, o.IF_HIGH_SPEED, o.IF_SPEED,
               o.IF_IN_ERRORS, o.IF_OUT_ERRORS, o.IF_IN_DISCARDS]
    table = {column: _column(await session.walk(column), column) for column in columns}
    ports: dict[int, PortState] = {}
    for index, status in table[o.IF_OPER_STATUS].items():
        name = as_text(table[o.IF_NAME].get(index)) or as_text(table[o.IF_DESCR].get(index))
        ports[index] = PortState(
            if_index=index,
            name=name or f"ifIndex {index}",
            if_type=table[o.IF_TYPE].get(index),
            oper_status=o.IF_OPER_STATUS_NAMES.get(status, str(status)),
            speed_mbps=_speed(table[o.IF_HIGH_SPEED].get(index), table[o.IF_SPEED].get(index)),
            in_errors=table[o.IF_IN_ERRORS].get(index),
            out_errors=table[o.IF_OUT_ERRORS].get(index),
            in_discards=table[o.IF_IN_DISCARDS].get(index),
        )
    return ports


def _speed(high_mbps: Any, bps: Any) -> int | None:
    # ifHighSpeed where the agent has IF-MIB's ifXTable; old agents only have ifSpeed.
    if isinstance(high_mbps, int) and high_mbps > 0:
        return high_mbps
    if isinstance(bps, int) and bps > 0:
        return bps // 1_000_000
    return None


async def _read_counters(session: SnmpSession, indexes: list[int]) -> dict[int, tuple[Any, ...]]:
    oids = [f"{column}.{i}" for i in indexes
            for column in (o.IF_IN_ERRORS, o.IF_OUT_ERRORS, o.IF_IN_DISCARDS)]
    values = await session.get(oids, allow_missing=True)
    return {i: tuple(values[f"{column}.{i}"]
                     for column in (o.IF_IN_ERRORS, o.IF_OUT_ERRORS, o.IF_IN_DISCARDS))
            for i in indexes}


def make_interfaces_probe(creds: SnmpCredentials) -> ProbeFn:
    """Per switch/router port: ifOperStatus, ifHighSpeed, error counters, and how the error
    counters grew during the check (read twice, `interval_s` apart).

    Extra params: `ports` (ifName/ifDescr list that must be up; default: every Ethernet
    port that is up), `interval_s` (5), `required_class` (gigabit / fast_ethernet;
    none: speeds are reported, not judged), `gigabit_mbps` (1000), `fast_mbps` (100).
    """

    async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        try:
            target = _Target.parse(params)
            wanted = [str(p) for p in params.get("ports") or []]
            interval_s = float(params.get("interval_s", DEFAULT_INTERVAL_S))
            required = speed_class(params.get("required_class"))
            gigabit = int(params.get("gigabit_mbps", DEFAULT_GIGABIT_MBPS))
            fast = int(params.get("fast_mbps", DEFAULT_FAST_MBPS))
            if interval_s < 0:
                raise ValueError("'interval_s' must not be negative")
        except (TypeError, ValueError) as exc:
            return _error(f"bad SNMP interface parameters: {exc}",
                          f"SNMP 端口检测参数错误：{exc}")
        measured: dict[str, Any] = {"target": f"{target.host}:{target.port}",
                                    "snmp": creds.describe()}
        body = _interfaces(creds, target, wanted, interval_s, required, gigabit, fast,
                           deadline_s, measured)
        return await _guarded(
            deadline_s, Text(f"reading the ports of {target.name}", f"读取 {target.name} 的端口"),
            measured, body)

    return run


async def _interfaces(creds: SnmpCredentials, target: _Target, wanted: list[str],
                      interval_s: float, required: str | None, gigabit: int, fast: int,
                      deadline_s: float, measured: dict[str, Any]) -> ProbeOutcome:
    issues: list[tuple[Status, Text]] = []
    async with target.session(creds, deadline_s - 2 * _margin(deadline_s)) as session:
        started = time.monotonic()
        ports = await read_ports(session)
        first_read_s = time.monotonic() - started
        by_name = {p.name: p for p in ports.values()}
        chosen: list[PortState] = []
        if wanted:
            for name in wanted:
                port = by_name.get(name) or next(
                    (p for p in ports.values() if name == str(p.if_index)), None)
                if port is None:
                    known = ", ".join(sorted(by_name)[:20])
                    issues.append((Status.ERROR, Text(
                        f"{target.name} has no port named {name!r} (it has: {known}): "
                        "correct the port name in the site file",
                        f"{target.name} 没有名为 {name!r} 的端口（现有：{known}）："
                        "请修正站点配置中的端口名")))
                else:
                    chosen.append(port)
        else:
            chosen = [p for p in ports.values()
                      if p.if_type in o.PHYSICAL_PORT_TYPES and p.oper_status == "up"]
        # Leave time for the second reading, which costs about what the first did.
        room = session.remaining_s() - first_read_s - 0.2
        waited = max(0.0, min(interval_s, room))
        if chosen and waited >= MIN_INTERVAL_S:
            before = {p.if_index: (p.in_errors, p.out_errors, p.in_discards) for p in chosen}
            await asyncio.sleep(waited)
            after = await _read_counters(session, [p.if_index for p in chosen])
            for p in chosen:
                p.in_errors_delta, p.out_errors_delta, p.in_discards_delta = (
                    _counter_delta(b, a) for b, a in zip(before[p.if_index],
                                                         after[p.if_index], strict=True))
                p.in_errors, p.out_errors, p.in_discards = after[p.if_index]
            measured["interval_s"] = round(waited, 2)
        else:
            measured["interval_s"] = None
    measured["ports"] = {p.name: asdict(p) for p in chosen}

    for p in chosen:
        where_en, where_zh = f"port {p.name} of {target.name}", f"{target.name} 的端口 {p.name}"
        if p.oper_status != "up":
            issues.append((Status.FAIL, Text(
                f"{where_en} is {p.oper_status}: plug the cable in firmly, check the device "
                "at the other end is on, or use another port",
                f"{where_zh} 状态为 {p.oper_status}：请插紧网线、确认对端设备已开机，"
                "或换一个端口")))
            continue
        if required and not p.speed_mbps:
            issues.append((Status.WARN, Text(
                f"{where_en} does not report its speed: check it on the device's web page",
                f"{where_zh} 未报告速率：请在设备管理页面上查看")))
        elif required:
            status = classify_speed(p.speed_mbps, required, gigabit, fast)
            if status != Status.PASS:
                issues.append((status, _speed_advice(where_en, where_zh, p.speed_mbps, status,
                                                     gigabit)))
        new_errors = (p.in_errors_delta or 0) + (p.out_errors_delta or 0)
        if new_errors:
            issues.append((Status.WARN, Text(
                f"{where_en} counted {new_errors} new errors in {measured['interval_s']:g} s: "
                "replace the patch cable, check the connectors and that both ends "
                "auto-negotiate (a duplex mismatch causes errors)",
                f"{where_zh} 在 {measured['interval_s']:g} 秒内新增 {new_errors} 个错误："
                "请更换跳线、检查水晶头，并确认两端均为自动协商（双工不匹配会导致错误）")))
    if not chosen and not issues:
        return ProbeOutcome(Status.WARN, Text(
            f"{target.name} lists no Ethernet port that is up: nothing to check; name the "
            "ports in the site file",
            f"{target.name} 没有处于 up 状态的以太网端口，无可检查项；请在站点配置中指定端口"),
            measured)
    if issues:
        status, text = _combine(issues)
        return ProbeOutcome(status, text, measured)
    speeds = sorted({p.speed_mbps for p in chosen if p.speed_mbps})
    speed_en = f" at {'/'.join(map(str, speeds))} Mbit/s" if speeds else ""
    ports_en = "1 port" if len(chosen) == 1 else f"{len(chosen)} ports"
    verb = "is" if len(chosen) == 1 else "are"
    return ProbeOutcome(Status.PASS, Text(
        f"{ports_en} of {target.name} {verb} up{speed_en}, no new errors",
        f"{target.name} 的 {len(chosen)} 个端口均为 up{speed_en.replace(' at ', '，速率 ')}，"
        "无新增错误"), measured)


# ---------------------------------------------------------------- seat -> switch port


def normalize_mac(mac: str) -> str:
    """'00-1A-2B-3C-4D-5E', '001a.2b3c.4d5e', '00:1a:2b:3c:4d:5e' -> '00:1a:2b:3c:4d:5e'."""
    digits = "".join(ch for ch in mac.lower() if ch in "0123456789abcdef")
    if len(digits) != 12 or len(mac) > 17:
        raise ValueError(f"{mac!r} is not a MAC address such as 00:1a:2b:3c:4d:5e")
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def _mac_of(index: tuple[int, ...]) -> str:
    return ":".join(f"{octet:02x}" for octet in index)


@dataclass
class SeatPort:
    """Where one seat's MAC was learned on the switch, and that port's state."""

    mac: str
    bridge_port: int
    if_index: int
    port: str
    speed_mbps: int | None
    oper_status: str
    duplex: str | None = None
    macs_on_port: int = 1
    vlan: int | None = None
    source: str = "BRIDGE-MIB"
    if_index_assumed: bool = False


@dataclass
class Fdb:
    """The switch's forwarding table: MAC -> (bridge port, VLAN)."""

    entries: dict[str, tuple[int, int | None]]
    source: str


async def read_fdb(session: SnmpSession) -> Fdb:
    entries: dict[str, tuple[int, int | None]] = {}
    for oid, port in await session.walk(o.DOT1D_TP_FDB_PORT):
        index = o.column_index(oid, o.DOT1D_TP_FDB_PORT)
        if index and len(index) == 6 and isinstance(port, int) and port > 0:
            entries[_mac_of(index)] = (port, None)
    if entries:
        return Fdb(entries, "BRIDGE-MIB")
    # VLAN-aware switches often leave dot1dTpFdbTable empty and fill Q-BRIDGE-MIB's.
    for oid, port in await session.walk(o.DOT1Q_TP_FDB_PORT):
        index = o.column_index(oid, o.DOT1Q_TP_FDB_PORT)
        if index and len(index) == 7 and isinstance(port, int) and port > 0:
            entries.setdefault(_mac_of(index[1:]), (port, index[0]))
    if entries:
        return Fdb(entries, "Q-BRIDGE-MIB")
    raise SnmpNoSuchObject(session.target, Text(
        f"{session.target} publishes no MAC address table over SNMP (BRIDGE-MIB "
        "dot1dTpFdbTable and Q-BRIDGE-MIB dot1qTpFdbTable are empty or absent): enable the "
        "bridge MIB in the switch's SNMP settings (an unmanaged switch has none), or the "
        "seats' switch ports cannot be checked",
        f"{session.target} 没有通过 SNMP 提供 MAC 地址表（BRIDGE-MIB dot1dTpFdbTable 与 "
        "Q-BRIDGE-MIB dot1qTpFdbTable 为空或不存在）：请在交换机的 SNMP 设置中启用桥接 MIB"
        "（非网管交换机没有此功能），否则无法检查考生机所在的交换机端口"),
        [o.DOT1D_TP_FDB_PORT, o.DOT1Q_TP_FDB_PORT])


async def map_seats_on(session: SnmpSession, seats: dict[str, str]) -> dict[str, SeatPort | None]:
    """label -> the switch port its MAC was learned on (None: not in the FDB)."""
    macs = {label: normalize_mac(mac) for label, mac in seats.items()}
    fdb = await read_fdb(session)
    per_port = Counter(port for port, _ in fdb.entries.values())
    base: dict[int, int] = {}
    for oid, if_index in await session.walk(o.DOT1D_BASE_PORT_IFINDEX):
        index = o.column_index(oid, o.DOT1D_BASE_PORT_IFINDEX)
        if index and len(index) == 1 and isinstance(if_index, int):
            base[index[0]] = if_index
    found = {label: fdb.entries[mac] for label, mac in macs.items() if mac in fdb.entries}
    # Without dot1dBasePortIfIndex some small switches number bridge ports as ifIndexes.
    if_indexes = {label: base.get(bp, bp) for label, (bp, _) in found.items()}
    wanted = sorted(set(if_indexes.values()))
    oids = [f"{column}.{i}" for i in wanted
            for column in (o.IF_NAME, o.IF_DESCR, o.IF_HIGH_SPEED, o.IF_SPEED, o.IF_OPER_STATUS,
                           o.DOT3_STATS_DUPLEX_STATUS)]
    values = await session.get(oids, allow_missing=True) if oids else {}
    result: dict[str, SeatPort | None] = {}
    for label, mac in macs.items():
        if label not in found:
            result[label] = None
            continue
        bridge_port, vlan = found[label]
        i = if_indexes[label]
        status = values.get(f"{o.IF_OPER_STATUS}.{i}")
        duplex = values.get(f"{o.DOT3_STATS_DUPLEX_STATUS}.{i}")
        result[label] = SeatPort(
            mac=mac,
            bridge_port=bridge_port,
            if_index=i,
            port=(as_text(values.get(f"{o.IF_NAME}.{i}"))
                  or as_text(values.get(f"{o.IF_DESCR}.{i}")) or f"bridge port {bridge_port}"),
            speed_mbps=_speed(values.get(f"{o.IF_HIGH_SPEED}.{i}"),
                              values.get(f"{o.IF_SPEED}.{i}")),
            oper_status=("unknown" if status is None
                         else o.IF_OPER_STATUS_NAMES.get(status, str(status))),
            duplex=None if duplex is None else o.DUPLEX_NAMES.get(duplex, str(duplex)),
            macs_on_port=per_port[bridge_port],
            vlan=vlan,
            source=fdb.source,
            if_index_assumed=bridge_port not in base,
        )
    return result


async def map_seats(host: str, port: int, creds: SnmpCredentials, seats: dict[str, str], *,
                    timeout_s: float = DEFAULT_TIMEOUT_S, retries: int = DEFAULT_RETRIES,
                    budget_s: float | None = None) -> dict[str, SeatPort | None]:
    """One-shot `map_seats_on`: label -> SeatPort (port, speed_mbps, oper_status...) or None."""
    async with SnmpSession(host, port, creds, timeout_s=timeout_s, retries=retries,
                           budget_s=budget_s) as session:
        return await map_seats_on(session, seats)


def judge_seat(label: str, seat: SeatPort | None, mac: str, switch: str, required: str,
               gigabit: int, fast: int) -> list[tuple[Status, Text]]:
    """LAN-SPEED findings for one seat's switch port (empty: it passes)."""
    if seat is None:
        return [(Status.WARN, Text(
            f"seat {label} ({mac}) is not in {switch}'s MAC address table, so its port speed "
            "is unverified: the PC is off or has been silent for minutes (ping it, then "
            "check again), it is cabled to another switch, or its MAC in the site file is "
            "wrong",
            f"考生机 {label}（{mac}）不在 {switch} 的 MAC 地址表中，其端口速率未能验证："
            "电脑未开机或数分钟内无流量（先 ping 它再检查），接在其他交换机上，或站点配置"
            "中的 MAC 有误"))]
    where_en = f"seat {label}'s switch port {seat.port}"
    where_zh = f"考生机 {label} 所在的交换机端口 {seat.port}"
    if seat.oper_status != "up":
        return [(Status.FAIL, Text(
            f"{where_en} is {seat.oper_status}: plug the seat's cable in firmly and switch "
            "the PC on",
            f"{where_zh} 状态为 {seat.oper_status}：请插紧该考生机的网线并开机"))]
    issues: list[tuple[Status, Text]] = []
    if seat.duplex == "half":
        issues.append((Status.FAIL, Text(
            f"{where_en} runs half duplex: set both the switch port and the PC's network "
            "card to auto-negotiation",
            f"{where_zh} 为半双工：请把交换机端口和电脑网卡都设为自动协商")))
    if not seat.speed_mbps:
        issues.append((Status.WARN, Text(
            f"{where_en} does not report its speed: check it on the switch's web page",
            f"{where_zh} 未报告速率：请在交换机管理页面上查看")))
    else:
        status = classify_speed(seat.speed_mbps, required, gigabit, fast)
        if status != Status.PASS:
            issues.append((status, _speed_advice(where_en, where_zh, seat.speed_mbps, status,
                                                 gigabit)))
    if seat.macs_on_port > 1:
        issues.append((Status.WARN, Text(
            f"{where_en} carries {seat.macs_on_port} MAC addresses: the seat is behind "
            "another switch or hub, whose speed SNMP cannot see; cable the seat directly to "
            "the room switch, or make sure the small switch is gigabit",
            f"{where_zh} 上有 {seat.macs_on_port} 个 MAC 地址：该考生机接在另一台交换机或集线器"
            "之后，其速率无法通过 SNMP 查看；请把考生机直接接到机房交换机，或确认该小交换机"
            "为千兆")))
    return issues


def make_port_speed_probe(creds: SnmpCredentials) -> ProbeFn:
    """LAN-SPEED from the switch: each seat's MAC -> switch port -> negotiated speed.

    params: `switch` (address), `port` (SNMP UDP port, 161), `seats` {label: MAC},
    `required_class` (gigabit / fast_ethernet), `gigabit_mbps` (1000), `fast_mbps` (100).
    One outcome for all seats; `measured["seats"][label]` holds each seat's port.
    """

    async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        try:
            target = _Target.parse(params, ("switch", "host", "address"))
            seats = params.get("seats")
            if not isinstance(seats, dict) or not seats:
                raise ValueError("'seats' must map seat labels to MAC addresses")
            seats = {str(label): normalize_mac(str(mac)) for label, mac in seats.items()}
            required = speed_class(params.get("required_class", GIGABIT)) or GIGABIT
            gigabit = int(params.get("gigabit_mbps", DEFAULT_GIGABIT_MBPS))
            fast = int(params.get("fast_mbps", DEFAULT_FAST_MBPS))
        except (TypeError, ValueError) as exc:
            return _error(f"bad switch port-speed parameters: {exc}",
                          f"交换机端口速率检测参数错误：{exc}")
        measured: dict[str, Any] = {"target": f"{target.host}:{target.port}",
                                    "snmp": creds.describe(), "required_class": required}
        return await _guarded(
            deadline_s, Text(f"reading the seat ports of {target.name}",
                             f"读取 {target.name} 上考生机所在的端口"),
            measured, _port_speeds(creds, target, seats, required, gigabit, fast,
                                   deadline_s, measured))

    return run


async def _port_speeds(creds: SnmpCredentials, target: _Target, seats: dict[str, str],
                       required: str, gigabit: int, fast: int, deadline_s: float,
                       measured: dict[str, Any]) -> ProbeOutcome:
    async with target.session(creds, deadline_s - 2 * _margin(deadline_s)) as session:
        mapped = await map_seats_on(session, seats)
    measured["seats"] = {label: None if seat is None else asdict(seat)
                         for label, seat in mapped.items()}
    sources = {seat.source for seat in mapped.values() if seat}
    measured["fdb_source"] = sources.pop() if sources else None
    issues: list[tuple[Status, Text]] = []
    for label, seat in mapped.items():
        issues += judge_seat(label, seat, seats[label], target.name, required, gigabit, fast)
    if all(seat is None for seat in mapped.values()):
        return ProbeOutcome(Status.ERROR, Text(
            f"none of the {len(seats)} seats' MAC addresses is in {target.name}'s MAC address "
            "table: switch the seats on and let them send traffic (ping them), and check the "
            "MACs in the site file and that this is the seats' switch",
            f"{len(seats)} 台考生机的 MAC 地址都不在 {target.name} 的 MAC 地址表中：请开启"
            "考生机并让其产生流量（ping 它们），并核对站点配置中的 MAC 以及这是否是考生机所接的"
            "交换机"), measured)
    if issues:
        status, text = _combine(issues)
        return ProbeOutcome(status, text, measured)
    speeds = sorted({s.speed_mbps for s in mapped.values() if s and s.speed_mbps})
    return ProbeOutcome(Status.PASS, Text(
        f"all {len(seats)} seats are on switch ports that are up at "
        f"{'/'.join(map(str, speeds))} Mbit/s",
        f"全部 {len(seats)} 台考生机所在的交换机端口均为 up，速率 "
        f"{'/'.join(map(str, speeds))} Mbit/s"), measured)


# ---------------------------------------------------------------- UPS


def make_ups_probe(creds: SnmpCredentials) -> ProbeFn:
    """UPS-RUNTIME from RFC 1628 UPS-MIB.

    params: `min_minutes` (required), `on_battery` ("warn" or "fail": what running on
    battery right now is; "warn" by default).
    fail: estimated runtime below `min_minutes`, battery low or depleted, output off or on
    bypass (a power cut would drop the load); warn: on battery (mains is off), or the
    battery status / output source cannot be read; error: no SNMP, or no runtime estimate.
    """

    async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        try:
            target = _Target.parse(params)
            min_minutes = float(params["min_minutes"])
            on_battery = Status(params.get("on_battery", "warn"))
            if on_battery not in (Status.WARN, Status.FAIL):
                raise ValueError("'on_battery' must be warn or fail")
        except KeyError:
            return _error("bad UPS parameters: 'min_minutes' is required",
                          "UPS 检测参数错误：缺少 min_minutes")
        except (TypeError, ValueError) as exc:
            return _error(f"bad UPS parameters: {exc}", f"UPS 检测参数错误：{exc}")
        measured: dict[str, Any] = {"target": f"{target.host}:{target.port}",
                                    "snmp": creds.describe(), "min_minutes": min_minutes}
        return await _guarded(
            deadline_s, Text(f"reading UPS {target.name}", f"读取 UPS {target.name}"),
            measured, _ups(creds, target, min_minutes, on_battery, deadline_s, measured))

    return run


async def _ups(creds: SnmpCredentials, target: _Target, min_minutes: float, on_battery: Status,
               deadline_s: float, measured: dict[str, Any]) -> ProbeOutcome:
    async with target.session(creds, deadline_s - 2 * _margin(deadline_s)) as session:
        v = await session.get([
            o.UPS_ESTIMATED_MINUTES_REMAINING, o.UPS_OUTPUT_SOURCE, o.UPS_BATTERY_STATUS,
            o.UPS_ESTIMATED_CHARGE_REMAINING, o.UPS_SECONDS_ON_BATTERY, o.UPS_IDENT_MODEL,
        ], allow_missing=True)
    minutes = v[o.UPS_ESTIMATED_MINUTES_REMAINING]
    source = v[o.UPS_OUTPUT_SOURCE]
    battery = v[o.UPS_BATTERY_STATUS]
    measured.update(
        minutes_remaining=minutes,
        output_source=None if source is None else o.UPS_OUTPUT_SOURCE_NAMES.get(source, source),
        battery_status=None if battery is None else o.UPS_BATTERY_STATUS_NAMES.get(battery,
                                                                                    battery),
        charge_pct=v[o.UPS_ESTIMATED_CHARGE_REMAINING],
        seconds_on_battery=v[o.UPS_SECONDS_ON_BATTERY],
        model=as_text(v[o.UPS_IDENT_MODEL]),
    )
    # "UPS 机房 UPS" reads badly: only prefix names that do not say UPS already.
    name = target.name if "ups" in target.name.lower() else f"UPS {target.name}"
    if minutes is None:
        return ProbeOutcome(Status.ERROR, Text(
            f"{name} answers SNMP but does not report its estimated runtime (UPS-MIB "
            "upsEstimatedMinutesRemaining): enable the standard UPS-MIB (RFC 1628) on its "
            "network card, or read the runtime on the UPS display and record it by hand",
            f"{name} 回应 SNMP，但不提供估计剩余续航（UPS-MIB "
            "upsEstimatedMinutesRemaining）：请在其网络管理卡上启用标准 UPS-MIB（RFC 1628），"
            "或在 UPS 面板上读取续航时间并人工记录"), measured)
    issues: list[tuple[Status, Text]] = []
    if minutes < min_minutes:
        issues.append((Status.FAIL, Text(
            f"{name} holds the present load for about {minutes} min, {min_minutes:g} min "
            "are required: add battery capacity or a bigger UPS, or move equipment the exam "
            "does not need off it",
            f"{name} 在当前负载下约可供电 {minutes} 分钟，要求 {min_minutes:g} 分钟："
            "请增加电池容量或更换更大的 UPS，或把考试不需要的设备移出该 UPS")))
    if battery in (o.UPS_BATTERY_LOW, o.UPS_BATTERY_DEPLETED):
        issues.append((Status.FAIL, Text(
            f"{name} reports its battery as {o.UPS_BATTERY_STATUS_NAMES[battery]}: charge "
            "it fully before the exam, and replace the battery if it does not recover",
            f"{name} 报告电池{o.UPS_BATTERY_STATUS_ZH[battery]}：请在考试前充满电，"
            "若无法恢复请更换电池")))
    if source == o.UPS_OUTPUT_NONE:
        issues.append((Status.FAIL, Text(
            f"{name} reports its output is off: nothing behind it is protected; switch "
            "the UPS output on",
            f"{name} 报告输出已关闭：其后的设备没有保护；请打开 UPS 输出")))
    elif source == o.UPS_OUTPUT_BYPASS:
        issues.append((Status.FAIL, Text(
            f"{name} is on bypass: mains feeds the load directly and a power cut would "
            "drop it; clear the UPS fault or overload and return it to normal mode",
            f"{name} 处于旁路状态：市电直接供给负载，一旦停电负载将断电；请排除 UPS "
            "故障或过载，使其恢复正常模式")))
    elif source == o.UPS_OUTPUT_BATTERY:
        issues.append((on_battery, Text(
            f"{name} is running on battery now (for {v[o.UPS_SECONDS_ON_BATTERY] or 0} s): "
            "mains power to the room is off; restore it before the exam",
            f"{name} 正在使用电池供电（已 {v[o.UPS_SECONDS_ON_BATTERY] or 0} 秒）："
            "机房市电已中断；请在考试前恢复供电")))
    # "unknown"/"other" says no more than a missing value: both leave the rule unproven.
    unread = []
    if battery in (None, o.UPS_BATTERY_UNKNOWN):
        unread.append(("battery status", "电池状态"))
    if source in (None, o.UPS_OUTPUT_OTHER):
        unread.append(("output source", "输出来源"))
    if unread and not issues:
        issues.append((Status.WARN, Text(
            f"{name}'s {' and '.join(en for en, _ in unread)} cannot be read, so the "
            "runtime is only partly verified: check them on the UPS display",
            f"无法读取 {name} 的{'和'.join(zh for _, zh in unread)}，续航只得到部分验证："
            "请在 UPS 面板上查看")))
    if issues:
        status, text = _combine(issues)
        return ProbeOutcome(status, text, measured)
    note_en = note_zh = ""
    if source in (o.UPS_OUTPUT_BOOSTER, o.UPS_OUTPUT_REDUCER):
        note_en = (f" (mains voltage out of range, the UPS is "
                   f"{'boosting' if source == o.UPS_OUTPUT_BOOSTER else 'trimming'} it)")
        note_zh = f"（市电电压异常，UPS 正在{o.UPS_OUTPUT_SOURCE_ZH[source]}）"
    return ProbeOutcome(Status.PASS, Text(
        f"{name} holds the present load for about {minutes} min (at least "
        f"{min_minutes:g} min required), on mains{note_en}, battery normal",
        f"{name} 在当前负载下约可供电 {minutes} 分钟（要求至少 {min_minutes:g} 分钟），"
        f"市电供电{note_zh}，电池正常"), measured)
