"""The pure-Python iperf3 engine against stock iperf3 3.12, both ways, on loopback only.

Every test server binds 127.0.0.1 on a free port; stock servers run with `-1` and are
killed at teardown. No test leaves an idle connection to a stock server: the only raw
connections made here go to our own server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from probe_params import throughput as throughput_params

from probes import throughput
from probes.engines import iperf3_io as io
from probes.engines.iperf3_client import (
    Iperf3Busy,
    Iperf3ConnectError,
    Iperf3Result,
    StreamFigures,
    run_test,
    run_test_sync,
)
from probes.engines.iperf3_proto import (
    COOKIE_ALPHABET,
    COOKIE_SIZE,
    MAX_JSON_LEN,
    ErrorCode,
    ProtocolError,
    Results,
    State,
    StreamReport,
    TestParams,
    decode_json,
    decode_server_error,
    decode_state,
    encode_json,
    encode_state,
    make_cookie,
    parse_cookie,
    parse_params,
    parse_results,
    stream_ids,
)
from probes.engines.iperf3_server import Iperf3Server
from readiness.results import Status

LOOPBACK = "127.0.0.1"
SERVER_LOG = "probes.engines.iperf3_server"
needs_iperf3 = pytest.mark.skipif(shutil.which("iperf3") is None,
                                  reason="stock iperf3 is not installed (install.sh adds it)")


# -- helpers ---------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[str]) -> None:
    # Asks the kernel rather than connecting: an idle probe connection would block a
    # stock iperf3 server.
    until = time.monotonic() + 5
    while time.monotonic() < until:
        out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True,
                             text=True, timeout=5).stdout
        if out.strip():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"stock iperf3 server did not listen on {port}")


def _stock_client(port: int, *args: str, expect_ok: bool = True) -> dict[str, Any]:
    proc = subprocess.run(["iperf3", "-c", LOOPBACK, "-p", str(port), "-J", *args],
                          capture_output=True, text=True, timeout=30)
    report = json.loads(proc.stdout)
    if expect_ok:
        assert proc.returncode == 0, report.get("error")
        assert "error" not in report
    return report


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == SERVER_LOG and r.levelno >= logging.WARNING]


@pytest.fixture
def stock_server() -> Iterator[Callable[[], tuple[int, subprocess.Popen[str]]]]:
    procs: list[subprocess.Popen[str]] = []

    def start() -> tuple[int, subprocess.Popen[str]]:
        port = _free_port()
        proc = subprocess.Popen(["iperf3", "-s", "-1", "-B", LOOPBACK, "-p", str(port), "-J"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        _wait_listening(port, proc)
        return port, proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=5)


@pytest.fixture
def server(caplog: pytest.LogCaptureFixture) -> Iterator[Iperf3Server]:
    caplog.set_level(logging.INFO, logger=SERVER_LOG)
    srv = Iperf3Server(LOOPBACK, 0, idle_timeout_s=0.6, grace_s=2).start()
    yield srv
    srv.shutdown()


class RawClient:
    """A hand-driven control connection to OUR server, for the faults stock iperf3
    never makes."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection((LOOPBACK, port), timeout=5)
        self.cookie = make_cookie()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def state(self) -> State:
        return io.read_state(self.sock, time.monotonic() + 5)

    def server_error(self) -> int:
        assert self.state() == State.SERVER_ERROR
        code, _ = decode_server_error(io.recv_exact(self.sock, 8, time.monotonic() + 5))
        return code

    def to_stream_creation(self, **params: Any) -> None:
        self.send(self.cookie)
        assert self.state() == State.PARAM_EXCHANGE
        self.send(encode_json(TestParams(time_s=1, **params).to_message()))
        assert self.state() == State.CREATE_STREAMS

    def close(self) -> None:
        self.sock.close()


def _wait_busy(server: Iperf3Server, settle_s: float = 0.3) -> None:
    """Until a test runs on `server`, then `settle_s` more so it is past stream creation."""
    until = time.monotonic() + 5
    while not server.busy:
        assert time.monotonic() < until, "the stock client never started its test"
        time.sleep(0.02)
    time.sleep(settle_s)


def _assert_served(port: int, *args: str) -> dict[str, Any]:
    report = _stock_client(port, "-t", "1", *args)
    assert report["end"]["sum_received"]["bits_per_second"] > 1e8
    return report


# -- protocol unit tests -------------------------------------------------------------------------

def test_cookie_is_36_characters_of_the_alphabet_and_a_nul() -> None:
    raw = make_cookie()
    assert len(raw) == COOKIE_SIZE and raw.endswith(b"\0")
    assert set(parse_cookie(raw)) <= set(COOKIE_ALPHABET)
    with pytest.raises(ProtocolError):
        parse_cookie(raw[:-1] + b"x")
    with pytest.raises(ProtocolError):
        parse_cookie(b"A" * 36 + b"\0")


def test_params_match_the_stock_client() -> None:
    stock = {"tcp": True, "omit": 0, "time": 1, "num": 0, "blockcount": 0, "parallel": 1,
             "len": 131072, "pacing_timer": 1000, "client_version": "3.12"}
    assert TestParams(time_s=1).to_message() == stock
    assert list(TestParams(time_s=1).to_message()) == list(stock)
    assert parse_params(stock) == TestParams(time_s=1)
    # 3.12 reads flags by presence: "reverse": false still reverses.
    assert parse_params({**stock, "reverse": False}).reverse
    assert parse_params({"udp": True}).protocol == "udp"
    with pytest.raises(ProtocolError, match="parallel"):
        parse_params({**stock, "parallel": 1000})
    with pytest.raises(ProtocolError):
        parse_params({**stock, "time": "ten"})


def test_results_read_minus_one_as_3_12_writes_it() -> None:
    msg = {"cpu_util_total": 1.5, "cpu_util_user": 0.5, "cpu_util_system": 1,
           "sender_has_retransmits": 18446744073709551615,
           "streams": [{"id": 1, "bytes": 100, "retransmits": 18446744073709551615,
                        "jitter": 0, "errors": 0, "packets": 0, "start_time": 0,
                        "end_time": 1.0002}]}
    results = parse_results(msg)
    assert results.sender_has_retransmits == -1
    assert results.streams[0].retransmits is None
    assert results.streams[0].seconds == pytest.approx(1.0002)
    again = Results(1.5, 0.5, 1.0, -1, (StreamReport(1, 100, None, end_time=1.0002),))
    assert parse_results(again.to_message()) == results
    for key in ("cpu_util_total", "sender_has_retransmits", "streams"):
        with pytest.raises(ProtocolError):
            parse_results({k: v for k, v in msg.items() if k != key})


def test_stream_ids_skip_two_like_iperf3() -> None:
    assert stream_ids(1) == [1]
    assert stream_ids(4) == [1, 3, 4, 5]


def test_framing_limits_and_states() -> None:
    assert decode_json(encode_json({"a": 1})) == {"a": 1}
    with pytest.raises(ProtocolError, match="4294967295 \\(limit 65536\\)"):
        decode_json(b"\xff\xff\xff\xff{}")
    with pytest.raises(ProtocolError, match="object"):
        decode_json(encode_json({"a": 1})[:4] + b"[1,2,3]"[:7])
    with pytest.raises(ProtocolError):
        decode_json(b"\x00\x00\x00\x03NaN")
    assert decode_state(encode_state(State.ACCESS_DENIED)) == State.ACCESS_DENIED
    with pytest.raises(ProtocolError, match="unknown state"):
        decode_state(b"\x63")


# -- property tests: the parser raises ProtocolError and nothing else ----------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=12)
_param_keys = st.sampled_from(["tcp", "udp", "omit", "time", "num", "blockcount", "parallel",
                               "len", "reverse", "window", "bandwidth", "MSS", "congestion",
                               "client_version", "pacing_timer"])
_result_keys = st.sampled_from(["cpu_util_total", "cpu_util_user", "cpu_util_system",
                                "sender_has_retransmits", "streams", "congestion_used"])
_stream_objects = st.dictionaries(
    st.sampled_from(["id", "bytes", "retransmits", "jitter", "errors", "packets",
                     "start_time", "end_time"]), _json_values, max_size=8)


def _frame(text: str) -> bytes:
    body = text.encode("utf-8")
    return len(body).to_bytes(4, "big") + body


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_are_a_protocol_error_or_a_dict(data: bytes) -> None:
    try:
        assert isinstance(decode_json(data), dict)
    except ProtocolError:
        pass
    try:
        decode_state(data[:1])
    except ProtocolError:
        pass
    try:
        parse_cookie(data)
    except ProtocolError:
        pass


@settings(max_examples=150, deadline=None)
@given(st.one_of(_json_values, st.dictionaries(_param_keys, _json_values),
                 st.dictionaries(_result_keys, _json_values | st.lists(_stream_objects))))
def test_random_json_is_parsed_or_refused(value: Any) -> None:
    try:
        frame = _frame(json.dumps(value))
    except ValueError:
        return
    try:
        message = decode_json(frame)
    except ProtocolError:
        return
    for parse in (parse_params, parse_results):
        try:
            parse(message)
        except ProtocolError:
            pass


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_truncated_messages_are_a_protocol_error(data: st.DataObject) -> None:
    message = data.draw(st.sampled_from([
        TestParams(time_s=1, parallel=2, reverse=True).to_message(),
        Results(0.0, 0.0, 0.0, 1, tuple(StreamReport(i, 10**10, 3, end_time=1.0)
                                        for i in stream_ids(3))).to_message()]))
    frame = encode_json(message)
    cut = data.draw(st.integers(min_value=0, max_value=len(frame) - 1))
    with pytest.raises(ProtocolError):
        decode_json(frame[:cut])


# -- our client against stock `iperf3 -s` -------------------------------------------------------

@needs_iperf3
@pytest.mark.parametrize(("reverse", "parallel", "omit_s"),
                         [(False, 1, 0), (True, 1, 0), (False, 2, 0), (True, 2, 1)],
                         ids=["forward", "reverse", "forward-P2", "reverse-P2-omit"])
def test_our_client_against_stock_server(stock_server: Callable[[], tuple[int, Any]],
                                         reverse: bool, parallel: int, omit_s: int) -> None:
    port, proc = stock_server()
    result = run_test_sync(LOOPBACK, port, duration_s=1, parallel=parallel, reverse=reverse,
                           omit_s=omit_s)
    stock = json.loads(proc.communicate(timeout=10)[0])
    assert [s.id for s in result.streams] == stream_ids(parallel)
    assert result.sent_bytes > 0 and result.received_bytes > 0
    assert 1e8 < result.receiver_bps < 1e12
    assert 0.9 < result.receiver_seconds < 1.5
    # What the stock server counted is what we report for its side.
    if reverse:
        assert result.sent_bytes == stock["end"]["sum_sent"]["bytes"]
    else:
        assert result.received_bytes == stock["end"]["sum_received"]["bytes"]
    assert abs(result.received_bytes - result.sent_bytes) < 0.05 * result.sent_bytes
    end = result.to_json()["end"]
    assert end["sum_received"]["bits_per_second"] > 0
    assert end["sum_sent"]["bytes"] == result.sent_bytes
    assert len(end["streams"]) == parallel


@needs_iperf3
def test_cancelled_client_frees_a_stock_server(
        stock_server: Callable[[], tuple[int, subprocess.Popen[str]]]) -> None:
    port, proc = stock_server()

    async def cancel_midway() -> None:
        task = asyncio.ensure_future(run_test(LOOPBACK, port, duration_s=10))
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_midway())
    # A one-off stock server exits once its test is over: CLIENT_TERMINATE ended it.
    assert proc.wait(timeout=3) is not None


@needs_iperf3
def test_our_client_reports_a_busy_stock_server(
        stock_server: Callable[[], tuple[int, Any]]) -> None:
    port, _ = stock_server()
    first = subprocess.Popen(["iperf3", "-c", LOOPBACK, "-p", str(port), "-t", "2"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        with pytest.raises(Iperf3Busy):
            run_test_sync(LOOPBACK, port, duration_s=1)
    finally:
        assert first.wait(timeout=10) == 0


# -- stock `iperf3 -c` against our server ---------------------------------------------------------

@needs_iperf3
@pytest.mark.parametrize("args", [[], ["-R"], ["-P", "2"], ["-R", "-P", "2", "-O", "1"]],
                         ids=["forward", "reverse", "forward-P2", "reverse-P2-omit"])
def test_stock_client_against_our_server(server: Iperf3Server, args: list[str],
                                         caplog: pytest.LogCaptureFixture) -> None:
    report = _assert_served(server.port, *args)
    end = report["end"]
    assert end["sum_sent"]["bytes"] > 0 and end["sum_received"]["bytes"] > 0
    assert end["sum_sent"]["bits_per_second"] > 1e8
    assert 0.9 < end["sum_received"]["seconds"] < 1.5
    assert len(end["streams"]) == (2 if "-P" in args else 1)
    if "-R" in args:  # our server's TCP_INFO retransmit count reached the stock client
        assert "retransmits" in end["sum_sent"]
    assert server.wait_idle(5) and server.tests_done == 1
    assert _warnings(caplog) == []


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_our_client_against_our_server(server: Iperf3Server, reverse: bool) -> None:
    result = run_test_sync(LOOPBACK, server.port, duration_s=1, parallel=2, reverse=reverse)
    assert result.received_bytes > 0 and result.receiver_bps > 1e8
    assert result.retransmits is not None  # Linux: TCP_INFO on the sending side


@needs_iperf3
def test_our_server_refuses_a_concurrent_test(server: Iperf3Server,
                                              caplog: pytest.LogCaptureFixture) -> None:
    first = subprocess.Popen(["iperf3", "-c", LOOPBACK, "-p", str(server.port), "-t", "2",
                              "-J"], stdout=subprocess.PIPE, text=True)
    try:
        _wait_busy(server)
        second = _stock_client(server.port, "-t", "1", expect_ok=False)
        assert "busy" in second["error"]
        with pytest.raises(Iperf3Busy):
            run_test_sync(LOOPBACK, server.port, duration_s=1)
    finally:
        out, _ = first.communicate(timeout=10)
    assert first.returncode == 0
    assert json.loads(out)["end"]["sum_received"]["bits_per_second"] > 1e8
    refusals = _warnings(caplog)
    assert len(refusals) == 2 and all("ACCESS_DENIED" in line for line in refusals)


# -- faults: each ends its test with exactly one line, and the server goes on ----------------

def _after_fault(server: Iperf3Server, caplog: pytest.LogCaptureFixture, expected: str) -> None:
    assert server.wait_idle(5), "the server is still stuck on the fault"
    _assert_served(server.port)
    lines = _warnings(caplog)
    assert len(lines) == 1, lines
    assert expected in lines[0]
    assert lines[0].startswith("iperf3 server: ")


@needs_iperf3
def test_idle_connection_is_dropped_and_blocks_nobody(server: Iperf3Server,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    idle = socket.create_connection((LOOPBACK, server.port))
    try:
        # Stock iperf3 3.12 would now be blocked for good; ours serves the next client.
        _assert_served(server.port)
        assert server.wait_idle(5)
        assert idle.recv(1) == b""  # then it hung up on the idle one
    finally:
        idle.close()
    _after_fault(server, caplog, "sent nothing for 0.6 s; closed")


@needs_iperf3
def test_slow_client_cannot_hold_the_server(server: Iperf3Server,
                                            caplog: pytest.LogCaptureFixture) -> None:
    raw = RawClient(server.port)
    try:
        for byte in raw.cookie[:20]:  # a byte every 0.05 s: never idle, never done
            raw.send(bytes([byte]))
            time.sleep(0.05)
    except OSError:
        pass
    finally:
        raw.close()
    _after_fault(server, caplog, "cookie bytes in 0.6 s; closed")


@needs_iperf3
def test_silent_after_cookie(server: Iperf3Server, caplog: pytest.LogCaptureFixture) -> None:
    raw = RawClient(server.port)
    raw.send(raw.cookie)
    assert raw.state() == State.PARAM_EXCHANGE
    assert raw.server_error() == ErrorCode.IERECVPARAMS
    raw.close()
    _after_fault(server, caplog, "went silent during the parameter exchange")


@needs_iperf3
@pytest.mark.parametrize(("cookie", "expected"), [
    (make_cookie(), "opened a data connection with a wrong cookie; test ended"),
    (b"X" * 36 + b"\0", "sent a cookie with characters iperf3 never uses on a data connection; "
                        "test ended"),
], ids=["wrong", "malformed"])
def test_wrong_cookie_on_a_data_connection(server: Iperf3Server, caplog: pytest.LogCaptureFixture,
                                           cookie: bytes, expected: str) -> None:
    raw = RawClient(server.port)
    raw.to_stream_creation(parallel=2)
    good = socket.create_connection((LOOPBACK, server.port), timeout=5)
    good.sendall(raw.cookie)
    data = socket.create_connection((LOOPBACK, server.port), timeout=5)
    data.sendall(cookie)
    assert io.read_state(data, time.monotonic() + 5) == State.ACCESS_DENIED
    data.close()
    assert raw.server_error() == ErrorCode.IESTREAMACCEPT
    good.close()
    raw.close()
    _after_fault(server, caplog, expected)


@needs_iperf3
def test_absurd_json_length(server: Iperf3Server, caplog: pytest.LogCaptureFixture) -> None:
    raw = RawClient(server.port)
    raw.send(raw.cookie)
    assert raw.state() == State.PARAM_EXCHANGE
    raw.send(b"\xff\xff\xff\xff")
    assert raw.server_error() == ErrorCode.IERECVPARAMS
    raw.close()
    _after_fault(server, caplog,
                 f"127.0.0.1 sent a JSON length of 4294967295 (limit {MAX_JSON_LEN}) during "
                 "the parameter exchange; closed")


@needs_iperf3
@pytest.mark.parametrize(("body", "expected"), [
    (b"\x00\x00\x00\x05{\"a\":", "not JSON"),
    (b"\x00\x00\x00\x02[]", "a JSON list where an object was expected"),
    (encode_json({"tcp": True, "parallel": 0}),
     "sent a 'parallel' of 0 (allowed 1..128) during the parameter exchange; closed"),
    (encode_json({"udp": True}), "asked for a UDP test"),
], ids=["bad-json", "not-an-object", "bad-parallel", "udp"])
def test_malformed_parameters(server: Iperf3Server, caplog: pytest.LogCaptureFixture,
                              body: bytes, expected: str) -> None:
    raw = RawClient(server.port)
    raw.send(raw.cookie)
    assert raw.state() == State.PARAM_EXCHANGE
    raw.send(body)
    assert raw.server_error() in (ErrorCode.IERECVPARAMS, ErrorCode.IEUNIMP)
    raw.close()
    _after_fault(server, caplog, expected)


@needs_iperf3
def test_unknown_state_mid_test(server: Iperf3Server, caplog: pytest.LogCaptureFixture) -> None:
    raw = RawClient(server.port)
    raw.to_stream_creation(parallel=1)
    data = socket.create_connection((LOOPBACK, server.port), timeout=5)
    data.sendall(raw.cookie)
    assert raw.state() == State.TEST_START
    assert raw.state() == State.TEST_RUNNING
    raw.send(b"\x63")
    assert raw.server_error() == ErrorCode.IEMESSAGE
    data.close()
    raw.close()
    _after_fault(server, caplog, "sent an unknown state byte 99 during the test")


@needs_iperf3
@pytest.mark.parametrize("args", [[], ["-R"]], ids=["forward", "reverse"])
def test_client_vanishes_mid_test(server: Iperf3Server, caplog: pytest.LogCaptureFixture,
                                  args: list[str]) -> None:
    client = subprocess.Popen(["iperf3", "-c", LOOPBACK, "-p", str(server.port), "-t", "5",
                               *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_busy(server, settle_s=0.5)
    client.send_signal(signal.SIGKILL)
    client.wait(timeout=5)
    _after_fault(server, caplog, "during the test; test")


@needs_iperf3
def test_server_fed_random_bytes_keeps_serving(server: Iperf3Server) -> None:
    @settings(max_examples=40, deadline=None)
    @given(st.one_of(st.binary(max_size=120),
                     st.binary(max_size=120).map(lambda tail: make_cookie() + tail)))
    def feed(data: bytes) -> None:
        with socket.create_connection((LOOPBACK, server.port), timeout=5) as sock:
            try:
                sock.sendall(data)
            except OSError:
                pass  # the server may already have refused it

    feed()
    time.sleep(0.3)  # the last connections may still wait in the kernel's accept queue
    assert server.wait_idle(10)
    _assert_served(server.port)


# -- the LAN-SPEED probe --------------------------------------------------------------------

def _result(mbps: float, reverse: bool = False) -> Iperf3Result:
    nbytes = int(mbps * 1e6 / 8)
    figures = (StreamFigures(1, nbytes, nbytes, 1.0, 1.0, 0),)
    return Iperf3Result("10.0.0.5", 5201, reverse, 1, 1, 0, 131072, figures, 1.0, 1.0, 0,
                        (0.0, 0.0, 0.0), (0.0, 0.0, 0.0))


# (the link-class verdict is the judge's: tests/test_judges_throughput.py)


def test_probe_measures_against_our_server(server: Iperf3Server) -> None:
    outcome = asyncio.run(throughput.run(
        throughput_params(LOOPBACK, server.port, duration_s=1, reverse=True), 10))
    assert outcome.status == Status.PASS, outcome.message.en
    assert outcome.measured["direction"] == "reverse"
    assert outcome.measured["throughput_mbps"] > 500


@needs_iperf3
def test_probe_says_busy_when_paths_overlap(server: Iperf3Server) -> None:
    first = subprocess.Popen(["iperf3", "-c", LOOPBACK, "-p", str(server.port), "-t", "2"],
                             stdout=subprocess.DEVNULL)
    try:
        _wait_busy(server)
        outcome = asyncio.run(throughput.run(
            throughput_params(LOOPBACK, server.port, duration_s=1), 10))
    finally:
        first.wait(timeout=10)
    assert outcome.status == Status.ERROR
    assert "busy with another test; tests on one path must not overlap" in outcome.message.en


def test_probe_errors_clearly() -> None:
    port = _free_port()  # nothing listens there
    outcome = asyncio.run(throughput.run(throughput_params(LOOPBACK, port, duration_s=1), 10))
    assert outcome.status == Status.ERROR
    assert "connection refused" in outcome.message.en
    short = asyncio.run(throughput.run(throughput_params(LOOPBACK, port, duration_s=5), 3))
    assert short.status == Status.ERROR and "too short" in short.message.en
    bad = asyncio.run(throughput.run(throughput_params(LOOPBACK, port, parallel=0), 10))
    assert bad.status == Status.ERROR and "parallel" in bad.message.en
    half = asyncio.run(throughput.run(throughput_params(LOOPBACK, port, duration_s=2.5), 10))
    assert half.status == Status.ERROR and "'duration_s'" in half.message.en
    for kind in throughput.KINDS:
        whole = {**throughput_params(LOOPBACK, port), "reverse_port": port}
        for name in (p.name for p in kind.params if not p.optional):
            missing = asyncio.run(kind.run({k: v for k, v in whole.items() if k != name}, 10))
            assert missing.status == Status.ERROR, (kind.probe, name)
            assert f"parameter '{name}' is missing" in missing.message.en, missing.message.en
    with pytest.raises(Iperf3ConnectError):
        run_test_sync(LOOPBACK, port, duration_s=1)
