"""The report's appendix, camera tiles and seat plan agree with the JSON for every check
of the drill (issue 18): rendered from the recorded drill (tests/fixtures/drill_result.json,
no lab needed) and read back through the page's data attributes, never its prose."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from serve_site import DRILL_RESULT, make_site

from readiness.config.load import load_site
from readiness.config.profile import load_profile
from readiness.figures import result_figure
from readiness.report import write_report
from readiness.results import (
    NOT_PROOF,
    SEVERITY,
    CheckResult,
    Finding,
    RunRecord,
    Status,
    Text,
    Verdict,
)
from readiness.serve.importing import run_from_json
from readiness.subject import Kind, Subject


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def all_text(self) -> str:
        return "".join(self.text + [c.all_text() for c in self.children])

    def find(self, pred) -> list[Node]:
        out = [self] if pred(self) else []
        for c in self.children:
            out += c.find(pred)
        return out


VOID = {"meta", "br", "img", "col", "link", "input", "hr"}


class Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].text.append(data)


def parse(html: str) -> Node:
    tree = Tree()
    tree.feed(html)
    return tree.root


def section(root: Node, **attrs: str) -> Node:
    found = root.find(lambda n: all(n.attrs.get(k) == v for k, v in attrs.items()))
    assert len(found) == 1, attrs
    return found[0]


def drill_json() -> dict:
    return json.loads(DRILL_RESULT.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("agrees")
    site = load_site(make_site(base / "site", "LAB-0001"), {"cbec", "eda"})
    doc = drill_json()
    run = run_from_json(doc)
    page = write_report(run, base / "out", profile=load_profile("cbec"), site=site,
                        pdf=False).html.read_text(encoding="utf-8")
    return {"doc": doc, "run": run, "root": parse(page)}


def _worst(items: list[dict]) -> str:
    return max((i["status"] for i in items), key=lambda s: SEVERITY[Status(s)])


def _proves(item: dict) -> bool:
    return item["status"] == "fail" or (item["status"] in ("pass", "warn")
                                        and not item["measured"].get(NOT_PROOF))


def _about(item: dict, kind: str, name: str, room: str | None) -> bool:
    s = item["subject"]
    return s["kind"] == kind and s["name"] == name and s["room"] == room


# --- the appendix ------------------------------------------------------------------------

# the words a rule's own figure is made of; another rule's figure (a disk size on a
# LAN-SPEED line) would not have them
OWN_WORDS = {
    "LAN-SPEED": ("Mbit/s", "对测", "端口"),
    "SEAT-SPEC": ("硬盘", "内存", "核"),
    "WAN-FLOOR": ("Mbit/s",),
    "CAM-RES": ("×",),
    "CAM-AUDIO": ("音轨",),
    "UPS-RUNTIME": ("分钟",),
    "LAN-SEATS": ("考位可达",),
}


def test_every_result_is_in_the_appendix_with_its_own_status_and_figure(drill: dict) -> None:
    doc, run = drill["doc"], drill["run"]
    rows = section(drill["root"], id="appendix").find(lambda n: n.tag == "tr"
                                                     and "data-check-id" in n.attrs)
    assert len(rows) == len(doc["results"]) > 300
    for n, (item, result, row) in enumerate(zip(doc["results"], run.results, rows,
                                                strict=True), 1):
        a = row.attrs
        assert a["data-n"] == str(n)
        assert a["data-check-id"] == item["id"] and a["data-requirement"] == item["requirement"]
        assert a["data-status"] == item["status"], item["id"]
        s = item["subject"]
        assert (a["data-kind"], a["data-name"], a["data-room"]) == (
            s["kind"], s["name"], s["room"] or ""), item["id"]
        shown = next(c for c in row.children if c.attrs.get("class") == "figure").all_text()
        own = result_figure(result)
        if own is None:  # no figure measured: its own message, cut to the cell
            message = item["message_i18n"]["zh"]
            assert shown.rstrip("…") == message[:len(shown.rstrip("…"))], item["id"]
            continue
        assert shown == own.zh, item["id"]
        assert "GB" not in shown or item["requirement"] == "SEAT-SPEC", (item["id"], shown)
        words = OWN_WORDS.get(item["requirement"])
        if words:
            assert any(w in shown for w in words), (item["id"], shown)


def test_appendix_figures_are_the_measured_numbers(drill: dict) -> None:
    """The issue's case and its kin, read against the JSON's own numbers."""
    rows = {r.attrs["data-check-id"]: r for r in section(drill["root"], id="appendix").find(
        lambda n: n.tag == "tr" and "data-check-id" in n.attrs)}

    def figure_of(check_id: str) -> str:
        return next(c for c in rows[check_id].children
                    if c.attrs.get("class") == "figure").all_text()

    for item in drill["doc"]["results"]:
        m = item["measured"]
        shown = figure_of(item["id"])
        if item["requirement"] == "LAN-SPEED" and isinstance(m.get("throughput_mbps"), float):
            mbps = m["throughput_mbps"]
            number = f"{mbps:.0f}" if mbps >= 100 or mbps == int(mbps) else f"{mbps:.1f}"
            assert shown == f"{number} Mbit/s", item["id"]
        elif item["requirement"] == "LAN-SPEED" and isinstance(m.get("nic_speed_mbps"), int):
            assert str(m["nic_speed_mbps"]) in shown and "硬盘" not in shown, item["id"]
        elif item["requirement"] == "SEAT-SPEC" and isinstance(m.get("disk_gb"), float):
            assert f"硬盘 {m['disk_gb']:.0f} GB" in shown and f"{m['ram_gib']:g}" in shown
        elif item["requirement"] == "CAM-RES" and "width" in m:
            assert shown.startswith(f"{m['width']}×{m['height']}"), item["id"]
        elif item["requirement"] == "CAM-AUDIO":
            assert shown.startswith("有音轨" if m["audio"] else "无音轨"), item["id"]


# --- the camera tiles ----------------------------------------------------------------------


def test_each_camera_tile_lists_every_camera_rule_with_its_status(drill: dict) -> None:
    doc = drill["doc"]
    cams = section(drill["root"], id="cameras")
    tiles = {(t.attrs["data-room"], t.attrs["data-camera"]): t
             for t in cams.find(lambda n: "data-camera" in n.attrs)}
    about_cameras = [i for i in doc["results"] if i["subject"]["kind"] == "camera"]
    names = {(i["subject"]["room"], i["subject"]["name"]) for i in about_cameras}
    assert set(tiles) == names and len(names) == 5
    for (room, name), tile in tiles.items():
        mine = [i for i in about_cameras if _about(i, "camera", name, room)]
        listed = {li.attrs["data-check-id"]: li.attrs
                  for li in tile.find(lambda n: n.tag == "li" and "data-check-id" in n.attrs)}
        assert set(listed) == {i["id"] for i in mine}, name
        for i in mine:
            assert listed[i["id"]]["data-status"] == i["status"], i["id"]
            assert listed[i["id"]]["data-requirement"] == i["requirement"]
        assert tile.attrs["data-status"] == _worst(mine), name
    # the case: cam-3 decodes 1080p but has no audio: its tile fails
    cam3 = tiles[("lab", "cam-3")]
    assert cam3.attrs["data-status"] == "fail"
    rules = {li.attrs["data-requirement"]: li.attrs["data-status"]
             for li in cam3.find(lambda n: "data-check-id" in n.attrs)}
    assert rules == {"CAM-RES": "pass", "CAM-AUDIO": "fail"}
    # the room's camera checks (a count, cameras found on the LAN) are listed under them
    in_tiles = {id(n) for t in tiles.values() for n in t.find(lambda _: True)}
    room_level = {li.attrs["data-check-id"]: li.attrs["data-status"] for li in cams.find(
        lambda n: n.tag == "li" and "data-check-id" in n.attrs and id(n) not in in_tiles)}
    expected = {i["id"]: i["status"] for i in doc["results"]
                if i["requirement"].startswith("CAM-") and i["subject"]["kind"] != "camera"}
    assert room_level == expected and expected


# --- the seat plan -------------------------------------------------------------------------


def test_each_seat_is_coloured_by_the_results_about_that_seat(drill: dict) -> None:
    doc = drill["doc"]
    cells = drill["root"].find(lambda n: "data-seat" in n.attrs)
    assert len(cells) == 40
    for cell in cells:
        name, room = cell.attrs["data-seat"], cell.attrs["data-room"]
        mine = [i for i in doc["results"] if _about(i, "seat", name, room)]
        assert mine, name
        assert cell.attrs["data-status"] == _worst(mine), name
        proven = [_proves(i) for i in mine]
        look = "all" if all(proven) else "partly" if any(proven) else "none"
        assert cell.attrs["data-verified"] == look, name
        assert f"v-{look}" in cell.attrs["class"].split()
        reach = [i for i in mine if i["requirement"] == "LAN-SUBNET" and i["aspect"] is None]
        silent = any(i["status"] == "fail" for i in reach)
        assert cell.attrs["data-answers"] == ("no" if silent else "yes"), name
        if silent:  # a seat that does not answer looks failed
            assert cell.attrs["data-status"] == "fail"
            assert "st-fail" in cell.attrs["class"].split()
    by_name = {c.attrs["data-seat"]: c.attrs for c in cells}
    # the seats that do not answer, and the seat whose agent never answered
    assert {n for n, a in by_name.items() if a["data-answers"] == "no"} == {"A13", "A21", "A32"}
    assert by_name["A09"]["data-verified"] == "partly"
    assert by_name["A01"]["data-verified"] == "all"


def test_room_wide_causes_are_listed_once_beside_the_plan(drill: dict) -> None:
    doc = drill["doc"]
    plan = section(drill["root"], id="seats-lab")
    causes = {(li.attrs["data-kind"], li.attrs["data-name"]): li.attrs["data-status"]
              for li in plan.find(lambda n: n.tag == "li" and "data-kind" in n.attrs)}
    expected: dict[tuple[str, str], list[dict]] = {}
    for i in doc["results"]:
        s = i["subject"]
        if s["room"] == "lab" and s["kind"] != "seat":
            expected.setdefault((s["kind"], s["name"]), []).append(i)
    bad = {k: _worst(v) for k, v in expected.items()
           if SEVERITY[Status(_worst(v))] >= SEVERITY[Status.WARN]}
    assert causes == bad
    assert causes[("router", "router")] == "fail" and causes[("uplink", "uplink")] == "fail"
    # and nothing about a seat among them
    assert not any(kind == "seat" for kind, _ in causes)


# --- the same rules on a run made for them ---------------------------------------------------


def _result(req: str, subject: Subject, status: Status, measured: dict | None = None,
            findings: list[Finding] | None = None, aspect: str | None = None) -> CheckResult:
    now = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    return CheckResult(req, Text(req, req), subject, "coordinator", status,
                       Text(f"{req} {status.value}", f"{req} {status.value}"),
                       measured or {}, {}, None, now, 1.0,
                       f"{req}/{subject.name}/{aspect or ''}", aspect=aspect,
                       findings=findings or [])


def test_a_finding_about_the_router_does_not_paint_the_seat(tmp_path: Path) -> None:
    """A leak seen from a seat is the router's (its judge says so in the finding's
    subject): the seat keeps its own colour, the router is listed once beside the plan.
    A seat where nothing could be checked gets the not-verified look."""
    router = Subject(Kind.ROUTER, "router", "r1", "198.18.20.1")
    seats = [Subject(Kind.SEAT, f"B{n}", "r1", f"198.18.20.{100 + n}") for n in (1, 2, 3)]
    leak = Finding("filter.leak", Text("games.example loads", "games.example 可访问"),
                   Text("fix the router's filter", "修正路由器过滤"), subject=router)
    own = Finding("seat.disk_small", Text("disk 100 GB", "硬盘 100 GB"),
                  Text("replace the disk", "更换硬盘"))
    results = [
        _result("LAN-SUBNET", seats[0], Status.PASS, {"sent": 10, "received": 10}),
        _result("WAN-POLICY", seats[0], Status.FAIL, findings=[leak]),
        _result("LAN-SUBNET", seats[1], Status.PASS, {"sent": 10, "received": 10}),
        _result("SEAT-SPEC", seats[1], Status.FAIL, {"disk_gb": 100.0}, findings=[own]),
        _result("LAN-SPEED", seats[2], Status.SKIP, {"agent": "absent"}),
        _result("WAN-POLICY", seats[2], Status.WARN, {NOT_PROOF: True}),
    ]
    run = RunRecord("S", "S1", "cbec", Text("c", "c"), results[0].started_at,
                    results[0].started_at, Verdict.NOT_READY, results, set())
    root = parse(write_report(run, tmp_path, profile=None, pdf=False).html.read_text())
    cells = {c.attrs["data-seat"]: c.attrs for c in root.find(lambda n: "data-seat" in n.attrs)}
    assert cells["B1"]["data-status"] == "pass"  # the router's leak, not B1's
    assert cells["B2"]["data-status"] == "fail"  # its own disk
    assert cells["B3"]["data-verified"] == "none" and "v-none" in cells["B3"]["class"]
    causes = {(li.attrs["data-kind"], li.attrs["data-name"]): li.attrs["data-status"]
              for li in root.find(lambda n: n.tag == "li" and "data-kind" in n.attrs)}
    assert causes == {("router", "router"): "fail"}
    text = section(root, id="seats-r1").all_text()
    assert re.search(r"未验证", text) and "WAN-POLICY" in text
