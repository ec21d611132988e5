"""SNMP probes: device identity and reboots, switch ports, seat -> switch port, UPS runtime.

Each probe is `async def run_*(params, deadline_s, secrets) -> ProbeOutcome`: the
credentials come in `secrets` ("community", or "auth_key" and "priv_key"), resolved by
the runner from the site paths the Check names, never in params, which end up in
results and reports. The probes measure; readiness/judges/snmp.py holds the verdicts.

Common params: `host` (or `address`; the port-speed probe also takes `switch`),
`port` (UDP), `snmp_version` ("2c" or "3"), for v3 `snmp_user`, `auth_protocol`,
`priv_protocol`; `timeout_s` (per try), `retries`, `name` (how staff know the device).
The knobs' one default is in readiness/planning/knobs.py; a parameter left out is an
`error` naming it, as is one that makes no sense.

An SNMP failure is `error` (the check could not be made) with the client's message,
which says which setting to look at. A probe that measured returns `pass` with a
plain description of what it read, for its judge to turn into the verdict.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from readiness.checkkind import TARGET, CheckKind, Param, knobs, optional
from readiness.redact import Secret
from readiness.results import ProbeOutcome, Status, Text
from readiness.vocabulary import UPS_BATTERY_STATUS_NAMES, UPS_OUTPUT_SOURCE_NAMES

from .engines import snmp_oids as o
from .engines.snmp_client import (
    SnmpCredentials,
    SnmpError,
    SnmpNoSuchObject,
    SnmpSession,
    as_text,
)

T = TypeVar("T")
# One SNMP exchange, pysnmp engine included, needs about this much at the least.
MIN_BUDGET_S = 0.5
# Below this a second counter reading says nothing about errors on a LAN.
MIN_INTERVAL_S = 0.5


# ---------------------------------------------------------------- common plumbing


_WORDS = {int: "a whole number", float: "a number"}


def _param(params: dict[str, Any], key: str, as_type: type[T]) -> T:
    """A parameter the check must give, as `as_type`; a planner that left it out or gave
    something else is told which parameter."""
    value = params.get(key)
    if value is None:
        raise ValueError(f"parameter {key!r} is missing")
    try:
        return as_type(value)
    except (TypeError, ValueError):
        raise ValueError(f"parameter {key!r} must be {_WORDS.get(as_type, 'text')}, "
                         f"not {value!r}") from None


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
        port = _param(params, "port", int)
        if not 1 <= port <= 0xFFFF:
            raise ValueError(f"'port' must be 1..65535, not {port}")
        timeout_s = _param(params, "timeout_s", float)
        retries = _param(params, "retries", int)
        if timeout_s <= 0 or retries < 0:
            raise ValueError("'timeout_s' must be positive and 'retries' not negative")
        return cls(host, port, timeout_s, retries, _param(params, "name", str))

    def session(self, creds: SnmpCredentials, budget_s: float) -> SnmpSession:
        return SnmpSession(self.host, self.port, creds, timeout_s=self.timeout_s,
                           retries=self.retries, budget_s=budget_s)


def credentials(params: dict[str, Any], secrets: dict[str, Secret] | None) -> SnmpCredentials:
    """The SNMP credentials from `snmp_version` (and the v3 user and protocols) in params
    and the keys in `secrets`; ValueError names what is missing, never a value."""
    secrets = secrets or {}
    version = params.get("snmp_version")
    if version == "2c":
        if "community" not in secrets:
            raise ValueError("SNMPv2c needs a community (secrets: 'community')")
        return SnmpCredentials.v2c(secrets["community"])
    if version == "3":
        return SnmpCredentials.v3(
            str(params.get("snmp_user") or ""), secrets.get("auth_key"), secrets.get("priv_key"),
            auth_protocol=_param(params, "auth_protocol", str),
            priv_protocol=_param(params, "priv_protocol", str))
    raise ValueError(f"'snmp_version' must be '2c' or '3', not {version!r}")


def _measured(what: str, text: Text, measured: dict[str, Any]) -> ProbeOutcome:
    # measured, not judged: the status says only that there is something to judge
    return ProbeOutcome(Status.PASS, Text(f"{what}: {text.en}", f"{what}：{text.zh}"), measured)


def _margin(deadline_s: float) -> float:
    # Finishing at exactly the runner's deadline is a race: keep a little slack.
    return min(0.25, 0.1 * deadline_s)


def _error(en: str, zh: str, measured: dict[str, Any] | None = None) -> ProbeOutcome:
    return ProbeOutcome(Status.ERROR, Text(en, zh), measured or {})


def _snmp_failed(exc: SnmpError, measured: dict[str, Any]) -> ProbeOutcome:
    measured["snmp_error"] = exc.reason
    return ProbeOutcome(Status.ERROR, exc.text, measured)


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
                     tolerance_s: float) -> bool | None:
    """True when the uptime is too small to be the previous uptime plus the time since;
    `tolerance_s` of slack absorbs clock drift and the time the previous check took.

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


async def run_device(params: dict[str, Any], deadline_s: float,
                     secrets: dict[str, Secret] | None = None) -> ProbeOutcome:
    """sysName / sysDescr / sysUpTime; with `previous_uptime_s` and `previous_checked_at`
    (what `measured` held last time: `uptime_s`, `checked_at`) `measured["rebooted"]`
    says whether it rebooted in between (judge: snmp.device).

    Extra params: `reboot_tolerance_s`.
    """
    try:
        creds = credentials(params, secrets)
        target = _Target.parse(params)
        previous_uptime = params.get("previous_uptime_s")
        previous_at = params.get("previous_checked_at")
        if (previous_uptime is None) != (previous_at is None):
            raise ValueError("give both 'previous_uptime_s' and 'previous_checked_at', "
                             "or neither")
        previous = None if previous_at is None else (
            float(previous_uptime), _parse_time(previous_at))  # type: ignore[arg-type]
        tolerance = _param(params, "reboot_tolerance_s", float)
    except (TypeError, ValueError) as exc:
        return _error(f"bad SNMP device parameters: {exc}", f"SNMP 设备检测参数错误：{exc}")
    measured: dict[str, Any] = {"target": f"{target.host}:{target.port}",
                                "snmp": creds.describe()}
    return await _guarded(
        deadline_s, Text(f"reading {target.name} over SNMP", f"通过 SNMP 读取 {target.name}"),
        measured, _identity(creds, target, previous, tolerance, deadline_s, measured))


async def _identity(creds: SnmpCredentials, target: _Target,
                    previous: tuple[float, datetime] | None, tolerance_s: float,
                    deadline_s: float, measured: dict[str, Any]) -> ProbeOutcome:
    async with target.session(creds, deadline_s - 2 * _margin(deadline_s)) as session:
        values = await session.get([o.SYS_NAME, o.SYS_UPTIME, o.SYS_DESCR], allow_missing=True)
    checked_at = datetime.now(UTC)
    ticks = values[o.SYS_UPTIME]
    descr = as_text(values[o.SYS_DESCR])
    measured.update(
        sys_name=as_text(values[o.SYS_NAME]),
        sys_descr=descr[:200] if descr else None,
        uptime_s=None if ticks is None else ticks / o.TIMETICKS_PER_S,
        checked_at=checked_at.isoformat(),
    )
    if ticks is not None and previous is not None:
        previous_uptime, previous_at = previous
        elapsed = (checked_at - previous_at).total_seconds()
        measured.update(previous_uptime_s=previous_uptime,
                        previous_checked_at=previous_at.isoformat(),
                        rebooted=rebooted_between(ticks / o.TIMETICKS_PER_S, previous_uptime,
                                                  elapsed, tolerance_s))
    return _measured(target.name, Text("answers SNMP", "回应 SNMP"), measured)


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


async def run_interfaces(params: dict[str, Any], deadline_s: float,
                         secrets: dict[str, Secret] | None = None) -> ProbeOutcome:
    """Per switch/router port: ifOperStatus, ifHighSpeed, error counters, and how the error
    counters grew during the check (read twice, `interval_s` apart) (judge:
    snmp.interfaces).

    Extra params: `ports` (ifName/ifDescr list to read; default: every Ethernet port that
    is up; names the device does not have go to `measured["unknown_ports"]`),
    `interval_s`.
    """
    try:
        creds = credentials(params, secrets)
        target = _Target.parse(params)
        wanted = [str(p) for p in params.get("ports") or []]
        interval_s = _param(params, "interval_s", float)
        if interval_s < 0:
            raise ValueError("'interval_s' must not be negative")
    except (TypeError, ValueError) as exc:
        return _error(f"bad SNMP interface parameters: {exc}",
                      f"SNMP 端口检测参数错误：{exc}")
    measured: dict[str, Any] = {"target": f"{target.host}:{target.port}",
                                "snmp": creds.describe()}
    body = _interfaces(creds, target, wanted, interval_s, deadline_s, measured)
    return await _guarded(
        deadline_s, Text(f"reading the ports of {target.name}", f"读取 {target.name} 的端口"),
        measured, body)


async def _interfaces(creds: SnmpCredentials, target: _Target, wanted: list[str],
                      interval_s: float, deadline_s: float,
                      measured: dict[str, Any]) -> ProbeOutcome:
    async with target.session(creds, deadline_s - 2 * _margin(deadline_s)) as session:
        started = time.monotonic()
        ports = await read_ports(session)
        first_read_s = time.monotonic() - started
        by_name = {p.name: p for p in ports.values()}
        chosen: list[PortState] = []
        if wanted:
            unknown = []
            for name in wanted:
                port = by_name.get(name) or next(
                    (p for p in ports.values() if name == str(p.if_index)), None)
                if port is None:
                    unknown.append(name)
                else:
                    chosen.append(port)
            if unknown:
                measured["unknown_ports"] = unknown
                measured["known_ports"] = sorted(by_name)[:20]
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
    return _measured(target.name, Text(f"read {len(chosen)} port(s)",
                                       f"读取了 {len(chosen)} 个端口"), measured)


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


async def run_port_speed(params: dict[str, Any], deadline_s: float,
                         secrets: dict[str, Secret] | None = None) -> ProbeOutcome:
    """LAN-SPEED from the switch: each seat's MAC -> switch port -> negotiated speed
    (judge: snmp.port_speed).

    params: `switch` (address), `port` (SNMP UDP port), `seats` {label: MAC}.
    One outcome for all seats; `measured["seats"][label]` holds each seat's port (None:
    its MAC is not in the switch's table).
    """
    try:
        creds = credentials(params, secrets)
        target = _Target.parse(params, ("switch", "host", "address"))
        seats = params.get("seats")
        if not isinstance(seats, dict) or not seats:
            raise ValueError("'seats' must map seat labels to MAC addresses")
        seats = {str(label): normalize_mac(str(mac)) for label, mac in seats.items()}
    except (TypeError, ValueError) as exc:
        return _error(f"bad switch port-speed parameters: {exc}",
                      f"交换机端口速率检测参数错误：{exc}")
    measured: dict[str, Any] = {"target": f"{target.host}:{target.port}",
                                "snmp": creds.describe()}
    return await _guarded(
        deadline_s, Text(f"reading the seat ports of {target.name}",
                         f"读取 {target.name} 上考生机所在的端口"),
        measured, _port_speeds(creds, target, seats, deadline_s, measured))


async def _port_speeds(creds: SnmpCredentials, target: _Target, seats: dict[str, str],
                       deadline_s: float, measured: dict[str, Any]) -> ProbeOutcome:
    async with target.session(creds, deadline_s - 2 * _margin(deadline_s)) as session:
        mapped = await map_seats_on(session, seats)
    measured["seats"] = {label: None if seat is None else asdict(seat)
                         for label, seat in mapped.items()}
    sources = {seat.source for seat in mapped.values() if seat}
    measured["fdb_source"] = sources.pop() if sources else None
    found = sum(seat is not None for seat in mapped.values())
    return _measured(target.name, Text(f"{found} of {len(seats)} seats in the MAC table",
                                       f"{len(seats)} 台考生机中 {found} 台在 MAC 地址表中"),
                     measured)


# ---------------------------------------------------------------- UPS


async def run_ups(params: dict[str, Any], deadline_s: float,
                  secrets: dict[str, Secret] | None = None) -> ProbeOutcome:
    """RFC 1628 UPS-MIB: estimated runtime, output source, battery status, charge, time
    on battery, model (judge: snmp.ups)."""
    try:
        creds = credentials(params, secrets)
        target = _Target.parse(params)
    except (TypeError, ValueError) as exc:
        return _error(f"bad UPS parameters: {exc}", f"UPS 检测参数错误：{exc}")
    measured: dict[str, Any] = {"target": f"{target.host}:{target.port}",
                                "snmp": creds.describe()}
    return await _guarded(
        deadline_s, Text(f"reading UPS {target.name}", f"读取 UPS {target.name}"),
        measured, _ups(creds, target, deadline_s, measured))


async def _ups(creds: SnmpCredentials, target: _Target, deadline_s: float,
               measured: dict[str, Any]) -> ProbeOutcome:
    async with target.session(creds, deadline_s - 2 * _margin(deadline_s)) as session:
        v = await session.get([
            o.UPS_ESTIMATED_MINUTES_REMAINING, o.UPS_OUTPUT_SOURCE, o.UPS_BATTERY_STATUS,
            o.UPS_ESTIMATED_CHARGE_REMAINING, o.UPS_SECONDS_ON_BATTERY, o.UPS_IDENT_MODEL,
        ], allow_missing=True)
    source = v[o.UPS_OUTPUT_SOURCE]
    battery = v[o.UPS_BATTERY_STATUS]
    minutes = v[o.UPS_ESTIMATED_MINUTES_REMAINING]
    measured.update(
        minutes_remaining=minutes,
        output_source=None if source is None else UPS_OUTPUT_SOURCE_NAMES.get(source, source),
        battery_status=None if battery is None else UPS_BATTERY_STATUS_NAMES.get(battery,
                                                                                    battery),
        charge_pct=v[o.UPS_ESTIMATED_CHARGE_REMAINING],
        seconds_on_battery=v[o.UPS_SECONDS_ON_BATTERY],
        model=as_text(v[o.UPS_IDENT_MODEL]),
    )
    return _measured(target.name, Text(f"runtime {minutes} min", f"续航 {minutes} 分钟"),
                     measured)


_SNMP = (Param("host", TARGET), *knobs("snmp_version", "port", "timeout_s", "retries", "name"),
         *optional("snmp_user", "auth_protocol", "priv_protocol"))
_SNMP_SECRETS = ("community", "auth_key", "priv_key")
KINDS = (
    CheckKind(probe="snmp_device", run=run_device,
              params=(*_SNMP, Param("reboot_tolerance_s"),
                      *optional("previous_uptime_s", "previous_checked_at")),
              judges=("snmp.device",), secrets=_SNMP_SECRETS),
    CheckKind(probe="snmp_interfaces", run=run_interfaces,
              params=(*_SNMP, *knobs("interval_s"), *optional("ports")),
              judges=("snmp.interfaces",), secrets=_SNMP_SECRETS),
    CheckKind(probe="snmp_port_speed", run=run_port_speed,
              params=(*_SNMP, Param("switch", TARGET), *knobs("seats")),
              judges=("snmp.port_speed",), secrets=_SNMP_SECRETS),
    CheckKind(probe="snmp_ups", run=run_ups, params=_SNMP, judges=("snmp.ups",),
              secrets=_SNMP_SECRETS),
)
# each check of these kinds opens one SNMP session (readiness/check_run.py prewarms engines)
ENGINE_PROBES = frozenset(kind.probe for kind in KINDS)
