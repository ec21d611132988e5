"""Property tests of the signed evidence log (readiness/evidence/chain.py).

Any single change to a signed log — one byte of one record, one field of one record
rewritten in canonical form, one record deleted, two swapped, one copied elsewhere, the
file cut at any byte — is caught by `verify`, and `verify` names the first record that
is no longer what the site wrote: every record before it still verifies, none after.
Without the head written beside the log, the one change it cannot see is the
documented one: the log cut at a record boundary.

The long log crosses the verifier's signature window (it checks every 256th signature
and the chain in between), so a change between two checked signatures is covered too.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readiness.evidence.canonical import canonical
from readiness.evidence.chain import WINDOW, EvidenceLog, read_head, verify
from readiness.evidence.keys import init_keys, load_private, load_public

SMALL, LONG = 6, WINDOW + 44
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@dataclass(frozen=True, repr=False)
class SignedLog:
    lines: list[bytes]  # each with its "\n"
    public: Any
    head: Any  # the KnownHead written beside the log

    @property
    def data(self) -> bytes:
        return b"".join(self.lines)

    def __repr__(self) -> str:  # a falsifying example names the log, not its bytes
        return f"<signed log of {len(self.lines)} records>"


def _body(n: int) -> dict[str, Any]:
    return {"n": n, "seat": f"A{n % 40 + 1:02d}", "throughput_mbps": 90.5 + n,
            "note": "考位 ok" if n % 3 else "line\\with \"quotes\"", "ok": n % 2 == 0,
            "nested": {"list": [n, None, "x"], "empty": {}}}


def _write(folder: Path, key: Any, bodies: list[dict[str, Any]], batch: int) -> Path:
    log = EvidenceLog(folder / "evidence.jsonl", key)
    for start in range(0, len(bodies), batch):
        log.append_many([("result" if i % 5 else "run", body)
                         for i, body in enumerate(bodies[start:start + batch], start)])
    return log.path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("evidence-keys")
    init_keys(folder)
    return folder


@pytest.fixture(scope="module")
def logs(keys: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, SignedLog]:
    made = {}
    for name, count in (("small", SMALL), ("long", LONG)):
        folder = tmp_path_factory.mktemp(f"evidence-{name}")
        path = _write(folder, load_private(keys), [_body(n) for n in range(count)], 50)
        made[name] = SignedLog(path.read_bytes().splitlines(keepends=True),
                               load_public(keys), read_head(path))
    return made


# ---------------------------------------------------------------------- single changes


@st.composite
def changes(draw: st.DrawFn, count: int) -> tuple[str, tuple[int, ...]]:
    kinds = ["byte", "field", "body", "sig", "delete", "copy", "cut", "truncate"]
    kind = draw(st.sampled_from(kinds + ["swap"] if count > 1 else kinds))
    index = st.integers(0, count - 1)
    if kind == "swap":
        i, j = sorted(draw(st.lists(index, min_size=2, max_size=2, unique=True)))
        return kind, (i, j)
    if kind == "copy":
        return kind, (draw(index), draw(st.integers(0, count)))
    if kind == "truncate":
        return kind, (draw(st.integers(0, 10**9)),)  # scaled to the file's size below
    if kind == "cut":
        return kind, (draw(st.integers(0, count - 1)),)  # at a record boundary
    return kind, (draw(index), draw(st.integers(0, 10**9)), draw(st.integers(1, 255)))


FIELD_VALUES = {"seq": [0, 1, 7, 10**6, -1, "1", None], "type": ["run", "result", "x", ""],
                "at": ["2024-05-20T01:00:00.000+00:00", "", 0],
                "prev": ["0" * 64, "f" * 64, ""], "key": ["sha256:" + "0" * 64, ""],
                "sig": ["", "AAAA", "=" * 4]}


def first_changed(lines: list[bytes], changed: bytes) -> int:
    """The index of the first record that is not as the site wrote it."""
    now = changed.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if i >= len(now) or now[i] != line:
            return i
    return len(lines)  # all kept, something added after them


def tamper(lines: list[bytes], change: tuple[str, tuple[int, ...]]) -> bytes:
    kind, args = change
    out = list(lines)
    if kind == "byte":
        i, at, flip = args
        line = out[i]
        at %= len(line)
        out[i] = line[:at] + bytes([line[at] ^ flip]) + line[at + 1:]
        return b"".join(out)
    if kind in ("field", "body"):
        i, pick, salt = args
        record = json.loads(out[i])
        if kind == "field":
            name = sorted(FIELD_VALUES)[pick % len(FIELD_VALUES)]
            options = [v for v in FIELD_VALUES[name] if v != record[name]]
            record[name] = options[salt % len(options)]
        elif record["body"]:
            name = sorted(record["body"])[pick % len(record["body"])]
            record["body"][name] = [record["body"][name], salt]  # another value, same key
        else:
            record["body"]["added"] = salt
        out[i] = canonical(record) + b"\n"
        return b"".join(out)
    if kind == "sig":
        # the signature's last base64 digit before "==" carries 2 bits and 4 spare ones:
        # another digit with the same 2 bits decodes to the very same signature
        i, pick, _ = args
        record = json.loads(out[i])
        sig = record["sig"]
        digit = B64.index(sig[-3])
        same = [c for n, c in enumerate(B64) if n >> 4 == digit >> 4 and n != digit]
        record["sig"] = sig[:-3] + same[pick % len(same)] + sig[-2:]
        out[i] = canonical(record) + b"\n"
        return b"".join(out)
    if kind == "cut":
        return b"".join(out[:args[0]])
    if kind == "delete":
        (i, *_) = args
        del out[i]
        return b"".join(out)
    if kind == "swap":
        i, j = args
        out[i], out[j] = out[j], out[i]
        return b"".join(out)
    if kind == "copy":
        i, j = args
        out.insert(j, lines[i])
        return b"".join(out)
    data = b"".join(lines)
    return data[:args[0] % len(data)]


def _boundary_prefix(data: bytes, lines: list[bytes]) -> bool:
    return any(data == b"".join(lines[:n]) for n in range(len(lines) + 1))


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["small", "long"]), data=st.data())
def test_any_single_change_is_caught_at_the_first_changed_record(
        logs: dict[str, SignedLog], tmp_path: Path, which: str, data: st.DataObject) -> None:
    log = logs[which]
    change = data.draw(changes(len(log.lines)), label="change")
    changed = tamper(log.lines, change)
    first = first_changed(log.lines, changed)
    assert changed != log.data
    with tempfile.TemporaryDirectory(dir=tmp_path) as folder:
        copy = Path(folder) / "evidence.jsonl"
        copy.write_bytes(changed)
        # with the head the site wrote beside the log, as `readiness verify` reads it
        report = verify(copy, log.public, known=[log.head])
        assert not report.ok, change
        assert report.count == first, (change, report.sentence())
        assert report.sentence() and report.sentence("zh")
        # without it: only a cut at a record boundary still looks like a whole log
        alone = verify(copy, log.public)
        assert alone.ok == _boundary_prefix(changed, log.lines), (change, alone.sentence())


def test_the_untouched_logs_verify(logs: dict[str, SignedLog], tmp_path: Path) -> None:
    # the other side: a verifier that refused everything would pass the property above
    for log in logs.values():
        copy = tmp_path / "evidence.jsonl"
        copy.write_bytes(log.data)
        report = verify(copy, log.public, known=[log.head])
        assert report.ok and report.count == len(log.lines) and report.head_checked


# ---------------------------------------------------------------------- any content


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) |
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)
bodies = st.dictionaries(st.text(max_size=8), json_values, max_size=5)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.lists(bodies, min_size=1, max_size=8), data=st.data())
def test_whatever_is_signed_verifies_and_any_change_to_it_is_caught(
        keys: Path, tmp_path: Path, content: list[dict[str, Any]], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory(dir=tmp_path) as folder:
        path = _write(Path(folder), load_private(keys), content, 3)
        public, head = load_public(keys), read_head(path)
        report = verify(path, public, known=[head])
        assert report.ok and report.count == len(content), report.sentence()
        lines = path.read_bytes().splitlines(keepends=True)
        assert [json.loads(line)["body"] for line in lines] == content
        change = data.draw(changes(len(lines)), label="change")
        changed = tamper(lines, change)
        first = first_changed(lines, changed)
        path.write_bytes(changed)
        report = verify(path, public, known=[head])
        assert not report.ok and report.count == first, (change, report.sentence())
