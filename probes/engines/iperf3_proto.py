"""The iperf3 3.12 control protocol, as bytes and dicts: no sockets, no threads, no clocks.

One control connection carries single signed state bytes and JSON messages framed by a
4-byte big-endian length. Data connections open with the same 37-byte cookie as the
control connection. Everything a peer sends is untrusted: each decoder here either
returns a well-formed value or raises `ProtocolError`, never another exception, so the
client and the server can turn any malformed input into one clear line.
"""

from __future__ import annotations

import json
import math
import secrets
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

DEFAULT_PORT = 5201
COOKIE_SIZE = 37  # 36 characters and the NUL that 3.12 sends with them
COOKIE_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
# iperf3 3.12 has no limit at all (CVE-2023-38403); the largest legitimate message, the
# results of 128 streams, is about 20 KiB.
MAX_JSON_LEN = 64 * 1024
JSON_HEADER_SIZE = 4
CLIENT_VERSION = "3.12"

# iperf3's own limits (iperf.h), so a peer cannot ask for more than stock iperf3 would.
MAX_TIME_S = 86400
MAX_STREAMS = 128
MAX_BLOCKSIZE = 1024 * 1024
DEFAULT_TCP_BLOCKSIZE = 128 * 1024

_UINT64 = 1 << 64


class ProtocolError(Exception):
    """The peer sent something iperf3 3.12 would not: the message says what."""


class State(IntEnum):
    TEST_START = 1
    TEST_RUNNING = 2
    TEST_END = 4
    PARAM_EXCHANGE = 9
    CREATE_STREAMS = 10
    SERVER_TERMINATE = 11
    CLIENT_TERMINATE = 12
    EXCHANGE_RESULTS = 13
    DISPLAY_RESULTS = 14
    IPERF_START = 15
    IPERF_DONE = 16
    ACCESS_DENIED = -1
    SERVER_ERROR = -2


class ErrorCode(IntEnum):
    """The i_errno values this project sends or explains (iperf_api.h)."""

    IEDURATION = 5
    IENUMSTREAMS = 6
    IEBLOCKSIZE = 7
    IEOMIT = 12
    IEUNIMP = 13
    IEINITTEST = 101
    IECTRLCLOSE = 109
    IEMESSAGE = 110
    IERECVPARAMS = 114
    IERECVRESULTS = 117
    IESERVERTERM = 120
    IEACCESSDENIED = 121
    IENOMSG = 144
    IESTREAMACCEPT = 203
    IESTREAMID = 208


# The words stock iperf3 prints for these codes (iperf_error.c), so our messages match.
ERROR_TEXT = {
    ErrorCode.IEDURATION: f"test duration too long (maximum = {MAX_TIME_S} seconds)",
    ErrorCode.IENUMSTREAMS: f"number of parallel streams too large (maximum = {MAX_STREAMS})",
    ErrorCode.IEBLOCKSIZE: f"block size too large (maximum = {MAX_BLOCKSIZE} bytes)",
    ErrorCode.IEOMIT: "bogus value for --omit",
    ErrorCode.IEUNIMP: "an option you are trying to set is not implemented yet",
    ErrorCode.IEINITTEST: "test initialization failed",
    ErrorCode.IECTRLCLOSE: "control socket has closed unexpectedly",
    ErrorCode.IEMESSAGE: "received an unknown control message",
    ErrorCode.IERECVPARAMS: "unable to receive parameters from client",
    ErrorCode.IERECVRESULTS: "unable to receive results",
    ErrorCode.IESERVERTERM: "the server has terminated",
    ErrorCode.IEACCESSDENIED: "the server is busy running a test. try again later",
    ErrorCode.IENOMSG: "idle timeout for receiving data",
    ErrorCode.IESTREAMACCEPT: "unable to accept stream connection",
    ErrorCode.IESTREAMID: "stream has an invalid id",
}


def error_text(code: int) -> str:
    try:
        return ERROR_TEXT[ErrorCode(code)]
    except (ValueError, KeyError):
        return f"iperf3 error {code}"


# --- cookie -----------------------------------------------------------------------------

def make_cookie() -> bytes:
    """A fresh cookie as sent on the wire (36 characters + NUL)."""
    text = "".join(secrets.choice(COOKIE_ALPHABET) for _ in range(COOKIE_SIZE - 1))
    return text.encode("ascii") + b"\0"


def parse_cookie(raw: bytes) -> str:
    """The 36 cookie characters, or ProtocolError for anything 3.12 would not send."""
    if len(raw) != COOKIE_SIZE:
        raise ProtocolError(f"a cookie of {len(raw)} bytes (expected {COOKIE_SIZE})")
    if raw[-1] != 0:
        raise ProtocolError("a cookie without its terminating NUL")
    body = raw[:-1]
    if any(chr(b) not in COOKIE_ALPHABET for b in body):
        raise ProtocolError("a cookie with characters iperf3 never uses")
    return body.decode("ascii")


# --- state bytes ------------------------------------------------------------------------

def encode_state(state: State) -> bytes:
    return struct.pack("b", int(state))


def decode_state(raw: bytes) -> State:
    if len(raw) != 1:
        raise ProtocolError(f"a state of {len(raw)} bytes (expected 1)")
    value = struct.unpack("b", raw)[0]
    try:
        return State(value)
    except ValueError:
        raise ProtocolError(f"an unknown state byte {value}") from None


def encode_server_error(code: int, os_errno: int = 0) -> bytes:
    """SERVER_ERROR and the two big-endian int32 that follow it (i_errno, errno)."""
    return encode_state(State.SERVER_ERROR) + struct.pack("!ii", code, os_errno)


def decode_server_error(raw: bytes) -> tuple[int, int]:
    if len(raw) != 8:
        raise ProtocolError(f"a SERVER_ERROR body of {len(raw)} bytes (expected 8)")
    code, os_errno = struct.unpack("!ii", raw)
    return code, os_errno


# --- JSON framing -----------------------------------------------------------------------

def encode_json(message: dict[str, Any], limit: int = MAX_JSON_LEN) -> bytes:
    body = json.dumps(message, separators=(",", ":"), allow_nan=False).encode("utf-8")
    if len(body) > limit:
        raise ProtocolError(f"a JSON message of {len(body)} bytes (limit {limit})")
    return struct.pack("!I", len(body)) + body


def decode_json_length(header: bytes, limit: int = MAX_JSON_LEN) -> int:
    if len(header) != JSON_HEADER_SIZE:
        raise ProtocolError(f"a JSON length of {len(header)} bytes (expected 4)")
    length = struct.unpack("!I", header)[0]
    if length > limit:
        raise ProtocolError(f"a JSON length of {length} (limit {limit})")
    if length == 0:
        raise ProtocolError("an empty JSON message")
    return int(length)


def _no_constants(name: str) -> Any:
    raise ProtocolError(f"a JSON message with {name}")


def decode_json_body(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
        value = json.loads(text, parse_constant=_no_constants)
    except ProtocolError:
        raise
    # ValueError covers bad JSON, bad UTF-8 and integers too long to convert;
    # RecursionError covers absurdly deep nesting.
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"a message that is not JSON ({type(exc).__name__})") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"a JSON {type(value).__name__} where an object was expected")
    return value


def decode_json(frame: bytes, limit: int = MAX_JSON_LEN) -> dict[str, Any]:
    """A whole frame (length + JSON): truncated or over-long frames are errors."""
    length = decode_json_length(frame[:JSON_HEADER_SIZE], limit)
    body = frame[JSON_HEADER_SIZE:]
    if len(body) != length:
        raise ProtocolError(f"a JSON message of {len(body)} bytes where the length said "
                            f"{length}")
    return decode_json_body(body)


# --- field readers ------------------------------------------------------------------------

def _signed64(value: int) -> int:
    # 3.12 prints int64 through PRIu64: -1 arrives as 18446744073709551615.
    return value - _UINT64 if (1 << 63) <= value < _UINT64 else value


def _int(obj: dict[str, Any], key: str, default: int | None = None, *,
         low: int | None = None, high: int | None = None) -> int:
    # Messages read after "<peer> sent ...", hence the noun phrases.
    if key not in obj:
        if default is None:
            raise ProtocolError(f"a message without {key!r}")
        return default
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(f"a non-numeric {key!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ProtocolError(f"a non-finite {key!r}")
        value = int(value)  # cJSON's valueint truncates the same way
    value = _signed64(value)
    if (low is not None and value < low) or (high is not None and value > high):
        allowed = f"{low}..{high}" if high is not None else f"at least {low}"
        raise ProtocolError(f"a {key!r} of {value} (allowed {allowed})")
    return value


def _float(obj: dict[str, Any], key: str, default: float | None = None) -> float:
    if key not in obj:
        if default is None:
            raise ProtocolError(f"a message without {key!r}")
        return default
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(f"a non-numeric {key!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ProtocolError(f"a non-finite {key!r}")
    return result


def _str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"a non-string {key!r}")
    return value


# --- parameters (client -> server) ------------------------------------------------------------

# Keys 3.12 reads as flags: present means on, whatever the value ("reverse": false is on).
_FLAG_KEYS = ("tcp", "udp", "sctp", "reverse", "bidirectional", "nodelay",
              "get_server_output", "udp_counters_64bit", "repeating_payload")


@dataclass(frozen=True)
class TestParams:
    __test__ = False  # not a pytest class, whatever its name says

    protocol: str = "tcp"
    time_s: int = 10
    omit_s: int = 0
    num_bytes: int = 0
    block_count: int = 0
    parallel: int = 1
    block_size: int = DEFAULT_TCP_BLOCKSIZE
    reverse: bool = False
    bidirectional: bool = False
    window: int = 0
    bandwidth_bps: int = 0
    mss: int = 0
    nodelay: bool = False
    pacing_timer: int = 1000
    get_server_output: bool = False
    congestion: str | None = None
    client_version: str | None = CLIENT_VERSION

    def to_message(self) -> dict[str, Any]:
        """The dict a 3.12 client sends, keys in its order, optional keys only when set."""
        msg: dict[str, Any] = {self.protocol: True, "omit": self.omit_s, "time": self.time_s,
                               "num": self.num_bytes, "blockcount": self.block_count}
        if self.mss:
            msg["MSS"] = self.mss
        if self.nodelay:
            msg["nodelay"] = True
        msg["parallel"] = self.parallel
        if self.reverse:
            msg["reverse"] = True
        if self.bidirectional:
            msg["bidirectional"] = True
        if self.window:
            msg["window"] = self.window
        msg["len"] = self.block_size
        if self.bandwidth_bps:
            msg["bandwidth"] = self.bandwidth_bps
        if self.pacing_timer:
            msg["pacing_timer"] = self.pacing_timer
        if self.congestion:
            msg["congestion"] = self.congestion
        if self.get_server_output:
            msg["get_server_output"] = 1
        if self.client_version:
            msg["client_version"] = self.client_version
        return msg


def parse_params(obj: Any) -> TestParams:
    if not isinstance(obj, dict):
        raise ProtocolError("parameters that are not a JSON object")
    protocols = [p for p in ("tcp", "udp", "sctp") if p in obj]
    # 3.12 applies them in this order, so the last one present wins.
    protocol = protocols[-1] if protocols else "tcp"
    time_s = _int(obj, "time", 10, low=0, high=MAX_TIME_S)
    return TestParams(
        protocol=protocol,
        time_s=time_s,
        omit_s=_int(obj, "omit", 0, low=0, high=MAX_TIME_S),
        num_bytes=_int(obj, "num", 0, low=0),
        block_count=_int(obj, "blockcount", 0, low=0),
        parallel=_int(obj, "parallel", 1, low=1, high=MAX_STREAMS),
        block_size=_int(obj, "len", DEFAULT_TCP_BLOCKSIZE, low=1, high=MAX_BLOCKSIZE),
        reverse="reverse" in obj,
        bidirectional="bidirectional" in obj,
        window=_int(obj, "window", 0, low=0, high=1 << 31),
        bandwidth_bps=_int(obj, "bandwidth", 0, low=0),
        mss=_int(obj, "MSS", 0, low=0, high=1 << 16),
        nodelay="nodelay" in obj,
        pacing_timer=_int(obj, "pacing_timer", 1000, low=0),
        get_server_output="get_server_output" in obj,
        congestion=_str(obj, "congestion"),
        client_version=_str(obj, "client_version"),
    )


# --- results (both ways at the end of a test) ------------------------------------------------

@dataclass(frozen=True)
class StreamReport:
    id: int
    bytes: int
    retransmits: int | None = None  # None: the sender could not count them (-1 on the wire)
    jitter: float = 0.0
    errors: int = 0
    packets: int = 0
    start_time: float | None = 0.0
    end_time: float | None = None

    @property
    def seconds(self) -> float:
        if self.start_time is None or self.end_time is None:
            return 0.0
        return max(0.0, self.end_time - self.start_time)

    def to_message(self) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "id": self.id, "bytes": self.bytes,
            "retransmits": -1 if self.retransmits is None else self.retransmits,
            "jitter": self.jitter, "errors": self.errors, "packets": self.packets,
        }
        if self.start_time is not None and self.end_time is not None:
            msg["start_time"] = self.start_time
            msg["end_time"] = self.end_time
        return msg


@dataclass(frozen=True)
class Results:
    cpu_util_total: float
    cpu_util_user: float
    cpu_util_system: float
    # 1 counted, 0 could not count, -1 this side was only receiving
    sender_has_retransmits: int
    streams: tuple[StreamReport, ...] = ()
    congestion_used: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_message(self) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "cpu_util_total": self.cpu_util_total, "cpu_util_user": self.cpu_util_user,
            "cpu_util_system": self.cpu_util_system,
            "sender_has_retransmits": self.sender_has_retransmits,
        }
        if self.congestion_used:
            msg["congestion_used"] = self.congestion_used
        msg.update(self.extra)
        msg["streams"] = [s.to_message() for s in self.streams]
        return msg


def _parse_stream(obj: Any) -> StreamReport:
    if not isinstance(obj, dict):
        raise ProtocolError("a stream result that is not a JSON object")
    retransmits = _int(obj, "retransmits")
    has_times = "start_time" in obj and "end_time" in obj
    return StreamReport(
        id=_int(obj, "id", low=1, high=(1 << 31) - 1),
        bytes=_int(obj, "bytes", low=0),
        retransmits=retransmits if retransmits >= 0 else None,
        jitter=_float(obj, "jitter"),
        errors=_int(obj, "errors"),
        packets=_int(obj, "packets"),
        start_time=_float(obj, "start_time") if has_times else None,
        end_time=_float(obj, "end_time") if has_times else None,
    )


def parse_results(obj: Any) -> Results:
    if not isinstance(obj, dict):
        raise ProtocolError("results that are not a JSON object")
    streams_obj = obj.get("streams")
    if not isinstance(streams_obj, list):
        raise ProtocolError("results without a 'streams' list")
    if len(streams_obj) > MAX_STREAMS * 2:
        raise ProtocolError(f"results for {len(streams_obj)} streams")
    streams = tuple(_parse_stream(s) for s in streams_obj)
    ids = [s.id for s in streams]
    if len(set(ids)) != len(ids):
        raise ProtocolError("results that name one stream twice")
    has_retransmits = _int(obj, "sender_has_retransmits")
    return Results(
        cpu_util_total=_float(obj, "cpu_util_total"),
        cpu_util_user=_float(obj, "cpu_util_user"),
        cpu_util_system=_float(obj, "cpu_util_system"),
        sender_has_retransmits=max(-1, min(1, has_retransmits)),
        streams=streams,
        congestion_used=_str(obj, "congestion_used"),
    )


def stream_ids(count: int) -> list[int]:
    """The ids 3.12 gives its streams in creation order: 1, 3, 4, 5, ..."""
    return [1] + list(range(3, count + 2)) if count > 0 else []
