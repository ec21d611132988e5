"""SEAT-SPEC item by item.

Windows is tested on fixtures: tests/fixtures/windows10_seat_inventory.json and
windows10_seat_faulty_inventory.json stand in for a real Windows 10 seat. They are what
readiness/agent/inventory.WINDOWS_INVENTORY prints (ConvertTo-Json), written from the
documented shapes of Win32_OperatingSystem, Get-PhysicalDisk, Win32_VideoController, the
Uninstall and App Paths registry keys, Get-Process and Get-Service. Linux is read for
real, on this machine."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from readiness.agent import inventory
from readiness.agent.inventory import parse_windows_inventory, windows_release
from readiness.config.profile import SeatSpecThresholds, load_profile
from readiness.judges import seat_items
from readiness.judges.seat_items import version_tuple
from readiness.planning import thresholds_of

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = parse_windows_inventory((FIXTURES / "windows10_seat_inventory.json").read_text("utf-8"))
FAULTY = parse_windows_inventory(
    (FIXTURES / "windows10_seat_faulty_inventory.json").read_text("utf-8"))


def _th(profile: str) -> SeatSpecThresholds:
    req = load_profile(profile).requirement("SEAT-SPEC")
    assert req is not None
    return thresholds_of(req, SeatSpecThresholds)


def _verdicts(inv: dict[str, Any], profile: str,
              measured: dict[str, Any] | None = None) -> dict[str, str]:
    th = _th(profile)
    items = (seat_items.hardware_items(inv, measured or {"nic_speed_mbps": 1000}, th)
             + seat_items.software_items(inv, th))
    return {i.item: i.verdict for i in items}


def test_the_windows10_fixture_is_read_as_the_documented_fields_say() -> None:
    assert GOOD["os"] == {"family": "windows", "name": "Microsoft Windows 10 专业版",
                          "version": "10", "edition": "Professional", "build": 19045,
                          "display_version": "22H2", "bitness": 64, "language": "zh-CN"}
    assert GOOD["disks"] == [{"name": "Samsung SSD 870 EVO 500GB", "ssd": True,
                              "size_gb": 500.1}]
    assert GOOD["displays"] == [{"width": 1920, "height": 1080}]
    assert GOOD["usb_storage"]["disabled"] is True and GOOD["unread"] == {}
    assert "winword.exe" in GOOD["app_paths"]


def test_a_compliant_windows10_seat_passes_every_item_of_both_certificates() -> None:
    cbec = _verdicts(GOOD, "cbec")
    assert set(cbec) == {"ssd", "nic", "display", "os", "chrome", "firefox", "input",
                         "office", "winrar", "messaging", "usb", "restore"}
    assert set(cbec.values()) == {"pass"}, cbec
    eda = _verdicts(GOOD, "eda")
    assert set(eda) == {"os", "chrome", "office", "fscapture", "usb", "restore"}
    assert set(eda.values()) == {"pass"}, eda


def test_each_fault_of_the_faulty_seat_is_its_own_item() -> None:
    got = _verdicts(FAULTY, "cbec", {"nic_speed_mbps": 100})
    assert got == {
        "ssd": "warn",            # an HDD: the SSD is only recommended
        "nic": "warn",            # 100 Mbit/s: the minimum, not the recommended gigabit
        "display": "fail",        # 1366x768 < 1440x900
        "os": "fail",             # 32-bit
        "chrome": "fail",         # 80 < 87
        "firefox": "pass",
        "input": "fail",          # no Sogou Wubi
        "office": "fail",         # 2019 > 2016
        "winrar": "fail",         # 5.91 < 6.0
        "messaging": "fail",      # WeChat installed, QQ running
        "usb": "fail",            # USBSTOR Start = 3
        "restore": "fail",        # Deep Freeze's service running
    }
    th = _th("cbec")
    messaging = next(i for i in seat_items.software_items(FAULTY, th) if i.item == "messaging")
    assert "WeChat (running)" in messaging.found.en and "QQ (running)" in messaging.found.en


@pytest.mark.parametrize("profile", ["eda", "cbec"])
def test_every_item_carries_the_seed_words_it_is_judged_by(profile: str) -> None:
    th = _th(profile)
    items = (seat_items.hardware_items(FAULTY, {"nic_speed_mbps": 100}, th)
             + seat_items.software_items(FAULTY, th) + seat_items.proctor_items(FAULTY, th))
    for item in items:
        assert seat_items.as_dict(item, th, "seed")["citation"]["original"], item.item
    seed = Path("/work/shared/seeds") / load_profile(profile).seed
    if seed.exists():  # the words are the seed's own, character for character
        text = seed.read_text("utf-8")
        for name, cite in th.item_citations.items():
            assert cite.original in text, (profile, name)


def test_unreadable_items_are_not_verified_and_say_why() -> None:
    text = json.dumps({"os": None, "programs": None})
    blind = parse_windows_inventory(text)
    got = {i.item: i for i in seat_items.software_items(blind, _th("eda"))}
    assert got["os"].verdict == "not_verified"
    assert "Win32_OperatingSystem did not answer" in (got["os"].why.en or "")
    assert got["usb"].verdict == "not_verified"
    assert "USBSTOR" in got["usb"].why.en


def test_office_16_without_a_year_is_not_passed_under_a_range_ending_2016() -> None:
    inv = json.loads(json.dumps(GOOD))
    inv["programs"] = [p for p in inv["programs"] if "Office" not in p["name"]] + [
        {"name": "Microsoft 365 Apps for enterprise - zh-cn", "version": "16.0.17126.20132"}]
    cbec = {i.item: i for i in seat_items.software_items(inv, _th("cbec"))}
    assert cbec["office"].verdict == "not_verified"
    assert "2016, 2019, 2021 or 365" in cbec["office"].why.en
    # eda asks for 2016 or later: any 16.x is that
    eda = {i.item: i.verdict for i in seat_items.software_items(inv, _th("eda"))}
    assert eda["office"] == "pass"


def test_single_element_arrays_and_release_numbers() -> None:
    # ConvertTo-Json writes a one-element array as the object itself
    one = parse_windows_inventory(json.dumps({
        "os": {"Caption": "Microsoft Windows 7 旗舰版", "Version": "6.1.7601",
               "BuildNumber": "7601", "OSArchitecture": "64-bit", "OSLanguage": 2052},
        "programs": {"DisplayName": "Google Chrome", "DisplayVersion": "109.0.5414.120"},
        "processes": "explorer"}))
    assert one["os"]["version"] == "7" and one["programs"][0]["version"] == "109.0.5414.120"
    assert one["processes"] == ["explorer"]
    assert windows_release("10.0.22631", 22631) == "11"
    assert windows_release("6.3.9600", 9600) == "8.1"
    assert version_tuple("1:120.0.6099.224-1~deb12u1") == (120, 0, 6099)
    assert version_tuple("6.24.0") == (6, 24, 0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads this Linux machine")
def test_this_linux_machine_is_read_for_real_and_judged_honestly() -> None:
    inv = inventory.gather()
    assert inv["os"]["family"] == "linux" and inv["os"]["bitness"] in (32, 64)
    assert inv["programs"], "dpkg-query lists this machine's packages"
    assert any(p["name"] == "bash" for p in inv["programs"])
    # libraries and language modules are left out: a seat's report stays small
    assert not any(p["name"].startswith("libc6") for p in inv["programs"])
    assert isinstance(inv["usb_storage"]["disabled"], bool)
    got = {i.item: i for i in seat_items.software_items(inv, _th("cbec"))}
    # the certificates ask for Windows: a Linux PC fails the OS item, and there is no
    # Office on it
    assert got["os"].verdict == "fail" and got["office"].verdict == "fail"
    display = seat_items.hardware_items(inv, {"nic_speed_mbps": 1000}, _th("cbec"))
    shown = {i.item: i for i in display}
    if not inv["displays"]:
        assert shown["display"].verdict == "not_verified"
        assert "/sys/class/drm" in shown["display"].why.en
