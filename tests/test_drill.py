"""The README's main job: `readiness drill` builds the simulated room, finds its
faults with real measurements, and leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict]:
    if os.geteuid() != 0:
        pytest.skip("the drill builds network namespaces: run as root")
    from readiness import lab

    missing = lab.missing_prerequisites()
    if missing:
        pytest.skip("missing: " + "; ".join(what for what, _ in missing))
    out = tmp_path_factory.mktemp("drill")
    proc = subprocess.run(
        # a prefix of its own: another drill on the machine never shares its namespaces,
        # and the suite's leftover check (rdyt*) covers it
        [sys.executable, "-m", "readiness", "drill", "--out", str(out), "--lang", "en",
         "--prefix", f"rdyt{os.getpid()}d"],
        capture_output=True, text=True, timeout=900, cwd=REPO,
        env={**os.environ, "COLUMNS": "200"})
    found = sorted(out.glob("drill-*/result.json"))
    assert found, proc.stdout + proc.stderr
    return proc, json.loads(found[-1].read_text())


def seat_result(doc: dict, label: str) -> dict:
    return next(r for r in doc["results"] if r["requirement"] == "LAN-SUBNET"
                and r["vantage"] == "coordinator" and r["subject"]["kind"] == "seat"
                and r["subject"]["name"] == label and r["aspect"] is None)


def test_drill_reports_not_ready_with_exit_1(drill: tuple) -> None:
    proc, doc = drill
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert doc["verdict"] == "not_ready"
    assert "NOT READY" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_each_injected_reachability_fault_fails_naming_the_host(drill: tuple) -> None:
    _, doc = drill
    # config/lab/room.yaml: A13 absent, A21 moved to another subnet, A32 took A31's address
    for label, address in (("A13", "198.18.10.113"), ("A21", "198.18.10.121"),
                           ("A32", "198.18.10.132")):
        result = seat_result(doc, label)
        assert result["status"] == "fail", result
        assert address in result["message"]
        assert result["measured"]["received"] == 0
    seats = next(r for r in doc["results"] if r["requirement"] == "LAN-SEATS")
    assert seats["status"] == "fail"
    # A13, A21, A32 and A09, whose link flaps (a third of its pings lost), do not count
    assert seats["measured"]["working_seats"] == 36


def test_healthy_hosts_pass_with_real_measurements(drill: tuple) -> None:
    _, doc = drill
    for label in ("A01", "A07", "A31", "A40"):
        result = seat_result(doc, label)
        assert result["status"] == "pass", result
        assert result["measured"]["received"] == 10
        assert 0 < result["measured"]["rtt_avg_ms"] < 5
    server = next(r for r in doc["results"] if r["requirement"] == "LAN-SUBNET"
                  and r["subject"]["kind"] == "exam_server" and r["aspect"] is None
                  and r["vantage"] == "coordinator")
    assert server["status"] == "pass" and server["measured"]["ports"] == {"80": "open"}


def test_drill_leaves_nothing_behind(drill: tuple) -> None:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                         timeout=10).stdout
    assert not [n for n in out.split() if n.startswith("rdy-")]
    assert not Path("/run/readiness-lab/rdy").exists()
    assert not list(Path("/etc/netns").glob("rdy-*"))
    procs = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True,
                           timeout=10).stdout
    assert "/run/readiness-lab/rdy/" not in procs
    # the flapping port's process went with the room
    assert f"--label rdyt{os.getpid()}d-sw" not in procs


def result(doc: dict, check_id: str) -> dict:
    return next(r for r in doc["results"] if r["id"] == check_id)


def test_a_seat_that_drops_ping_is_working_not_switched_off(drill: tuple) -> None:
    _, doc = drill
    # A05's firewall drops ICMP echo (drops_ping): its agent's port answers
    a05 = result(doc, "LAN-SUBNET/lab/198.18.10.105/reach")
    assert a05["status"] == "warn", a05
    assert "drops ping" in a05["message"] and "switched off" not in a05["message"]
    # timed by the kernel's handshake, not by the coordinator's busy event loop: a
    # healthy cable is not reported slow or lossy
    assert a05["measured"]["tcp"]["timed_by"] == ["kernel"], a05
    assert "slowly" not in a05["message"] and "lost" not in a05["message"], a05
    assert result(doc, "LAN-SEATS/lab")["measured"]["working_seats"] == 36  # A05 counted


def test_the_wrong_subnet_seat_is_named_at_its_real_address(drill: tuple) -> None:
    _, doc = drill
    domain = result(doc, "LAN-SUBNET/lab/l2-domain")
    assert domain["status"] == "fail"
    assert "A21" in domain["message"] and "198.18.11.121" in domain["message"]
    assert "set it to 198.18.10.121" in domain["message"]


def test_filter_features_rest_on_attempts_that_isolate_them(drill: tuple) -> None:
    _, doc = drill
    features = {r["id"].rsplit("/", 1)[-1]: r for r in doc["results"]
                if r["requirement"] == "FILTER-FEATURES" and r["id"].count("/") == 2}
    # the router's keyword filter with its block page: proven beside a control that loads
    assert features["keyword"]["status"] == "pass", features["keyword"]["message"]
    assert any("control" in line for line in features["keyword"]["measured"]["decided_by"])
    assert features["block_notice"]["status"] == "pass"
    # the router filters IPv4 only while the LAN has an IPv6 path out: named as IPv6
    assert features["dns"]["status"] == "fail" and "IPv6" in features["dns"]["message"]
    assert "2001:db8:" in features["ip"]["message"]
    for name, row in features.items():
        if name in ("web_management", "remote_management", "router-snmp"):
            continue
        assert row["measured"].get("decided_by") is not None, (name, row)


def test_the_digest_camera_passes_with_its_password_kept_secret(drill: tuple) -> None:
    _, doc = drill
    for rule in ("CAM-RES", "CAM-AUDIO"):
        assert result(doc, f"{rule}/lab/cam-1")["status"] == "pass"
    # the user name and password never appear in a stream address of the results
    assert "rtsp://admin" not in json.dumps(doc)


def test_a_seat_holding_its_address_as_a_dhcp_lease_warns_with_its_lifetime(
        drill: tuple) -> None:
    _, doc = drill
    # config/lab/room.yaml: A03's address has a day's lifetime, as a DHCP client sets it
    a03 = result(doc, "LAN-FIXED-IP/A03/agent")
    assert a03["status"] == "warn", a03
    assert "as a DHCP lease (23 h" in a03["message"] and "next boot" in a03["message"]
    assert 0 < a03["measured"]["lease_left_s"] <= 86400
    # every other seat with an agent holds a fixed address: no word
    assert result(doc, "LAN-FIXED-IP/A01/agent")["status"] == "pass"
    # the seat works: nothing else about it changes
    assert seat_result(doc, "A03")["status"] == "pass"


def test_the_rooms_recorder_is_checked_camera_by_camera(drill: tuple) -> None:
    _, doc = drill
    # config/lab/room.yaml: the recorder records every camera but cam-4, and its disk is full
    stored = {r["subject"]["name"]: r for r in doc["results"] if r["requirement"] == "CAM-STORE"
              and r["subject"]["kind"] == "camera"}
    missing = stored.pop("cam-4")
    assert missing["status"] == "fail" and "recording.missing" in [
        f["code"] for f in missing["findings"]], missing
    cam1 = stored["cam-1"]
    assert cam1["status"] == "pass", cam1
    assert cam1["measured"]["data_age_s"] < 60 and cam1["measured"]["replay"]["frames"] > 0
    assert cam1["evidence"], "the replayed frame is kept as evidence"
    [recorder] = [r for r in doc["results"] if r["requirement"] == "CAM-STORE"
                  and r["subject"]["kind"] == "recorder"]
    assert recorder["status"] == "fail" and recorder["measured"]["free_gb"] == 0, recorder


def test_seat_spec_lists_every_item_of_the_seed_with_its_verdict(drill: tuple) -> None:
    _, doc = drill
    items = {i["item"]: i for i in result(doc, "SEAT-SPEC/A01/agent")["measured"]["items"]}
    # the cbec seed's PC items, each judged or said why not (tests/test_seat_spec_lab.py
    # holds the whole list; here: the drill carries them to its result)
    assert set(items) == {"cpu", "ram", "disk", "ssd", "nic", "display", "os", "chrome",
                          "firefox", "input", "office", "winrar", "messaging", "usb",
                          "restore"}, sorted(items)
    for item in items.values():
        assert item["verdict"] in ("pass", "warn", "fail", "not_verified"), item
        if item["verdict"] == "not_verified":
            assert item["why"]["en"] and item["why"]["zh"], item
    # a Linux lab seat is not the Windows 7-10 PC the certificate asks for
    assert items["os"]["verdict"] == "fail"


def test_a_seat_whose_link_flaps_is_named_for_an_unstable_link(drill: tuple) -> None:
    _, doc = drill
    # config/lab/room.yaml: A09's switch port goes down for 1.5 s and up for 2.5 s all the
    # while; pings spread over the sample window see it go and come back, whatever phase
    # the check starts in
    a09 = seat_result(doc, "A09")
    assert a09["status"] == "fail", a09
    assert "unstable link" in a09["message"] and "198.18.10.109" in a09["message"]
    assert "drops ping" not in a09["message"] and "switched off" not in a09["message"]
    assert [f["code"] for f in a09["findings"]] == ["lan.unstable_link"], a09["findings"]
    replies = a09["measured"]["replies"]
    assert "00" in replies and "1" in replies, replies


def test_a_site_whose_https_the_router_lets_through_leaks_over_https(drill: tuple) -> None:
    """video.example: HTTP stopped by Host (a block page), HTTPS let through (the room's
    https_unfiltered fault). A candidate's browser goes to https:// first."""
    _, doc = drill
    https, http = [], []
    for r in doc["results"]:
        if r["requirement"] != "WAN-POLICY" or r["subject"]["kind"] != "seat":
            continue
        for a in r["measured"].get("attempts", []):
            if a.get("technique") != "plain" or "video.example" not in a.get("request", ""):
                continue
            (https if a["request"].startswith("GET https://") else http).append(a)
    assert https and http
    # the filter lets it through: all but a few seats see the leak (on this shared 2-CPU
    # host a seat's connection can go unanswered under the room's load, once seen as a
    # silent drop from the first seat; on a site that is one seat's view, the others
    # still fail the rule)
    leaked = [a for a in https if a.get("leak")]
    assert len(leaked) >= len(https) - 3, [a["result"] for a in https]
    assert all(a.get("scheme") == "https" and a.get("address") == "198.51.100.21"
               for a in leaked)
    # its HTTP was stopped by the router's block page, so the HTTPS leak is the finding
    assert all(a.get("blocked_by") == "http_block_page" for a in http), http
    seat = next(r for r in doc["results"] if r["requirement"] == "WAN-POLICY"
                and r["subject"]["kind"] == "seat" and r["status"] == "fail")
    assert "[HTTPS, IPv4 198.51.100.21]" in json.dumps(seat["measured"]["attempts"]) or \
        "https://video.example/" in json.dumps(seat["measured"])


def test_a_camera_whose_picture_stops_fails_saying_after_how_long(drill: tuple) -> None:
    _, doc = drill
    # config/lab/room.yaml: cam-7's video stops 2.5 s into each stream, its session open
    cam7 = result(doc, "CAM-RES/lab/cam-7")
    assert cam7["status"] == "fail", cam7
    assert "stopped after" in cam7["message"], cam7["message"]
    assert "camera.stalled" in [f["code"] for f in cam7["findings"]]
    # CAM-COUNT follows: cam-1 and cam-3 are the room's only live pictures
    count = result(doc, "CAM-COUNT/lab")
    assert count["measured"]["working_cameras"] == 2, count
    assert count["measured"]["configured_cameras"] == 6


def test_a_seat_behind_an_mtu_black_hole_is_named_with_the_size_that_gets_through(
        drill: tuple) -> None:
    """config/lab/room.yaml: A15's path drops packets over 1200 bytes; it has no agent,
    so the coordinator measures it against its `readiness throughput-server`."""
    _, doc = drill
    for path in ("download", "upload"):
        a15 = result(doc, f"LAN-SPEED/lab/A15/{path}")
        assert a15["status"] == "fail", a15
        assert "MTU black hole" in a15["message"], a15["message"]
        assert "duplex" not in a15["message"] and "cable" not in a15["message"]
        assert [f["code"] for f in a15["findings"]] == ["throughput.mtu_black_hole"]
        size = a15["measured"]["path_mtu"]
        assert 1192 <= size["largest_ok"] <= 1200 < size["smallest_lost"] <= 1208, size
    # small packets pass: its reachability is not what fails
    assert seat_result(doc, "A15")["status"] == "pass"


def test_a_name_the_open_resolver_answers_is_a_dns_bypass_until_the_site_loads(
        drill: tuple) -> None:
    """The open public resolver answers speed.example (a blocked target) for every seat,
    but the router drops its address: that answer bypasses the DNS filter, it is no
    site leak. games.example, whose address is open, does load: that one is."""
    _, doc = drill
    seats = [r for r in doc["results"] if r["requirement"] == "WAN-POLICY"
             and r["subject"]["kind"] == "seat" and r["status"] == "fail"]
    assert len(seats) >= 30, len(seats)
    for seat in seats:
        attempts = seat["measured"]["attempts"]
        answered = [a for a in attempts if a["technique"] == "resolver"
                    and "speed.example" in a["request"] and a.get("leak")]
        assert answered, seat["id"]  # the open resolver answered the blocked name
        loaded = [a for a in attempts if a.get("leak") and a["technique"] != "resolver"
                  and "speed.example" in a["request"]]
        assert loaded == [], (seat["id"], loaded)  # ... and the site never loaded
        content = [a for a in attempts if a.get("leak")
                   and a["technique"] not in ("resolver", "doh")]
        assert seat["message"].startswith(f"{len(content)} request(s) that must be "
                                          "blocked got through"), seat["message"][:80]
        assert all("speed.example" not in a["request"] for a in content)
