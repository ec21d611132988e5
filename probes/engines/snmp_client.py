"""A small async SNMP client over pysnmp 7 (asyncio), made for probes.

What it adds to pysnmp:
- every call is bounded by a deadline of the caller's, not only by pysnmp's per-try
  timeout (a v3 request is a discovery plus the request, each with its own retries);
- failures become a few exceptions with a bilingual, actionable message. SNMP hides
  most credential mistakes behind silence (a wrong community or a wrong v3 privacy
  key is just no answer), so after a silent first request the client asks the agent
  one more question to tell "nobody there" from "someone there who rejects us";
- credentials are `Secret`s, revealed only where pysnmp is handed them. No message,
  log line or exception carries them, and any foreign error text is scrubbed of them.

Use a `SnmpSession` for several requests to one agent (one engine, one v3 discovery),
or the one-shot `get()` / `walk()`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal

from pyasn1.type import univ
from pysnmp.error import PySnmpError
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    bulk_cmd,
    get_cmd,
    usm3DESEDEPrivProtocol,
    usmAesBlumenthalCfb192Protocol,
    usmAesBlumenthalCfb256Protocol,
    usmAesCfb128Protocol,
    usmAesCfb192Protocol,
    usmAesCfb256Protocol,
    usmDESPrivProtocol,
    usmHMAC128SHA224AuthProtocol,
    usmHMAC192SHA256AuthProtocol,
    usmHMAC256SHA384AuthProtocol,
    usmHMAC384SHA512AuthProtocol,
    usmHMACMD5AuthProtocol,
    usmHMACSHAAuthProtocol,
)
from pysnmp.proto import errind, rfc1902, rfc1905

from readiness.redact import Secret, scrub_values
from readiness.results import Text

from .snmp_oids import SYS_UPTIME, oid_text, oid_tuple

log = logging.getLogger(__name__)

Oid = tuple[int, ...]

AUTH_PROTOCOLS = {
    "MD5": usmHMACMD5AuthProtocol,
    "SHA": usmHMACSHAAuthProtocol,
    "SHA224": usmHMAC128SHA224AuthProtocol,
    "SHA256": usmHMAC192SHA256AuthProtocol,
    "SHA384": usmHMAC256SHA384AuthProtocol,
    "SHA512": usmHMAC384SHA512AuthProtocol,
}
# AES192/AES256 extend a short (SHA-1/MD5) localized key the way net-snmp and most
# switches do (Blumenthal draft); the "C" variants are Cisco's (Reeder draft). With a
# SHA-1 auth key the two differ, and the wrong one is a silent timeout.
PRIV_PROTOCOLS = {
    "DES": usmDESPrivProtocol,
    "3DES": usm3DESEDEPrivProtocol,
    "AES": usmAesCfb128Protocol,
    "AES128": usmAesCfb128Protocol,
    "AES192": usmAesBlumenthalCfb192Protocol,
    "AES256": usmAesBlumenthalCfb256Protocol,
    "AES192C": usmAesCfb192Protocol,
    "AES256C": usmAesCfb256Protocol,
}
# RFC 3414 11.2: pass phrases shorter than 8 characters are refused by agents.
MIN_KEY_CHARS = 8

DEFAULT_TIMEOUT_S = 2.0
DEFAULT_RETRIES = 1
DEFAULT_MAX_ROWS = 10_000
# GETBULK repetitions: 25 rows of FDB or ifTable fit one 1500-byte datagram.
MAX_REPETITIONS = 25
# Varbinds per GET: keeps a response under the agent's default maximum message size.
MAX_VARBINDS_PER_GET = 24
# A diagnosis after a silent first request needs only one round trip on a LAN.
DIAGNOSIS_MAX_S = 1.0
# A LAN agent answers in milliseconds: after this much silence, start building the
# spare engine a v3 diagnosis needs (0.15-0.3 s of MIB loading), so that it is ready
# when the request times out instead of eating the time left for the diagnosis.
SPARE_ENGINE_AFTER_S = 0.25
# Below this a diagnosis cannot even be sent and answered.
MIN_DIAGNOSIS_S = 0.05
# A user name that no agent has: the agent's "unknown user" report proves it is alive.
DISCOVERY_USER = "readiness-discovery"

ERROR_STATUS_NO_SUCH_NAME = 2
ERROR_STATUS_NO_ACCESS = 6
ERROR_STATUS_AUTHORIZATION = 16


class _Missing:
    """The value of an OID the agent does not have (noSuchObject / noSuchInstance)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


# ---------------------------------------------------------------- credentials


class SnmpCredentials:
    """SNMPv2c community, or SNMPv3 USM user with optional auth and privacy keys.

    The text form names the user and protocols, never a community or key.
    """

    __slots__ = (
        "version",
        "community",
        "user",
        "auth_protocol",
        "auth_key",
        "priv_protocol",
        "priv_key",
    )

    def __init__(
        self,
        version: Literal["2c", "3"],
        *,
        community: Secret | None = None,
        user: str | None = None,
        auth_protocol: str = "SHA",
        auth_key: Secret | None = None,
        priv_protocol: str = "AES",
        priv_key: Secret | None = None,
    ):
        for name, value in (("community", community), ("auth_key", auth_key),
                            ("priv_key", priv_key)):
            # A plain string would end up in reprs and tracebacks: insist on Secret.
            if value is not None and not isinstance(value, Secret):
                raise TypeError(f"SNMP {name} must be a Secret, not {type(value).__name__}")
        if version == "2c":
            if community is None:
                raise ValueError("SNMPv2c needs a community")
        elif version == "3":
            if not user:
                raise ValueError("SNMPv3 needs a user name")
            auth_protocol = auth_protocol.upper().replace("-", "")
            priv_protocol = priv_protocol.upper().replace("-", "")
            if auth_protocol not in AUTH_PROTOCOLS:
                raise ValueError(f"SNMPv3 auth protocol {auth_protocol!r} is not one of "
                                 f"{', '.join(AUTH_PROTOCOLS)}")
            if priv_protocol not in PRIV_PROTOCOLS:
                raise ValueError(f"SNMPv3 privacy protocol {priv_protocol!r} is not one of "
                                 f"{', '.join(PRIV_PROTOCOLS)}")
            if priv_key is not None and auth_key is None:
                raise ValueError("SNMPv3 privacy needs authentication too (an auth_key)")
            for what, key in (("auth", auth_key), ("privacy", priv_key)):
                if key is not None and len(key.reveal()) < MIN_KEY_CHARS:
                    raise ValueError(
                        f"the SNMPv3 {what} key of user {user!r} ({key.ref}) is shorter than "
                        f"{MIN_KEY_CHARS} characters; agents refuse such keys (RFC 3414)")
        else:
            raise ValueError(f"SNMP version must be '2c' or '3', not {version!r}")
        self.version = version
        self.community = community
        self.user = user
        self.auth_protocol = auth_protocol
        self.auth_key = auth_key
        self.priv_protocol = priv_protocol
        self.priv_key = priv_key

    @classmethod
    def v2c(cls, community: Secret) -> SnmpCredentials:
        return cls("2c", community=community)

    @classmethod
    def v3(cls, user: str, auth_key: Secret | None = None, priv_key: Secret | None = None,
           *, auth_protocol: str = "SHA", priv_protocol: str = "AES") -> SnmpCredentials:
        return cls("3", user=user, auth_key=auth_key, priv_key=priv_key,
                   auth_protocol=auth_protocol, priv_protocol=priv_protocol)

    @property
    def security_level(self) -> str:
        if self.version == "2c":
            return "community"
        if self.priv_key is not None:
            return "authPriv"
        return "authNoPriv" if self.auth_key is not None else "noAuthNoPriv"

    def describe(self) -> str:
        """What a report may say about the credentials used: no secret in it."""
        if self.version == "2c":
            return "SNMPv2c (community)"
        level = self.security_level
        protocols = {
            "authPriv": f" {self.auth_protocol}/{self.priv_protocol}",
            "authNoPriv": f" {self.auth_protocol}",
        }.get(level, "")
        return f"SNMPv3 user {self.user} ({level}{protocols})"

    def __repr__(self) -> str:
        return f"SnmpCredentials({self.describe()})"

    __str__ = __repr__

    def secret_values(self) -> list[str]:
        return [s.reveal() for s in (self.community, self.auth_key, self.priv_key)
                if s is not None and s.reveal()]

    def auth_data(self, *, without_privacy: bool = False) -> CommunityData | UsmUserData:
        """pysnmp's auth object: the one place the secrets are revealed."""
        if self.version == "2c":
            assert self.community is not None
            return CommunityData(self.community.reveal(), mpModel=1)
        assert self.user is not None
        if self.auth_key is None:
            return UsmUserData(self.user)
        if self.priv_key is None or without_privacy:
            return UsmUserData(self.user, self.auth_key.reveal(),
                               authProtocol=AUTH_PROTOCOLS[self.auth_protocol])
        return UsmUserData(self.user, self.auth_key.reveal(), self.priv_key.reveal(),
                           authProtocol=AUTH_PROTOCOLS[self.auth_protocol],
                           privProtocol=PRIV_PROTOCOLS[self.priv_protocol])


# ---------------------------------------------------------------- errors


class SnmpError(Exception):
    """An SNMP request failed; `text` says why and what to do, in both languages."""

    reason = "error"

    def __init__(self, target: str, text: Text, *, reason: str | None = None):
        super().__init__(text.en)
        self.target = target
        self.text = text
        if reason is not None:
            self.reason = reason


class SnmpTimeout(SnmpError):
    """No answer within the deadline (no agent, a firewall, or silent rejection)."""

    reason = "timeout"


class SnmpAuthError(SnmpError):
    """The agent answered and rejected the credentials (or denies access to the OID).

    `reason`: unknown_user, wrong_auth_key, wrong_priv_key, community_rejected,
    security_level, time_window, access_denied.
    """

    reason = "auth"


class SnmpNoSuchObject(SnmpError):
    """The agent has no value at some requested OID: it lacks the MIB or hides it."""

    reason = "no_such_object"

    def __init__(self, target: str, text: Text, oids: list[str]):
        super().__init__(target, text)
        self.oids = oids


class SnmpProtocolError(SnmpError):
    """The agent answered with an SNMP error, or an answer we cannot use."""

    reason = "protocol"


def _seconds(value: float) -> str:
    return f"{round(value, 1):g}"


# ---------------------------------------------------------------- values


def to_python(value: Any) -> Any:
    """pysnmp value -> int / bytes / str / None, or MISSING for noSuchObject/Instance."""
    if isinstance(value, rfc1905.NoSuchObject | rfc1905.NoSuchInstance):
        return MISSING
    if isinstance(value, rfc1902.IpAddress):
        return str(ipaddress.IPv4Address(bytes(value)))
    if isinstance(value, univ.Integer):
        return int(value)
    if isinstance(value, univ.OctetString):
        return bytes(value)
    if isinstance(value, univ.ObjectIdentifier):
        return oid_text(tuple(value))
    return None


def as_text(value: Any) -> str | None:
    """An OCTET STRING such as sysName or ifName as text (None when absent)."""
    if value is None or value is MISSING:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace").rstrip("\x00")
    return str(value)


class Rows(list[tuple[Oid, Any]]):
    """A walk's (OID, value) rows in OID order; `truncated` when max_rows cut it short."""

    truncated: bool = False


# ---------------------------------------------------------------- session


class SnmpSession:
    """Requests to one agent with one set of credentials, all under one deadline.

    `budget_s` is the wall-clock time the whole session may take from its creation;
    each request also stops after pysnmp's own `timeout_s` x (1 + `retries`).
    """

    def __init__(self, host: str, port: int, creds: SnmpCredentials, *,
                 timeout_s: float = DEFAULT_TIMEOUT_S, retries: int = DEFAULT_RETRIES,
                 budget_s: float | None = None):
        if timeout_s <= 0 or retries < 0:
            raise ValueError("timeout_s must be positive and retries not negative")
        self.host = host
        self.port = port
        self.creds = creds
        self.timeout_s = timeout_s
        self.retries = retries
        self.target = f"{host}:{port}"
        self._started = time.monotonic()
        if budget_s is None:
            # v3: discovery and request each get their tries
            budget_s = 2 * timeout_s * (retries + 1) + 0.5
        self._deadline = self._started + budget_s
        self._engine: SnmpEngine | None = None
        self._transport: UdpTransportTarget | None = None
        self._auth: CommunityData | UsmUserData | None = None
        self._spare: asyncio.Task[SnmpEngine] | None = None
        self._answered = False

    async def __aenter__(self) -> SnmpSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._drop_spare()
        if self._engine is not None:
            # Also drops requests still pending after a cancelled await.
            self._engine.close_dispatcher()
            self._engine = None
            self._transport = None

    def remaining_s(self) -> float:
        return self._deadline - time.monotonic()

    # -- public requests

    async def get(self, oids: Iterable[str], *, allow_missing: bool = False) -> dict[str, Any]:
        """OID -> value for each of `oids` (numeric, no leading dot needed).

        A missing OID raises SnmpNoSuchObject, or maps to None with `allow_missing`.
        """
        wanted = [oid_text(oid_tuple(oid)) for oid in oids]
        values: dict[str, Any] = {}
        for start in range(0, len(wanted), MAX_VARBINDS_PER_GET):
            chunk = wanted[start:start + MAX_VARBINDS_PER_GET]
            log.debug("SNMP get %s (%s): %d OIDs", self.target, self.creds.describe(),
                      len(chunk))
            varbinds = await self._request(
                "get", lambda engine, auth, transport, chunk=chunk: get_cmd(
                    engine, auth, transport, ContextData(),
                    *(ObjectType(ObjectIdentity(oid)) for oid in chunk), lookupMib=False),
                first_oid=chunk[0])
            for oid, (_, value) in zip(chunk, varbinds, strict=False):
                values[oid] = to_python(value)
        missing = [oid for oid in wanted if values.get(oid, MISSING) is MISSING]
        if missing and not allow_missing:
            raise self._error(SnmpNoSuchObject, Text(
                f"{self.target} has no value at {', '.join(missing)}: the device does not "
                "publish this MIB object, or the SNMP view of these credentials hides it",
                f"{self.target} 在 {', '.join(missing)} 没有值：设备不提供该 MIB 对象，"
                "或当前凭据的 SNMP 视图不包含它"), missing)
        return {oid: None if values.get(oid, MISSING) is MISSING else values[oid]
                for oid in wanted}

    async def walk(self, base_oid: str, *, max_rows: int = DEFAULT_MAX_ROWS) -> Rows:
        """Every (OID, value) below `base_oid`, in order, at most `max_rows` of them.

        GETBULK from the last OID seen, stopping at the first OID outside the subtree
        (pysnmp's own walk runs on past it unless told not to, and its bulk walk
        retries a timeout forever).
        """
        base = oid_tuple(base_oid)
        rows = Rows()
        current = base
        log.debug("SNMP walk %s (%s): %s", self.target, self.creds.describe(),
                  oid_text(base))
        while True:
            repetitions = max(1, min(MAX_REPETITIONS, max_rows - len(rows)))
            varbinds = await self._request(
                "walk", lambda engine, auth, transport, start=current, n=repetitions: bulk_cmd(
                    engine, auth, transport, ContextData(), 0, n,
                    ObjectType(ObjectIdentity(oid_text(start))), lookupMib=False),
                first_oid=oid_text(current))
            if not varbinds:
                return rows
            for name, value in varbinds:
                oid = tuple(name)
                if isinstance(value, rfc1905.EndOfMibView) or oid[:len(base)] != base:
                    return rows
                if oid <= current:
                    raise self._error(SnmpProtocolError, Text(
                        f"{self.target} returned OIDs out of order while walking "
                        f"{oid_text(base)} ({oid_text(oid)} after {oid_text(current)}): "
                        "the agent is faulty; update the device's firmware",
                        f"{self.target} 遍历 {oid_text(base)} 时返回的 OID 顺序错误："
                        "SNMP 代理有缺陷，请升级设备固件"))
                rows.append((oid, to_python(value)))
                current = oid
                if len(rows) >= max_rows:
                    rows.truncated = True
                    log.info("SNMP walk of %s on %s stopped at %d rows", oid_text(base),
                             self.target, max_rows)
                    return rows

    # -- machinery

    def _scrub(self, text: str) -> str:
        return scrub_values(text, self.creds.secret_values())

    def _error(self, cls: type[SnmpError], text: Text, *args: Any,
               reason: str | None = None) -> SnmpError:
        clean = Text(self._scrub(text.en), self._scrub(text.zh))
        error = cls(self.target, clean, *args)
        if reason is not None:
            error.reason = reason
        return error

    async def _open(self) -> tuple[SnmpEngine, UdpTransportTarget]:
        if self._engine is None:
            self._engine = await _new_engine()
        if self._transport is None:
            try:
                self._transport = await UdpTransportTarget.create(
                    (self.host, self.port), timeout=self.timeout_s, retries=self.retries)
            except PySnmpError as exc:
                self.close()
                raise self._error(SnmpError, Text(
                    f"cannot use SNMP address {self.target}: {exc}; check the address in "
                    "the site file",
                    f"无法使用 SNMP 地址 {self.target}：{exc}；请检查站点配置中的地址"),
                    reason="address") from None
        return self._engine, self._transport

    async def _request(
        self, what: str,
        send: Callable[[SnmpEngine, Any, UdpTransportTarget], Awaitable[tuple[Any, ...]]],
        *, first_oid: str,
    ) -> list[tuple[Any, Any]]:
        remaining = self.remaining_s()
        if remaining <= 0:
            raise self._timeout(time.monotonic() - self._started)
        # Before the agent has ever answered, keep time to find out why it is silent.
        reserve = 0.0
        if not self._answered:
            reserve = min(self._diagnosis_s(), 0.3 * remaining)
            if self._diagnosis_needs_engine() and self._spare is None:
                self._spare = asyncio.create_task(self._spare_engine())
        sent_at = time.monotonic()
        try:
            async with asyncio.timeout(remaining - reserve):
                engine, transport = await self._open()
                if self._auth is None:
                    self._auth = self.creds.auth_data()
                indication, status, index, varbinds = await send(engine, self._auth, transport)
        except TimeoutError:
            indication, status, index, varbinds = errind.requestTimedOut, 0, 0, []
        except (OSError, PySnmpError) as exc:
            raise self._error(SnmpProtocolError, Text(
                f"SNMP {what} to {self.target} failed: {type(exc).__name__}: {exc}",
                f"向 {self.target} 发送 SNMP 请求失败：{type(exc).__name__}：{exc}")) from None
        if indication:
            raise await self._indication_error(indication, time.monotonic() - sent_at)
        self._answered = True
        self._drop_spare()
        if status:
            raise self._status_error(int(status), str(status), int(index or 0), varbinds,
                                     first_oid)
        return list(varbinds)

    def _timeout(self, waited_s: float) -> SnmpError:
        secs = _seconds(waited_s)
        if self._answered:
            # It did answer before: not a credential problem, a slow agent or a big table.
            return self._error(SnmpTimeout, Text(
                f"{self.target} answered SNMP, but stopped answering or did not finish "
                f"within {secs} s: the device is overloaded or its tables are large; "
                "check it again, or give the check more time",
                f"{self.target} 回应过 SNMP，但随后停止应答或未能在 {secs} 秒内完成：设备负载"
                "过高或表项过多；请重新检查，或为检查留出更多时间"))
        if self.creds.version == "2c":
            en_why = ("wrong community, SNMP disabled, this computer's address not allowed "
                      "by the device, or a firewall")
            zh_why = "团体名错误、SNMP 未启用、设备不允许本机地址访问，或被防火墙拦截"
        else:
            en_why = "wrong v3 key, SNMP disabled, or a firewall"
            zh_why = "SNMPv3 密钥错误、SNMP 未启用，或被防火墙拦截"
        return self._error(SnmpTimeout, Text(
            f"no SNMP answer from {self.target} within {secs} s: {en_why}. Check that SNMP "
            "is enabled on the device and allows this computer, and the credentials in "
            "the site file",
            f"{self.target} 在 {secs} 秒内没有 SNMP 应答：{zh_why}。请确认设备已启用 SNMP "
            "并允许本机访问，并核对站点配置中的凭据"))

    async def _indication_error(self, indication: Any, waited_s: float) -> SnmpError:
        user = self.creds.user
        if isinstance(indication, errind.RequestTimedOut):
            if not self._answered:
                diagnosed = await self._diagnose_silence(waited_s)
                if diagnosed is not None:
                    return diagnosed
            return self._timeout(waited_s)
        if isinstance(indication, errind.UnknownUserName):
            return self._error(SnmpAuthError, Text(
                f"{self.target} does not know SNMPv3 user {user!r}: create the user on the "
                "device, or correct `user` in the site file",
                f"{self.target} 不认识 SNMPv3 用户 {user!r}：请在设备上创建该用户，"
                "或修正站点配置中的 user"), reason="unknown_user")
        if isinstance(indication, errind.WrongDigest | errind.AuthenticationFailure
                      | errind.AuthenticationError):
            return self._error(SnmpAuthError, Text(
                f"{self.target} rejected the SNMPv3 authentication of user {user!r} (wrong "
                f"digest): the auth key or the auth protocol ({self.creds.auth_protocol}) "
                "differs from the device's; correct it in the secrets file or site file",
                f"{self.target} 拒绝了 SNMPv3 用户 {user!r} 的认证（摘要错误）：认证密钥或"
                f"认证协议（{self.creds.auth_protocol}）与设备不一致；请在密钥文件或站点配置"
                "中修正"), reason="wrong_auth_key")
        if isinstance(indication, errind.DecryptionError):
            return self._wrong_priv()
        if isinstance(indication, errind.UnsupportedSecurityLevel):
            return self._error(SnmpAuthError, Text(
                f"{self.target} does not allow security level {self.creds.security_level} "
                f"for user {user!r}: configure the user on the device with authentication "
                "and privacy (authPriv), as in the site file",
                f"{self.target} 不允许用户 {user!r} 使用 {self.creds.security_level} "
                "安全级别：请在设备上为该用户配置认证和加密（authPriv），与站点配置一致"),
                reason="security_level")
        if isinstance(indication, errind.NotInTimeWindow):
            return self._error(SnmpAuthError, Text(
                f"{self.target} keeps answering 'not in time window' to SNMPv3: the device's "
                "SNMP engine time is inconsistent; restart its SNMP service",
                f"{self.target} 对 SNMPv3 请求持续返回“不在时间窗口内”：设备的 SNMP 引擎时间"
                "异常，请重启其 SNMP 服务"), reason="time_window")
        return self._error(SnmpProtocolError, Text(
            f"SNMP error from {self.target}: {indication}",
            f"{self.target} 返回 SNMP 错误：{indication}"))

    def _wrong_priv(self) -> SnmpError:
        user = self.creds.user
        proto = self.creds.priv_protocol
        return self._error(SnmpAuthError, Text(
            f"{self.target} accepts SNMPv3 user {user!r} and its auth key but cannot decrypt "
            f"our requests: the privacy key or the privacy protocol ({proto}) differs from "
            "the device's; correct it in the secrets file or site file",
            f"{self.target} 接受 SNMPv3 用户 {user!r} 及其认证密钥，但无法解密请求：加密密钥或"
            f"加密协议（{proto}）与设备不一致；请在密钥文件或站点配置中修正"),
            reason="wrong_priv_key")

    def _diagnosis_s(self) -> float:
        # One exchange on a LAN; a caller who allows slower tries gets a slower diagnosis.
        return max(DIAGNOSIS_MAX_S, self.timeout_s)

    def _diagnosis_needs_engine(self) -> bool:
        # pysnmp keys USM users by name: the same user without privacy needs its own engine.
        return self.creds.security_level == "authPriv"

    async def _spare_engine(self) -> SnmpEngine:
        await asyncio.sleep(SPARE_ENGINE_AFTER_S)
        return await _new_engine()

    def _drop_spare(self) -> None:
        spare, self._spare = self._spare, None
        if spare is None:
            return
        if spare.done() and not spare.cancelled() and spare.exception() is None:
            spare.result().close_dispatcher()
        else:
            spare.cancel()

    async def _diagnose_silence(self, waited_s: float) -> SnmpError | None:
        """Ask the silent agent a question it answers even to wrong credentials.

        v2c: an SNMPv3 discovery (unknown user) -> a report proves an agent is there, so
        the community was ignored. v3 authPriv: the same user without privacy -> an
        answer (even "authorization error") proves user and auth key are right, so the
        privacy key or protocol is wrong; agents drop undecryptable requests silently.
        """
        if self.creds.version == "2c":
            auth: Any = UsmUserData(DISCOVERY_USER)
        elif self.creds.security_level == "authPriv":
            auth = self.creds.auth_data(without_privacy=True)
        else:
            return None
        if self.remaining_s() < MIN_DIAGNOSIS_S:
            return None
        own_engine = self._diagnosis_needs_engine() or self._engine is None
        spare, self._spare = self._spare, None
        engine: SnmpEngine | None = None if own_engine else self._engine
        try:
            async with asyncio.timeout(self.remaining_s() - MIN_DIAGNOSIS_S / 2):
                if engine is None:
                    engine = await (spare if spare is not None else _new_engine())
                # v3 needs a fresh discovery plus the request: both share this budget.
                budget = min(self._diagnosis_s(), self.remaining_s())
                transport = await UdpTransportTarget.create(
                    (self.host, self.port), timeout=budget, retries=0)
                async with asyncio.timeout(budget):
                    indication, _, _, _ = await get_cmd(
                        engine, auth, transport, ContextData(),
                        ObjectType(ObjectIdentity(SYS_UPTIME)), lookupMib=False)
        except (TimeoutError, PySnmpError, OSError):
            return None
        finally:
            if spare is not None and not spare.done():
                spare.cancel()
            if own_engine and engine is not None:
                engine.close_dispatcher()
        if isinstance(indication, errind.RequestTimedOut):
            return None
        secs = _seconds(waited_s)
        if self.creds.version == "2c":
            return self._error(SnmpAuthError, Text(
                f"{self.target} runs an SNMP agent (it answered an SNMPv3 discovery) but "
                f"ignored our SNMPv2c requests for {secs} s: the community is wrong, SNMPv2c "
                "is disabled, or the device does not allow this computer's address; check "
                "the community in the secrets file and the device's SNMP access list",
                f"{self.target} 运行着 SNMP 代理（它回应了 SNMPv3 发现请求），但 {secs} 秒内"
                "不理会我们的 SNMPv2c 请求：团体名错误、SNMPv2c 未启用，或设备不允许本机地址"
                "访问；请核对密钥文件中的团体名和设备的 SNMP 访问列表"),
                reason="community_rejected")
        if indication is None or not isinstance(
                indication, errind.WrongDigest | errind.UnknownUserName
                | errind.AuthenticationFailure):
            return self._wrong_priv()
        return None

    def _status_error(self, status: int, name: str, index: int, varbinds: Any,
                      first_oid: str) -> SnmpError:
        oid = first_oid
        if 0 < index <= len(varbinds):
            oid = oid_text(tuple(varbinds[index - 1][0]))
        if status in (ERROR_STATUS_AUTHORIZATION, ERROR_STATUS_NO_ACCESS):
            return self._error(SnmpAuthError, Text(
                f"{self.target} recognises {self.creds.describe()} but denies read access to "
                f"{oid} ({name}): the device requires a higher security level for this user "
                "(authPriv: set a privacy key), or its SNMP view for these credentials "
                "excludes the object; align the site file with the device's SNMP settings",
                f"{self.target} 识别了 {self.creds.describe()}，但拒绝读取 {oid}（{name}）："
                "设备要求该用户使用更高的安全级别（authPriv：需设置加密密钥），或这些凭据的 "
                "SNMP 视图不包含该对象；请使站点配置与设备的 SNMP 设置一致"),
                reason="access_denied")
        if status == ERROR_STATUS_NO_SUCH_NAME:
            return self._error(SnmpNoSuchObject, Text(
                f"{self.target} has no value at {oid}", f"{self.target} 在 {oid} 没有值"),
                [oid])
        return self._error(SnmpProtocolError, Text(
            f"{self.target} answered SNMP error {name} for {oid}",
            f"{self.target} 对 {oid} 返回 SNMP 错误 {name}"))


# Engines built before the run starts (prewarm), each used by one session.
_READY: list[SnmpEngine] = []
# what prewarm builds at most: about 0.15 s of CPU each on a proctor PC
MAX_PREWARMED = 8


def prewarm(count: int) -> None:
    """Build `count` engines now, before the checks start. At a run's start forty seat
    agents, the cameras and the coordinator's own checks share the proctor PC's CPUs: an
    engine built then took seconds, and its whole wait was reported as the device's
    silence (the drill's UPS, `error` in about one run in three)."""
    while len(_READY) < min(count, MAX_PREWARMED):
        _READY.append(SnmpEngine())


async def _new_engine() -> SnmpEngine:
    if _READY:
        return _READY.pop()
    # Off the event loop: building an engine is a few hundred ms of MIB loading, which
    # would stall every other probe running concurrently.
    return await asyncio.to_thread(SnmpEngine)


# ---------------------------------------------------------------- one-shot calls


async def get(host: str, port: int, creds: SnmpCredentials, oids: Iterable[str],
              timeout_s: float = DEFAULT_TIMEOUT_S, retries: int = DEFAULT_RETRIES, *,
              budget_s: float | None = None, allow_missing: bool = False) -> dict[str, Any]:
    async with SnmpSession(host, port, creds, timeout_s=timeout_s, retries=retries,
                           budget_s=budget_s) as session:
        return await session.get(oids, allow_missing=allow_missing)


async def walk(host: str, port: int, creds: SnmpCredentials, base_oid: str,
               timeout_s: float = DEFAULT_TIMEOUT_S, retries: int = DEFAULT_RETRIES, *,
               budget_s: float | None = None, max_rows: int = DEFAULT_MAX_ROWS) -> Rows:
    async with SnmpSession(host, port, creds, timeout_s=timeout_s, retries=retries,
                           budget_s=budget_s) as session:
        return await session.walk(base_oid, max_rows=max_rows)
