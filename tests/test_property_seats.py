"""Property tests of seat ranges in the site file (`A01-A40: 192.168.10.101-140`).

A well-formed range expands to as many seats as it says, in order, each label's number
and its address's last octet moving together; several ranges in one room keep the
file's order. Anything else written as a seat (any key, any value) is either read or
refused with an error that names the seat's field, never a crash of the loader.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from readiness.config.errors import ConfigError
from readiness.config.load import load_site

ROOM_SUBNET = "198.51.100.0/24"
# the room's other hosts sit at .1-.3; seats may use .4-.254
FIRST_SEAT_OCTET, LAST_SEAT_OCTET = 4, 254


def site_with(seats: dict[str, Any]) -> dict[str, Any]:
    return {
        "site": {"name": "Property school", "code": "P-1"},
        "profile": "cbec",
        "secrets_file": "secrets.yaml",
        "rooms": [{
            "id": "r1", "subnet": ROOM_SUBNET,
            "router": {"address": "198.51.100.1"},
            "exam_servers": {"primary": {"address": "198.51.100.3"}},
            "proctor": {"address": "198.51.100.2"},
            "seats": seats,
        }],
    }


def load(folder: Path, seats: dict[str, Any]):  # type: ignore[no-untyped-def]
    (folder / "site.yaml").write_text(yaml.safe_dump(site_with(seats), allow_unicode=True,
                                                      sort_keys=False),
                                      encoding="utf-8")
    secrets = folder / "secrets.yaml"
    if not secrets.exists():
        secrets.write_text("unused: x\n")
        secrets.chmod(0o600)
    return load_site(folder / "site.yaml", {"cbec"})


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("seats")


@st.composite
def well_formed_ranges(draw: st.DrawFn) -> list[tuple[str, int, int, int, int]]:
    """Up to three ranges with distinct letters and disjoint addresses:
    (letters, first number, label width, first octet, count)."""
    chosen = []
    octet = FIRST_SEAT_OCTET
    letters = draw(st.lists(st.text("ABCDEFGHJKxyz", min_size=0, max_size=3), min_size=1,
                            max_size=3, unique=True))
    for prefix in letters:
        room_left = LAST_SEAT_OCTET - octet + 1
        if room_left < 1:
            break
        count = draw(st.integers(1, min(room_left, 60)))
        first = draw(st.integers(0, 999_000))
        width = draw(st.integers(len(str(first + count - 1)), 6))  # zero padding
        octet += draw(st.integers(0, room_left - count))
        chosen.append((prefix, first, width, octet, count))
        octet += count
    return chosen


def range_key(prefix: str, first: int, width: int, count: int) -> str:
    return f"{prefix}{first:0{width}d}-{prefix}{first + count - 1:0{width}d}"


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ranges=well_formed_ranges())
@example(ranges=[("A", 1, 2, 101, 40)])  # the README's A01-A40: .101-140
def test_a_seat_range_expands_in_order_with_labels_and_addresses_in_step(
        folder: Path, ranges: list[tuple[str, int, int, int, int]]) -> None:
    seats = {range_key(p, first, width, count): f"198.51.100.{octet}-{octet + count - 1}"
             for p, first, width, octet, count in ranges}
    got = load(folder, seats).seats["r1"]
    assert len(got) == sum(r[4] for r in ranges)
    at = 0
    for prefix, first, width, octet, count in ranges:  # the file's order, range by range
        part = got[at:at + count]
        at += count
        for offset, seat in enumerate(part):
            assert re.fullmatch(rf"{prefix}\d{{{width}}}", seat.label), seat.label
            assert int(seat.label[len(prefix):]) == first + offset
            assert seat.address == f"198.51.100.{octet + offset}"
        # the key's own ends are the first and last labels
        assert f"{part[0].label}-{part[-1].label}" == range_key(prefix, first, width, count)
    assert len({s.label for s in got}) == len(got)
    assert len({s.address for s in got}) == len(got)
    assert all(ipaddress.IPv4Address(s.address) in ipaddress.IPv4Network(ROOM_SUBNET)
               for s in got)


# pieces of seat keys and values, near the grammar and off it
KEY_PARTS = ["A", "B", "a", "01", "1", "40", "099", "100", "999999", "1000000", "-", "--",
             " ", ".", "٣", "１", "Ａ", ":", "0x1", ""]
VALUE_PARTS = ["198", "51", "100", "101", "140", "255", "256", "300", "0", "00", "051", ".",
               "-", "--", " ", "198.51.100.", "198.51.100.101-140", "٣", "１", "1e2", "x",
               "::1", "/24", ""]


# what a YAML key or value keeps as written (YAML folds line breaks such as U+0085)
WRITABLE = st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp"))


def pieces(parts: list[str], most: int) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(parts), max_size=most).map("".join)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.one_of(pieces(KEY_PARTS, 6), st.text(WRITABLE, max_size=12)),
       value=st.one_of(pieces(VALUE_PARTS, 6), st.text(WRITABLE, max_size=20)))
@example(key="A01-A05", value="198.51.300.1-5")  # an octet past 255 before the range
@example(key="A01-A03", value="198.051.100.5-7")  # a leading zero Python refuses
@example(key="A01-A03", value="١٩٨.51.100.5-7")  # digits, but not ASCII ones
@example(key="A01-A03", value="198.51.100.7-5")  # descending
def test_any_seat_entry_is_read_or_refused_naming_its_field(folder: Path, key: str,
                                                             value: str) -> None:
    if not key.strip() or key in ("<<",):
        return  # not a seat entry YAML would hand over as written
    try:
        site = load(folder, {key: value})
    except ConfigError as err:
        texts = [str(i) for i in err.issues]
        assert texts, "an error with nothing in it"
        assert all(f"rooms[0].seats.{key}: " in t for t in texts), texts
        return
    # read: every seat it made is a real address inside the room, labels unique
    seats = site.seats["r1"]
    assert seats and len({s.label for s in seats}) == len(seats)
    for seat in seats:
        address = ipaddress.IPv4Address(seat.address)
        assert address in ipaddress.IPv4Network(ROOM_SUBNET)
