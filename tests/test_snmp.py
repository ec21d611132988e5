"""SNMP client and probes against real net-snmp `snmpd`.

Agents listen on 127.0.0.1 only. The switch test builds its own network namespace
(`rdyt<pid>-snmpsw`) holding a Linux bridge, because that is what the lab's switch is:
snmpd runs inside it with `tests/snmp_passpersist_switch.py` serving the bridge's FDB
and the declared port speeds (snmpd has no BRIDGE-MIB and veth cannot be slowed, see
the lab notes), and the client runs on a thread that entered the namespace, so all
traffic stays on that namespace's loopback.

Every agent gets fresh random credentials; the leak tests look for them in every
message, exception, result and log record the failures produce.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import io
import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import probe_params
import pytest

from probes import snmp_device as dev
from probes.engines import snmp_oids as o
from probes.engines.snmp_client import (
    SnmpAuthError,
    SnmpCredentials,
    SnmpError,
    SnmpNoSuchObject,
    SnmpSession,
    SnmpTimeout,
    get,
    walk,
)
from readiness.config.profile import UpsRuntimeThresholds
from readiness.judges import snmp as judges
from readiness.planning.knobs import knobs
from readiness.redact import Secret
from readiness.results import ProbeOutcome, Status

T = TypeVar("T")
HERE = Path(__file__).resolve().parent
SWITCH_SCRIPT = HERE / "snmp_passpersist_switch.py"

COMMUNITY = "c" + secrets.token_hex(8)
USER = "rdyuser"
AUTH_KEY = "a" + secrets.token_hex(8)
PRIV_KEY = "p" + secrets.token_hex(8)
ALL_SECRETS = (COMMUNITY, AUTH_KEY, PRIV_KEY)


def _v2c(community: str = COMMUNITY) -> SnmpCredentials:
    return SnmpCredentials.v2c(Secret(community, "secret:test_community"))


def _v3(auth: str = AUTH_KEY, priv: str | None = PRIV_KEY, user: str = USER) -> SnmpCredentials:
    return SnmpCredentials.v3(user, Secret(auth, "secret:test_auth"),
                              None if priv is None else Secret(priv, "secret:test_priv"))


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


Probe = Callable[[dict[str, Any], float], Any]


def _probe_of(probe_name: str, creds: SnmpCredentials, judge: Any,
              judged: Callable[[dict[str, Any]], dict[str, Any]]) -> Probe:
    """A registered SNMP probe as the runner calls it (params name the version and user,
    `secrets` hold the community or keys), then its judge on the outcome. What a test
    gives goes to the probe when its kind declares it, and to the judge either way."""
    kind = next(k for k in dev.KINDS if k.probe == probe_name)
    given: dict[str, Any] = {"snmp_version": creds.version}
    if creds.version == "3":
        given |= {"snmp_user": creds.user, "auth_protocol": creds.auth_protocol,
                  "priv_protocol": creds.priv_protocol}
    keys = {name: value for name in ("community", "auth_key", "priv_key")
            if (value := getattr(creds, name)) is not None}

    async def probe(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        declared = {k: v for k, v in params.items() if kind.param(k) is not None}
        whole = probe_params.snmp(probe_name, **given, **{"name": _name(params), **declared})
        assert kind.problems(whole) == []
        outcome = await kind.run(whole, deadline_s, keys)
        return judge(outcome, judged(params))

    return probe


def _name(p: dict[str, Any]) -> str:
    return p.get("name") or p.get("switch") or p["host"]


def _device_probe(creds: SnmpCredentials) -> Probe:
    return _probe_of("snmp_device", creds, judges.device, lambda p: {"name": _name(p)})


def _ups_probe(creds: SnmpCredentials) -> Probe:
    return _probe_of("snmp_ups", creds, judges.ups, lambda p: {
        "name": _name(p), "on_battery": p.get("on_battery", "warn"),
        "thresholds": UpsRuntimeThresholds(min_minutes=p["min_minutes"],
                                           covers="exam_server")})


def _speeds(p: dict[str, Any]) -> dict[str, Any]:
    return {"name": _name(p), "required_class": p.get("required_class", "gigabit"),
            "gigabit_mbps": 1000, "fast_mbps": 100}


def _port_speed_probe(creds: SnmpCredentials) -> Probe:
    return _probe_of("snmp_port_speed", creds, judges.port_speed, lambda p: {
        **_speeds(p), "macs": {k: dev.normalize_mac(v) for k, v in p["seats"].items()}})


def _interfaces_probe(creds: SnmpCredentials) -> Probe:
    return _probe_of("snmp_interfaces", creds, judges.interfaces, _speeds)


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        reason = f"{tool} is not installed (apt-get install snmpd snmp)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)


# ---------------------------------------------------------------- an snmpd of our own


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Snmpd:
    """One snmpd on 127.0.0.1 (of the root or of a given namespace), stopped on exit."""

    def __init__(self, lines: list[str], *, netns: str | None = None, port: int | None = None):
        self.folder = Path(tempfile.mkdtemp(prefix="rdy-snmpd-"))
        self.port = port or _free_udp_port()
        self.conf = self.folder / "snmpd.conf"
        self.log = self.folder / "snmpd.log"
        access = [
            f"rocommunity {COMMUNITY} 127.0.0.1",
            f'createUser {USER} SHA "{AUTH_KEY}" AES "{PRIV_KEY}"',
            f"rouser {USER} priv",
            "dontLogTCPWrappersConnects yes",
        ]
        self.conf.write_text("\n".join([*access, *lines]) + "\n")
        self.conf.chmod(0o600)
        env = dict(os.environ, MIBS="", MIBDIRS="",
                   SNMP_PERSISTENT_DIR=str(self.folder / "persist"))
        argv = ["snmpd", "-f", "-C", "-c", str(self.conf), "-Lf", str(self.log),
                "-p", str(self.folder / "snmpd.pid"), f"udp:127.0.0.1:{self.port}"]
        if netns:
            argv = ["ip", "netns", "exec", netns, *argv]
        self.process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self._wait_ready()

    def _wait_ready(self) -> None:
        # snmpd logs its version line once its sockets are open.
        limit = time.monotonic() + 10
        while time.monotonic() < limit:
            if self.process.poll() is not None:
                raise RuntimeError(f"snmpd exited: {self._log_tail()}")
            if self.log.exists() and "NET-SNMP version" in self.log.read_text(errors="replace"):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"snmpd did not start within 10 s: {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-500:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def snmpd(lines: list[str], **kw: Any) -> Iterator[Snmpd]:
    _need("snmpd")
    agent = Snmpd(lines, **kw)
    try:
        yield agent
    finally:
        agent.stop()


UPS_42 = [
    "sysName exam-room-ups",
    f"override .{o.UPS_ESTIMATED_MINUTES_REMAINING} integer 42",
    f"override .{o.UPS_OUTPUT_SOURCE} integer 3",
    f"override .{o.UPS_BATTERY_STATUS} integer 2",
]


@pytest.fixture(scope="module")
def agent() -> Iterator[Snmpd]:
    with snmpd(UPS_42) as running:
        yield running


# ---------------------------------------------------------------- client: the happy paths


def test_v2c_get_and_walk(agent: Snmpd) -> None:
    values = _run(get("127.0.0.1", agent.port, _v2c(), [o.SYS_NAME, "." + o.SYS_UPTIME]))
    assert values[o.SYS_NAME] == b"exam-room-ups"
    assert isinstance(values[o.SYS_UPTIME], int)
    rows = _run(walk("127.0.0.1", agent.port, _v2c(), o.IF_NAME))
    names = [value for _, value in rows]
    assert b"lo" in names
    assert all(o.column_index(oid, o.IF_NAME) for oid, _ in rows)  # nothing past the column
    assert not rows.truncated


def test_v3_authpriv_get_and_bounded_walk(agent: Snmpd) -> None:
    async def go() -> tuple[dict[str, Any], Any, Any]:
        async with SnmpSession("127.0.0.1", agent.port, _v3(), timeout_s=1.0) as session:
            values = await session.get([o.SYS_NAME, o.UPS_ESTIMATED_MINUTES_REMAINING])
            full = await session.walk("1.3.6.1.2.1.2.2.1")
            cut = await session.walk("1.3.6.1.2.1.2.2.1", max_rows=7)
            return values, full, cut

    values, full, cut = _run(go())
    assert values == {o.SYS_NAME: b"exam-room-ups", o.UPS_ESTIMATED_MINUTES_REMAINING: 42}
    assert len(full) > 7 and not full.truncated
    assert cut == full[:7] and cut.truncated


def test_missing_object_is_its_own_error(agent: Snmpd) -> None:
    with pytest.raises(SnmpNoSuchObject) as info:
        _run(get("127.0.0.1", agent.port, _v2c(), [o.SYS_NAME, o.UPS_SECONDS_ON_BATTERY]))
    assert info.value.oids == [o.UPS_SECONDS_ON_BATTERY]
    values = _run(get("127.0.0.1", agent.port, _v2c(), [o.UPS_SECONDS_ON_BATTERY],
                      allow_missing=True))
    assert values == {o.UPS_SECONDS_ON_BATTERY: None}
    # snmpd has no BRIDGE-MIB: an empty walk, not an error
    assert _run(walk("127.0.0.1", agent.port, _v2c(), o.DOT1D_TP_FDB_PORT)) == []


# ---------------------------------------------------------------- client: the failures


async def _timed(coro: Any) -> tuple[Any, float]:
    # Timed inside the event loop: asyncio.run's own start and teardown are not the
    # client's doing and not what a runner's deadline measures.
    started = time.monotonic()
    try:
        result = await coro
    except SnmpError as exc:
        result = exc
    return result, time.monotonic() - started


def _fails(agent_port: int, creds: SnmpCredentials, budget_s: float = 6.0) -> tuple[SnmpError,
                                                                                      float]:
    # The budget is roomy so that a busy machine cannot turn an agent's slow answer
    # into a timeout; the silent cases end long before it, after pysnmp's two tries.
    error, elapsed = _run(_timed(get("127.0.0.1", agent_port, creds, [o.SYS_NAME],
                                     timeout_s=1.0, retries=1, budget_s=budget_s)))
    assert isinstance(error, SnmpError), error
    return error, elapsed


def test_wrong_community_is_told_apart_from_no_agent(agent: Snmpd) -> None:
    error, elapsed = _fails(agent.port, _v2c("wrong" + secrets.token_hex(4)))
    assert isinstance(error, SnmpAuthError) and error.reason == "community_rejected"
    assert elapsed < 6.0
    assert "community is wrong" in str(error) and "团体名错误" in error.text.zh

    nobody = _free_udp_port()
    error, elapsed = _fails(nobody, _v2c(), budget_s=2.0)
    assert isinstance(error, SnmpTimeout)
    assert elapsed < 2.0
    assert f"no SNMP answer from 127.0.0.1:{nobody} within" in str(error)
    assert "wrong community" in str(error) and "firewall" in str(error)


@pytest.mark.parametrize("creds, reason, words", [
    (lambda: _v3(auth="wrongauth123"), "wrong_auth_key", "auth key"),
    (lambda: _v3(priv="wrongpriv123"), "wrong_priv_key", "privacy key"),
    (lambda: _v3(user="nosuchuser"), "unknown_user", "does not know SNMPv3 user"),
    (lambda: _v3(priv=None), "access_denied", "higher security level"),
])
def test_v3_credential_errors_are_named(agent: Snmpd, creds: Callable[[], SnmpCredentials],
                                        reason: str, words: str) -> None:
    error, elapsed = _fails(agent.port, creds())
    assert isinstance(error, SnmpAuthError)
    assert error.reason == reason, str(error)
    assert words in str(error)
    assert elapsed < 6.0


def test_credentials_are_never_shown(agent: Snmpd, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    nobody = _free_udp_port()

    async def case(creds: SnmpCredentials, port: int, seconds: float) -> tuple[str, list[str]]:
        texts: list[str] = []
        reason = ""
        try:  # the right credentials still fail here: no such object
            await get("127.0.0.1", port, creds, [o.SYS_NAME, o.UPS_SECONDS_ON_BATTERY],
                      timeout_s=1.0, retries=1, budget_s=seconds)
        except SnmpError as exc:
            texts += [str(exc), repr(exc), exc.text.zh]
            reason = exc.reason
        outcome = await _ups_probe(creds)(
            {"host": "127.0.0.1", "port": port, "min_minutes": 120, "timeout_s": 1.0,
             "retries": 1}, seconds + 0.5)
        texts += [outcome.message.en, outcome.message.zh, json.dumps(outcome.measured)]
        return reason, texts

    async def all_cases() -> list[tuple[str, list[str]]]:
        # Concurrently, as a runner would: also proves sessions do not mix credentials.
        # A retry keeps a busy machine's slow answer from looking like silence; the
        # agent-less cases are cut short by their budget.
        return await asyncio.gather(
            case(_v2c("wrong" + COMMUNITY), agent.port, 6.0),
            case(_v3(auth=AUTH_KEY + "x"), agent.port, 6.0),
            case(_v3(priv=PRIV_KEY + "x"), agent.port, 6.0),
            case(_v2c(), agent.port, 6.0),
            case(_v3(), agent.port, 6.0),
            case(_v2c(), nobody, 0.8),
            case(_v3(), nobody, 0.8))

    results = _run(all_cases())
    texts = [repr(_v2c()), str(_v3()), repr(_v3())]
    texts += [text for _, found in results for text in found]
    texts += [record.getMessage() for record in caplog.records]
    blob = "\n".join(texts)
    # every failure path was taken
    assert [reason for reason, _ in results] == [
        "community_rejected", "wrong_auth_key", "wrong_priv_key", "no_such_object",
        "no_such_object", "timeout", "timeout"], texts
    assert "SNMPv3 user rdyuser (authPriv SHA/AES)" in blob
    for secret in ALL_SECRETS:
        assert secret not in blob


def test_credentials_refuse_plain_strings_and_short_keys() -> None:
    with pytest.raises(TypeError):
        SnmpCredentials.v2c("public")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shorter than 8") as info:
        _v3(auth="short")
    assert "short" not in str(info.value).replace("shorter", "")
    with pytest.raises(ValueError, match="privacy protocol"):
        SnmpCredentials.v3(USER, Secret(AUTH_KEY, "x"), Secret(PRIV_KEY, "y"),
                           priv_protocol="ROT13")


# ---------------------------------------------------------------- device identity / reboot


def _probe(fn: Any, params: dict[str, Any], deadline_s: float = 8.0) -> tuple[ProbeOutcome,
                                                                              float]:
    """Run a probe; the generous default deadline is for tests that do not time it."""
    outcome, elapsed = _run(_timed(fn(params, deadline_s)))
    assert isinstance(outcome, ProbeOutcome)
    return outcome, elapsed


def test_device_identity_and_reboot(agent: Snmpd) -> None:
    probe = _device_probe(_v3())
    first, _ = _probe(probe, {"host": "127.0.0.1", "port": agent.port, "name": "router"})
    assert first.status == Status.PASS, first.message.en
    assert first.measured["sys_name"] == "exam-room-ups"
    assert first.measured["snmp"] == "SNMPv3 user rdyuser (authPriv SHA/AES)"

    again, _ = _probe(probe, {"host": "127.0.0.1", "port": agent.port, "name": "router",
                              "previous_uptime_s": first.measured["uptime_s"],
                              "previous_checked_at": first.measured["checked_at"]})
    assert again.status == Status.PASS and again.measured["rebooted"] is False

    # The last check, an hour ago, saw ten days of uptime: the agent is younger now.
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    rebooted, _ = _probe(probe, {"host": "127.0.0.1", "port": agent.port, "name": "router",
                                 "previous_uptime_s": 10 * 86400,
                                 "previous_checked_at": hour_ago})
    assert rebooted.status == Status.WARN
    assert "router (exam-room-ups) rebooted since the last check" in rebooted.message.en
    assert "重启" in rebooted.message.zh


def test_reboot_arithmetic_knows_the_uptime_wrap() -> None:
    wrap_s = o.TIMETICKS_WRAP / o.TIMETICKS_PER_S
    slack = knobs("snmp_device")["reboot_tolerance_s"]
    assert dev.rebooted_between(3600 + 5, 0, 3600, slack) is False
    assert dev.rebooted_between(100, 86400, 3600, slack) is True
    # 497 days of uptime wrapped to near zero: no reboot
    assert dev.rebooted_between(600, wrap_s - 3000, 3600, slack) is False
    assert dev.rebooted_between(100, 5000, -10, slack) is None


def test_wrong_community_probe_errors_within_its_deadline(agent: Snmpd) -> None:
    probe = _device_probe(_v2c("nope" + secrets.token_hex(4)))
    # pysnmp alone would wait 3 x 1 s (and overshoots each try): the deadline cuts it
    outcome, elapsed = _probe(probe, {"host": "127.0.0.1", "port": agent.port,
                                      "timeout_s": 1.0, "retries": 2}, deadline_s=2.5)
    assert outcome.status == Status.ERROR
    assert elapsed < 2.5
    assert outcome.measured["snmp_error"] in ("community_rejected", "timeout")
    assert "community" in outcome.message.en


# ---------------------------------------------------------------- UPS


@pytest.mark.parametrize("values, min_minutes, status, words", [
    ({"minutes": 42, "source": 3, "battery": 2}, 120, Status.FAIL, "about 42 min, 120 min"),
    ({"minutes": 240, "source": 3, "battery": 2}, 120, Status.PASS, "on mains"),
    ({"minutes": 240, "source": 5, "battery": 2, "on_battery_s": 95}, 120, Status.WARN,
     "running on battery now (for 95 s)"),
    ({"minutes": 240, "source": 3, "battery": 3}, 120, Status.FAIL, "batteryLow"),
    ({"minutes": 240, "source": 4, "battery": 2}, 120, Status.FAIL, "bypass"),
    ({"minutes": 240}, 120, Status.WARN, "battery status and output source cannot be read"),
    ({}, 120, Status.ERROR, "does not report its estimated runtime"),
])
def test_ups_runtime(values: dict[str, int], min_minutes: int, status: Status,
                     words: str) -> None:
    lines = []
    for key, oid in (("minutes", o.UPS_ESTIMATED_MINUTES_REMAINING),
                     ("source", o.UPS_OUTPUT_SOURCE), ("battery", o.UPS_BATTERY_STATUS),
                     ("on_battery_s", o.UPS_SECONDS_ON_BATTERY)):
        if key in values:
            lines.append(f"override .{oid} integer {values[key]}")
    with snmpd(lines) as ups:
        outcome, _ = _probe(_ups_probe(_v2c()), {
            "host": "127.0.0.1", "port": ups.port, "name": "机房 UPS",
            "min_minutes": min_minutes})
    assert outcome.status == status, outcome.message.en
    assert words in outcome.message.en
    assert outcome.message.zh and "UPS" in outcome.message.zh
    if "minutes" in values:
        assert outcome.measured["minutes_remaining"] == values["minutes"]


def test_ups_on_battery_can_be_made_a_failure(agent: Snmpd) -> None:
    lines = [f"override .{o.UPS_ESTIMATED_MINUTES_REMAINING} integer 300",
             f"override .{o.UPS_OUTPUT_SOURCE} integer 5",
             f"override .{o.UPS_BATTERY_STATUS} integer 2"]
    with snmpd(lines) as ups:
        outcome, _ = _probe(_ups_probe(_v3()), {
            "host": "127.0.0.1", "port": ups.port, "min_minutes": 180, "on_battery": "fail"})
    assert outcome.status == Status.FAIL
    assert outcome.measured["output_source"] == "battery"


def test_ups_wrong_priv_key_is_an_error_within_the_deadline(agent: Snmpd) -> None:
    outcome, elapsed = _probe(_ups_probe(_v3(priv="wrongpriv123")), {
        "host": "127.0.0.1", "port": agent.port, "min_minutes": 120, "timeout_s": 1.0,
        "retries": 1}, deadline_s=5.0)
    assert outcome.status == Status.ERROR
    assert elapsed < 5.0
    assert outcome.measured["snmp_error"] == "wrong_priv_key"
    assert "privacy key" in outcome.message.en and "加密密钥" in outcome.message.zh


# ---------------------------------------------------------------- the switch's view script


def test_passpersist_script_protocol(tmp_path: Path) -> None:
    sys.path.insert(0, str(HERE))
    try:
        import snmp_passpersist_switch as script
    finally:
        sys.path.remove(str(HERE))
    config = tmp_path / "switch.json"
    config.write_text(json.dumps({
        "ports": {"gi1": {"bridge_port": 1, "if_index": 9001},
                  "gi2": {"bridge_port": 2, "if_index": 9002}},
        "fdb": {"02:00:00:00:00:0a": "gi2"},
        "speeds_mbps": {"gi2": 100},
    }))
    view = script.SwitchView(config, (1, 3, 6, 1, 2, 1))
    out = io.StringIO()
    script.serve(view, io.StringIO(
        "PING\n"
        f"get\n.{o.DOT1D_TP_FDB_PORT}.2.0.0.0.0.10\n"
        f"getnext\n.{o.DOT1D_BASE_PORT_IFINDEX}\n"
        f"get\n.{o.IF_HIGH_SPEED}.9002\n"
        f"get\n.{o.IF_HIGH_SPEED}.424242\n"
        "set\n.1.3.6.1.2.1.17.1.2.0\ninteger 5\n"), out)
    assert out.getvalue().splitlines() == [
        "PONG",
        f".{o.DOT1D_TP_FDB_PORT}.2.0.0.0.0.10", "integer", "2",
        f".{o.DOT1D_BASE_PORT_IFINDEX}.1", "integer", "9001",
        f".{o.IF_HIGH_SPEED}.9002", "gauge", "100",
        "NONE",
        "not-writable",
    ]


# ---------------------------------------------------------------- the switch, in a namespace

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def in_netns(ns: str, fn: Callable[[], T]) -> T:
    """Run `fn` on a thread that has entered network namespace `ns` (only that thread)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns {ns}: {os.strerror(err)}")
            finally:
                os.close(fd)
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


SEAT_A, SEAT_B, SEAT_C, HUB_PEER = ("02:52:44:00:00:0a", "02:52:44:00:00:0b",
                                    "02:52:44:00:00:0c", "02:52:44:00:00:cc")
SEAT_OFF = "02:52:44:00:00:0f"


class SwitchLab:
    """A namespace with bridge br0 and ports swp1..swp4 (veth; swp4's far end is down).

    Seat A is on swp1 (1000), B on swp2 (declared 100 Mbit/s), C on swp3 (1000) behind a
    small hub (a second MAC on the port); swp4 is unplugged.
    """

    def __init__(self) -> None:
        self.ns = f"rdyt{os.getpid()}-snmpsw"
        self.folder = Path(tempfile.mkdtemp(prefix="rdy-snmpsw-"))
        self.config = self.folder / "switch.json"
        self.agent: Snmpd | None = None

    def up(self) -> None:
        lines = ["link set lo up", "link add br0 type bridge stp_state 0"]
        # The far ends are the seats' NICs: whatever they send is learned under their MAC.
        far_macs = [SEAT_A, SEAT_B, SEAT_C, "02:52:44:00:00:04"]
        for i, mac in enumerate(far_macs, start=1):
            lines += [f"link add swp{i} type veth peer name far{i} address {mac}",
                      f"link set swp{i} master br0 up"]
            if i != 4:
                lines.append(f"link set far{i} up")
        lines.append("link set br0 up")
        subprocess.run(["ip", "netns", "add", self.ns], check=True, capture_output=True)
        subprocess.run(["ip", "-n", self.ns, "-batch", "-"], input="\n".join(lines) + "\n",
                       text=True, check=True, capture_output=True)
        fdb = [(SEAT_A, "swp1"), (SEAT_B, "swp2"), (SEAT_C, "swp3"), (HUB_PEER, "swp3")]
        subprocess.run(["ip", "netns", "exec", self.ns, "bridge", "-batch", "-"],
                       input="".join(f"fdb replace {mac} dev {dev} master static\n"
                                     for mac, dev in fdb),
                       text=True, check=True, capture_output=True)
        self.set_speeds({"swp1": 1000, "swp2": 100, "swp3": 1000, "swp4": 1000})
        py, script, conf = sys.executable, SWITCH_SCRIPT, self.config
        self.agent = Snmpd([
            "sysName room-switch",
            f"pass_persist .1.3.6.1.2.1.17 {py} {script} {conf} .1.3.6.1.2.1.17",
            f"pass_persist -p 1 .{o.IF_HIGH_SPEED} {py} {script} {conf} .{o.IF_HIGH_SPEED}",
            f"pass_persist -p 1 .{o.IF_SPEED} {py} {script} {conf} .{o.IF_SPEED}",
        ], netns=self.ns, port=161)

    def set_speeds(self, speeds: dict[str, int]) -> None:
        self.config.write_text(json.dumps({"bridge": "br0", "speeds_mbps": speeds}))
        # The script re-reads on a changed mtime; make sure a quick rewrite changes it.
        now = time.time()
        os.utime(self.config, (now, now + secrets.randbelow(1000) / 1000 + 0.001))

    def down(self) -> None:
        if self.agent is not None:
            self.agent.stop()
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)

    def probe(self, fn: Any, params: dict[str, Any], deadline_s: float = 8.0) -> ProbeOutcome:
        return in_netns(self.ns, lambda: _run(fn(
            {"host": "127.0.0.1", "switch": "127.0.0.1", **params}, deadline_s)))


@pytest.fixture(scope="module")
def switch() -> Iterator[SwitchLab]:
    reason = ""
    if os.geteuid() != 0:
        reason = "the switch test needs root (ip netns, bridge)"
    elif not shutil.which("ip") or not shutil.which("bridge"):
        reason = "the switch test needs iproute2's ip and bridge"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    _need("snmpd")
    lab = SwitchLab()
    try:
        lab.up()
        yield lab
    finally:
        lab.down()


SEATS = {"A01": SEAT_A, "A02": SEAT_B.upper().replace(":", "-"), "A03": SEAT_C,
         "A04": SEAT_OFF}


@pytest.mark.lab
def test_seat_on_a_100_mbit_port_is_found(switch: SwitchLab) -> None:
    outcome = switch.probe(_port_speed_probe(_v3()),
                           {"seats": SEATS, "required_class": "gigabit"})
    seats = outcome.measured["seats"]
    assert seats["A01"]["port"] == "swp1" and seats["A01"]["speed_mbps"] == 1000
    assert seats["A02"]["port"] == "swp2" and seats["A02"]["speed_mbps"] == 100
    assert seats["A02"]["oper_status"] == "up" and seats["A02"]["mac"] == SEAT_B
    assert seats["A03"]["macs_on_port"] == 2
    assert seats["A04"] is None
    # bridge port numbers are not ifIndexes: the mapping went through dot1dBasePortIfIndex
    assert seats["A01"]["bridge_port"] == 1 and seats["A01"]["if_index"] != 1
    assert outcome.measured["fdb_source"] == "BRIDGE-MIB"
    assert outcome.status == Status.FAIL
    assert outcome.message.en.startswith("seat A02's switch port swp2 runs at 100 Mbit/s")
    assert "another switch or hub" in outcome.message.en
    assert "not in 127.0.0.1's MAC address table" in outcome.message.en
    assert "100 Mbit/s" in outcome.message.zh

    # cbec: 100M is the minimum, gigabit the recommendation -> warn
    lenient = switch.probe(_port_speed_probe(_v2c()),
                           {"seats": {"A02": SEAT_B}, "required_class": "fast_ethernet"})
    assert lenient.status == Status.WARN, lenient.message.en

    # the cable is replaced: the declared speed changes and the switch's view follows
    switch.set_speeds({"swp1": 1000, "swp2": 1000, "swp3": 1000, "swp4": 1000})
    fixed = switch.probe(_port_speed_probe(_v2c()),
                         {"seats": {"A01": SEAT_A, "A02": SEAT_B}})
    switch.set_speeds({"swp1": 1000, "swp2": 100, "swp3": 1000, "swp4": 1000})
    assert fixed.status == Status.PASS, fixed.message.en
    assert "all 2 seats" in fixed.message.en


@pytest.mark.lab
def test_switch_interfaces_and_error_counters(switch: SwitchLab) -> None:
    outcome = switch.probe(_interfaces_probe(_v3()), {
        "ports": ["swp1", "swp2", "swp4"], "interval_s": 0.6, "required_class": "gigabit"})
    ports = outcome.measured["ports"]
    assert ports["swp1"]["oper_status"] == "up" and ports["swp1"]["speed_mbps"] == 1000
    assert ports["swp2"]["speed_mbps"] == 100
    assert ports["swp4"]["oper_status"] != "up"
    assert ports["swp1"]["in_errors_delta"] == 0  # read twice, 0.6 s apart
    assert outcome.measured["interval_s"] == pytest.approx(0.6, abs=0.05)
    assert outcome.status == Status.FAIL
    assert "port swp4 of 127.0.0.1 is" in outcome.message.en
    assert "port swp2 of 127.0.0.1 runs at 100 Mbit/s" in outcome.message.en


def test_seat_probe_without_fdb_is_an_error(agent: Snmpd) -> None:
    # plain snmpd has no BRIDGE-MIB: an unmanaged-looking switch
    outcome, _ = _probe(_port_speed_probe(_v2c()), {
        "host": "127.0.0.1", "switch": "127.0.0.1", "port": agent.port,
        "seats": {"A01": SEAT_A}})
    assert outcome.status == Status.ERROR
    assert "publishes no MAC address table" in outcome.message.en


# ---------------------------------------------------------------- pure logic


def test_counter_delta_wraps_and_ignores_resets() -> None:
    assert dev._counter_delta(10, 15) == 5
    assert dev._counter_delta(2**32 - 2, 3) == 5
    assert dev._counter_delta(5_000_000, 3) is None  # counters reset, not 4 billion errors
    assert dev._counter_delta(None, 3) is None


def test_mac_forms() -> None:
    for form in ("02:52:44:00:00:0A", "02-52-44-00-00-0a", "0252.4400.000a"):
        assert dev.normalize_mac(form) == "02:52:44:00:00:0a"
    with pytest.raises(ValueError):
        dev.normalize_mac("02:52:44:00:00")


def test_too_short_a_deadline_is_an_error_at_once() -> None:
    outcome, elapsed = _probe(_ups_probe(_v2c()),
                              {"host": "127.0.0.1", "min_minutes": 120}, deadline_s=0.3)
    assert outcome.status == Status.ERROR and "too short" in outcome.message.en
    assert elapsed < 0.1


@pytest.mark.parametrize("kind", dev.KINDS, ids=lambda kind: kind.probe)
def test_a_parameter_left_out_or_wrong_is_an_error_naming_it(kind: Any) -> None:
    # a planner's mistake is the check's error, never an exception out of the probe
    given = {"host": "127.0.0.1", "switch": "127.0.0.1", "name": "ups", "snmp_version": "2c",
             "seats": {"A01": SEAT_A}}
    whole = probe_params.snmp(kind.probe, **{k: v for k, v in given.items() if kind.param(k)})
    assert kind.problems(whole) == []
    community = {"community": Secret(COMMUNITY, "secret:test_community")}
    # the port-speed probe reads the switch at `switch`, or at `host` when it has none
    either = ("host", "switch") if kind.probe == "snmp_port_speed" else ()
    for name in [p.name for p in kind.params if not p.optional and p.name not in either]:
        # a number that is not one is as wrong as none
        wrongs = (None, "many") if isinstance(whole[name], int | float) else (None,)
        for wrong in wrongs:
            params = {**whole, name: wrong}
            outcome = _run(kind.run(params, 2.0, community))
            assert outcome.status == Status.ERROR, (name, wrong)
            assert repr(name) in outcome.message.en and repr(name) in outcome.message.zh, \
                outcome.message.en
