"""The proof-of-readiness report: what an inspector reads is what the run measured,
the page loads nothing, no secret reaches it, and Chromium renders it (screen and PDF).

Chromium parts skip with the reason when Chromium is not installed, except under
CI=true, where a skipped rendering would hide that the PDF was never made.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest
from rich.console import Console

from readiness.commands.report import report
from readiness.config.load import Site, load_site
from readiness.config.profile import Profile, load_profile
from readiness.evidence.chain import EvidenceLog, verify
from readiness.evidence.keys import init_keys, load_private, load_public
from readiness.evidence.record import append_attestation
from readiness.evidence.recording import record_run
from readiness.redact import Secret
from readiness.report import find_chromium, screenshot, write_report
from readiness.report.model import attestation_rows, leaks, seat_maps
from readiness.report.style import STATUS_COLOURS
from readiness.results import CheckResult, RunRecord, Status, Text, Verdict
from readiness.store import ResultsStore
from readiness.subject import Kind, Subject

SHANGHAI = timezone(timedelta(hours=8))
T0 = datetime(2026, 12, 4, 16, 0, tzinfo=SHANGHAI)  # the eve of the exam
SITE_NAME = "实训楼考核站点"
AGENT_TOKEN = "us4b23fwKb5tL_C2OpSg114Fm4QrLQjD8tiuUCnEnG4"  # 256 bits: validate refuses less
CAMERA_PASSWORD = "Cam#Pass-8812"
SUBNET = "192.168.10"
SLOW_SEAT, DEAD_SEAT, LOSSY_SEAT = "A22", "A07", "A13"
LEAK_URL = "https://dns.alidns.com/dns-query?name=video.example.org&type=A"
BLOCKED = "video.example.org"

SITE_YAML = textwrap.dedent(f"""\
    site: {{name: {SITE_NAME}, code: GX-2026-017}}
    profile: cbec
    timezone: Asia/Shanghai
    secrets_file: secrets.yaml
    agent: {{token: "secret:agent_token"}}
    rooms:
      - id: room301
        name: 实训楼 301 机房
        subnet: {SUBNET}.0/24
        router: {{address: {SUBNET}.1}}
        exam_servers:
          primary: {{address: {SUBNET}.10}}
        proctor: {{address: {SUBNET}.2}}
        seats:
          A01-A40: {SUBNET}.101-140
        cameras:
          - name: 前门
            url: rtsp://{SUBNET}.201:554/Streaming/Channels/101
            username: admin
            password: secret:camera_password
          - name: 后墙
            url: rtsp://{SUBNET}.202:554/Streaming/Channels/101
            username: admin
            password: secret:camera_password
    """)


def need(tool: str | None, what: str) -> str:
    """The tool's path, or skip (fail under CI=true) saying what to install."""
    if tool:
        return tool
    message = f"{what} is not installed (apt-get install chromium fonts-noto-cjk poppler-utils)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {message}")
    pytest.skip(message)


# --- a realistic room: 40 seats, 2 cameras, a filter leak ---------------------------


def write_snapshot(path: Path, width: int, height: int, label: str) -> None:
    """A picture that looks like a room camera: wall, desks in rows, a timestamp."""
    image = np.full((height, width, 3), (200, 205, 210), np.uint8)
    cv2.rectangle(image, (0, int(height * .55)), (width, height), (120, 130, 140), -1)
    for row in range(4):
        y = int(height * (.58 + row * .1))
        for col in range(8):
            x = int(width * (.06 + col * .115))
            cv2.rectangle(image, (x, y), (x + int(width * .09), y + int(height * .05)),
                          (60, 90, 140), -1)
    cv2.putText(image, f"{label} 2026-12-04 16:00:07", (20, 50), cv2.FONT_HERSHEY_SIMPLEX,
                height / 900, (255, 255, 255), 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 90])


class RunBuilder:
    def __init__(self, profile: Profile, started: datetime):
        self.profile, self.started = profile, started
        self.results: list[CheckResult] = []

    def add(self, req_id: str, subject: Subject, status: Status, en: str, zh: str,
            measured: dict | None = None, threshold: dict | None = None,
            check_id: str = "", vantage: str = "coordinator",
            evidence: list[str] | None = None, aspect: str | None = None) -> None:
        req = self.profile.requirement(req_id)
        assert req is not None
        self.results.append(CheckResult(
            requirement=req_id, title=req.title, subject=subject, aspect=aspect,
            vantage=vantage,
            status=status, message=Text(en, zh), measured=measured or {},
            threshold=threshold or {}, citation=req.citation,
            started_at=self.started + timedelta(seconds=len(self.results)),
            duration_s=1.5, check_id=check_id or f"{req_id}/{subject.name}/{len(self.results)}",
            evidence=evidence or []))

    def record(self, verdict: Verdict) -> RunRecord:
        return RunRecord(
            site_name=SITE_NAME, site_code="GX-2026-017", profile_id="cbec",
            certificate=self.profile.certificate, started_at=self.started,
            finished_at=self.started + timedelta(minutes=4, seconds=12), verdict=verdict,
            results=self.results, required=self.profile.required_ids)


def seat(n: int) -> tuple[str, str]:
    return f"A{n:02d}", f"{SUBNET}.{100 + n}"


ROOM = Subject(Kind.ROOM, "room301", "room301")
ROUTER = Subject(Kind.ROUTER, "router", "room301", f"{SUBNET}.1")


def seat_subject(label: str, addr: str) -> Subject:
    return Subject(Kind.SEAT, label, "room301", addr)


def camera(name: str) -> Subject:
    return Subject(Kind.CAMERA, name, "room301")


def full_run(profile: Profile, started: datetime) -> RunRecord:
    b = RunBuilder(profile, started)
    b.add("LAN-SUBNET", Subject(Kind.PROCTOR, "proctor", "room301", f"{SUBNET}.2"), Status.PASS,
          "proctor is in the room subnet", "监考机在考场网段内",
          {"address": f"{SUBNET}.2", "subnet": f"{SUBNET}.0/24"}, {"same_subnet": True},
          "LAN-SUBNET/room301/proctor/subnet", "configuration")
    for n in range(1, 41):
        label, addr = seat(n)
        target = seat_subject(label, addr)
        reach_id = f"LAN-SUBNET/room301/{addr}/reach"
        th = {"warn_loss_pct": 0, "fail_loss_pct": 20, "warn_rtt_ms": 5}
        if label == DEAD_SEAT:
            b.add("LAN-SUBNET", target, Status.FAIL, f"{addr} does not answer (10/10 lost)",
                  f"{addr} 无应答（10 个全部丢失）", {"loss_pct": 100, "sent": 10}, th,
                  reach_id)
        elif label == LOSSY_SEAT:
            b.add("LAN-SUBNET", target, Status.WARN, "1 of 10 pings lost",
                  "10 个 ping 丢失 1 个", {"loss_pct": 10, "rtt_avg_ms": 0.41}, th, reach_id)
        else:
            b.add("LAN-SUBNET", target, Status.PASS, "answers", "可达",
                  {"loss_pct": 0, "rtt_avg_ms": 0.3 + n / 100}, th, reach_id)
    b.add("LAN-SEATS", ROOM, Status.FAIL,
          "only 39 of 40 seats answer; the rule needs 40",
          "40 个考位中仅 39 个可达，规定至少 40 个",
          {"working_seats": 39, "configured_seats": 40},
          {"min_seats": 40, "recommended_seats": 40}, "LAN-SEATS/room301")
    speed_th = {"gigabit_class_min_mbps": 500, "fast_ethernet_class_min_mbps": 80,
                "required_class": "fast_ethernet"}
    for n in range(1, 41):
        label, addr = seat(n)
        target = seat_subject(label, addr)
        speed_id = f"LAN-SPEED/room301/{addr}/send"
        if label == DEAD_SEAT:
            b.add("LAN-SPEED", target, Status.ERROR, f"no agent answers on {addr}",
                  f"{addr} 上没有代理应答", {}, speed_th, speed_id, f"agent {label}")
        elif label == SLOW_SEAT:
            b.add("LAN-SPEED", target, Status.WARN,
                  "94.1 Mbit/s: a 100M path (meets the minimum, not gigabit)",
                  "94.1 Mbit/s：百兆级路径（满足最低要求，未达千兆）",
                  {"throughput_mbps": 94.1, "link_class": "fast_ethernet"}, speed_th,
                  speed_id, f"agent {label}")
        else:
            b.add("LAN-SPEED", target, Status.PASS, "gigabit-class path", "千兆级路径",
                  {"throughput_mbps": 941.0 - n / 2, "link_class": "gigabit"}, speed_th,
                  speed_id, f"agent {label}")
    b.add("WAN-FLOOR", Subject(Kind.UPLINK, "uplink", "room301"), Status.PASS, "212 Mbit/s down",
          "下行 212 Mbit/s", {"throughput_mbps": 212.5, "direction": "download"},
          {"floor_mbps": 100})
    b.add("WAN-POLICY", seat_subject("A03", f"{SUBNET}.103"), Status.PASS,
          "the exam site answers from seat A03", "考生机 A03 可访问考试网站",
          {"http_status": 200}, {"candidates_internet": "exam_sites_only"},
          vantage=f"agent A03 ({SUBNET}.103)")
    b.add("WAN-POLICY", Subject(Kind.FILTER_TARGET, BLOCKED, "room301"), Status.FAIL,
          f"{BLOCKED} answered from seat A03: the router lets it through",
          f"考生机 A03 可访问 {BLOCKED}：路由器未拦截",
          {"request": {"method": "GET", "url": f"http://{BLOCKED}/", "source": f"{SUBNET}.103",
                       "headers": {"X-Readiness-Token": AGENT_TOKEN}},
           "leak": "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<title>视频</title>",
           "http_status": 200},
          {"candidates_internet": "exam_sites_only"}, vantage=f"agent A03 ({SUBNET}.103)")
    b.add("FILTER-FEATURES", ROUTER, Status.FAIL,
          "DNS-over-HTTPS resolves the blocked name: the DNS filter can be bypassed",
          "通过 DNS-over-HTTPS 可解析被封锁域名：DNS 过滤可被绕过",
          {"request": f"GET {LEAK_URL} (accept: application/dns-json)",
           "leak": {"Answer": [{"name": BLOCKED, "type": 1, "data": "203.0.113.9"}]},
           "bypass": "doh"}, {"features": ["dns"]}, vantage=f"agent A03 ({SUBNET}.103)")
    b.add("CAM-COUNT", ROOM, Status.PASS, "2 of 2 cameras deliver a live picture",
          "2 路摄像头均有实时画面", {"working_cameras": 2}, {"min_cameras": 2})
    b.add("CAM-RES", camera("前门"), Status.PASS, "1920×1080 at 25 fps, live",
          "1920×1080，25 帧/秒，画面实时",
          {"width": 1920, "height": 1080, "fps": 25.0, "megapixels": 2.07},
          {"min_width": 1920, "min_height": 1080}, evidence=["snapshots/cam-front.jpg"])
    b.add("CAM-RES", camera("后墙"), Status.FAIL,
          f"1280×720 is below 1080P (rtsp://admin:{CAMERA_PASSWORD}@{SUBNET}.202/...)",
          "1280×720 低于 1080P", {"width": 1280, "height": 720, "fps": 25.0},
          {"min_width": 1920, "min_height": 1080}, evidence=["snapshots/cam-back.jpg"])
    b.add("UPS-RUNTIME", ROOM, Status.SKIP, "not measured yet (no UPS configured)",
          "尚未测量（未配置 UPS）")
    return b.record(Verdict.NOT_READY)


def earlier_run(profile: Profile, started: datetime, uplink: float, slowest: float,
                working: int) -> RunRecord:
    b = RunBuilder(profile, started)
    b.add("WAN-FLOOR", Subject(Kind.UPLINK, "uplink", "room301"), Status.PASS, "ok", "正常",
          {"throughput_mbps": uplink})
    for n in range(1, 41):
        label, addr = seat(n)
        b.add("LAN-SPEED", seat_subject(label, addr), Status.PASS, "ok", "正常",
              {"throughput_mbps": slowest if n == 22 else 940.0})
    b.add("LAN-SEATS", ROOM, Status.PASS, "ok", "正常", {"working_seats": working})
    b.add("CAM-RES", camera("前门"), Status.PASS, "ok", "正常")
    return b.record(Verdict.READY)


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Site file, keys, evidence log (attestation + this run), store with 3 runs."""
    base = tmp_path_factory.mktemp("report")
    (base / "site.yaml").write_text(SITE_YAML, encoding="utf-8")
    secrets = base / "secrets.yaml"
    secrets.write_text(f"agent_token: {AGENT_TOKEN}\ncamera_password: '{CAMERA_PASSWORD}'\n")
    secrets.chmod(0o600)
    site = load_site(base / "site.yaml", {"cbec", "eda"})
    profile = load_profile("cbec")
    runs = base / "runs"
    write_snapshot(runs / "snapshots" / "cam-front.jpg", 1920, 1080, "FRONT")
    write_snapshot(runs / "snapshots" / "cam-back.jpg", 1280, 720, "BACK")
    keys = base / "keys"
    init_keys(keys)
    log_path = runs / "evidence.jsonl"
    store_path = runs / "readiness.sqlite"
    store = ResultsStore(store_path)
    store.save_run(earlier_run(profile, T0 - timedelta(days=2), 180.0, 930.0, 40), "schedule")
    store.save_run(earlier_run(profile, T0 - timedelta(days=1), 95.0, 610.0, 40), "schedule")
    append_attestation(EvidenceLog(log_path, load_private(keys)), "王老师", "考务组长",
                       {"staff": "6", "seat_spacing": True, "evacuation": False},
                       "后门疏散通道堆放桌椅", site=SITE_NAME, profile="cbec")
    run = full_run(profile, T0)
    recorded = record_run(run, site.secrets.values(), trigger="schedule", log_path=log_path,
                          key_dir=keys, store_path=store_path, evidence_dir=runs)
    return {"base": base, "site": site, "profile": profile, "keys": keys, "log": log_path,
            "store_path": store_path, "run": run, "recorded": recorded, "runs": runs}


def console_text() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=200, highlight=False, color_system=None), buf


@pytest.fixture(scope="module")
def made(room: dict) -> dict:
    """`readiness report --latest` end to end (HTML and, with Chromium, the PDF)."""
    console, buf = console_text()
    out = room["base"] / "out"
    code = report(console, room["store_path"], out, latest=True, evidence_log=room["log"],
                  key_dir=room["keys"], lang="zh", config=room["base"] / "site.yaml",
                  evidence_dir=room["runs"])
    htmls = sorted(out.glob("*.html"))
    return {"code": code, "console": buf.getvalue(), "out": out,
            "html": htmls[0] if htmls else None, "text": htmls[0].read_text() if htmls else ""}


# --- what the page says ------------------------------------------------------------------


def test_the_command_writes_the_report_of_the_latest_run(made: dict, room: dict) -> None:
    assert made["code"] == 0, made["console"]
    # the site's time, with its offset: the name says which zone it was written in
    assert made["html"].name == "report-GX-2026-017-20261204-160000+0800.html"
    assert "报告" in made["console"] and room["recorded"].head in made["console"]


def test_overall_verdict_site_and_certificate(made: dict) -> None:
    page = made["text"]
    assert '<div class="verdict not_ready">' in page
    assert "未就绪" in page and "NOT READY" in page
    assert SITE_NAME in page and "GX-2026-017" in page
    assert "跨境电子商务多平台运营" in page and "Cross-border E-commerce" in page
    # why it is not ready, by requirement
    def reason(label: str) -> list[str]:
        line = re.search(rf'<p data-reason="{label}">(.*?)</p>', page, re.S).group(1)
        return re.findall(r'<span class="mono rule-id">([A-Z-]+)</span>', line)

    assert reason("failed") == ["CAM-RES", "FILTER-FEATURES", "LAN-SEATS", "LAN-SUBNET",
                                "WAN-POLICY"]
    assert reason("could not be checked") == ["LAN-SPEED"]  # A07's agent


def test_every_requirement_with_verdict_citation_measured_and_threshold(
        made: dict, room: dict) -> None:
    page = made["text"]
    profile: Profile = room["profile"]
    for req in profile.requirements:
        assert f'<strong class="mono">{req.id}</strong>' in page, req.id
        if req.citation:
            assert req.citation.article in page and req.citation.original in page, req.id
    # LAN-SPEED's deciding check is its worst: the seat that could not be measured
    speed = page[page.index('<strong class="mono">LAN-SPEED</strong>'):]
    speed = speed[:speed.index("</tr>")]
    assert "st-error" in speed and DEAD_SEAT in speed
    # thresholds in plain words in both languages, never a config key
    assert "gigabit class from 500 Mbit/s" in speed and "千兆级：500 Mbit/s 起" in speed
    assert "gigabit_class_min_mbps" not in speed
    # the slow seat's figure is on its own line of the appendix
    appendix = page[page.index('id="appendix"'):]
    assert re.search(rf'data-requirement="LAN-SPEED" data-status="warn" data-kind="seat" '
                     rf'data-name="{SLOW_SEAT}"[^>]*>.*?<td class="figure">94.1 Mbit/s</td>',
                     appendix)
    wan = page[page.index('<strong class="mono">WAN-FLOOR</strong>'):]
    wan = wan[:wan.index("</tr>")]
    assert "<strong>212 Mbit/s</strong>" in wan and "at least 100 Mbit/s each way" in wan
    assert "floor_mbps" not in wan


def test_seat_map_has_one_cell_per_seat_coloured_by_its_worst_result(made: dict) -> None:
    page = made["text"]
    cells = re.findall(r'data-seat="([^"]+)" data-room="room301" data-status="([^"]+)"', page)
    assert len(cells) == 40
    status = dict(cells)
    assert status[DEAD_SEAT] == "fail"  # ping fail beats the agent error
    assert status[LOSSY_SEAT] == "warn" and status[SLOW_SEAT] == "warn"
    assert status["A01"] == "pass"
    assert list(status) == [f"A{n:02d}" for n in range(1, 41)]  # natural order
    assert "940 Mb/s" in page and "94 Mb/s" in page


def test_camera_snapshots_are_embedded_downscaled_with_the_original_hash(
        made: dict, room: dict) -> None:
    page = made["text"]
    uris = re.findall(r'<img src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(uris) == 2
    import base64
    for uri in uris:
        image = cv2.imdecode(np.frombuffer(base64.b64decode(uri), np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape[1] <= 640
    original = (room["runs"] / "snapshots" / "cam-front.jpg").read_bytes()
    assert hashlib.sha256(original).hexdigest() in page


def test_every_leak_is_shown_with_its_exact_request(made: dict) -> None:
    page = made["text"]
    leaks_part = page[page.index('id="filter"'):page.index('id="trends"')]
    assert leaks_part.count("<li>") == 2
    assert "GET https://dns.alidns.com/dns-query?name=video.example.org&amp;type=A" in leaks_part
    assert leaks_part.count("<pre") == 2  # request and answer of each, in one box
    assert "203.0.113.9" in leaks_part
    assert f'"url": "http://{BLOCKED}/"' in leaks_part.replace("&#34;", '"')
    assert "agent A03" in leaks_part and "HTTP/1.1 200 OK" in leaks_part


def test_attestation_checklist_names_who_attested_and_leaves_boxes_to_sign(
        made: dict) -> None:
    page = made["text"]
    part = page[page.index('id="attestations"'):page.index('id="evidence"')]
    assert "王老师" in part and "考务组长" in part and "后门疏散通道堆放桌椅" in part
    rows = part.split("<tr>")[2:]
    by_id = {re.search(r'mono small muted">([A-Z-]+)<', r).group(1): r for r in rows}
    assert "<strong>6</strong>" in by_id["STAFF-COUNT"]
    assert "✓" in by_id["SEAT-SPACING"] and "✗" in by_id["EVACUATION"]
    # nobody attested these: an empty box and lines for a signature
    for blank in ("PROCTOR-RATIO", "EXAM-OFFICE", "LIGHTING-VENTILATION"):
        assert '<span class="box"></span>' in by_id[blank] and "sign-line" in by_id[blank]


def test_chain_head_fingerprint_and_the_command_that_verifies_them(
        made: dict, room: dict) -> None:
    page = made["text"]
    checked = verify(room["log"], load_public(room["keys"]))
    assert checked.ok and checked.head == room["recorded"].head
    assert checked.head in page and checked.key in page
    command = (f"readiness verify {room['log']} --pub {room['keys'] / 'site.pub'} "
               f"--head {checked.head}")
    assert command in page
    assert room["recorded"].evidence_ref in page


def test_no_secret_and_no_external_request(made: dict) -> None:
    page = made["text"]
    assert AGENT_TOKEN not in page and CAMERA_PASSWORD not in page
    assert "rtsp://admin:***@" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"<(script|link|iframe|object|embed)\b", page, re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.I)
    assert "url(" not in page and "@import" not in page


def test_trends_are_inline_svg_with_the_three_runs(made: dict) -> None:
    page = made["text"]
    part = page[page.index('id="trends"'):page.index('id="attestations"')]
    assert part.count("<svg") == 4
    uplink = part[:part.index("</figure>")]
    assert uplink.count("<circle") == 3  # three runs, the current one ringed
    assert 'stroke="#111"' in uplink and "min 100" in uplink
    assert 'fill="#d63a3a"' in uplink  # the 95 Mbit/s run is below the floor
    # every chart whose rule sets a minimum draws it: the cameras' too (CAM-COUNT's)
    figures = part.split("</figure>")[:4]
    assert all("min " in f for f in figures), [f[-300:] for f in figures]


def test_a_first_run_draws_no_trend(room: dict, tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "one.sqlite")
    store.save_run(room["run"], "manual")
    run = store.latest_run()
    page = write_report(run, tmp_path / "out", profile=room["profile"], site=room["site"],
                        store=store, pdf=False).html.read_text(encoding="utf-8")
    part = page[page.index('id="trends"'):page.index('id="attestations"')]
    assert "<svg" not in part and "second stored run" in part


def test_report_without_store_evidence_or_site_still_says_what_it_lacks(
        room: dict, tmp_path: Path) -> None:
    token = Secret(AGENT_TOKEN, "${AGENT_TOKEN}")
    files = write_report(room["run"], tmp_path, profile=room["profile"], pdf=False,
                         secrets=[token])
    page = files.html.read_text()
    assert files.pdf is None and files.pdf_problem is None
    assert AGENT_TOKEN not in page and '"X-Readiness-Token": "***"' in page.replace(
        "&#34;", '"')
    assert "本报告未附签名证据日志" in page and "Not backed by a signed evidence log" in page
    assert "未提供结果库" in page
    # without the site file the seats come from the results, by room
    assert len(re.findall(r'data-seat="', page)) == 40
    assert "<title>" in page and room["run"].site_name in page


def test_english_first_when_asked(room: dict, tmp_path: Path) -> None:
    files = write_report(room["run"], tmp_path, profile=room["profile"], lang_primary="en",
                         pdf=False)
    page = files.html.read_text()
    assert '<html lang="en">' in page
    assert page.index("Proof of exam-room readiness") < page.index("考点就绪证明")


def test_a_log_that_does_not_verify_gives_no_report(room: dict, tmp_path: Path) -> None:
    log = tmp_path / "evidence.jsonl"
    lines = room["log"].read_bytes().splitlines(keepends=True)
    record = json.loads(lines[1])
    record["body"]["status"] = "pass"  # someone turns a failure into a pass
    lines[1] = json.dumps(record, ensure_ascii=False, sort_keys=True,
                          separators=(",", ":")).encode() + b"\n"
    log.write_bytes(b"".join(lines))
    console, buf = console_text()
    code = report(console, room["store_path"], tmp_path / "out", latest=True,
                  evidence_log=log, key_dir=room["keys"], lang="en", pdf=False)
    assert code == 1
    assert "does not verify" in buf.getvalue() and "line 2" in buf.getvalue()
    assert not list((tmp_path / "out").glob("*.html")) if (tmp_path / "out").exists() else True


def test_usage_errors(room: dict, tmp_path: Path) -> None:
    console, buf = console_text()
    assert report(console, tmp_path / "none.sqlite", tmp_path, lang="en") == 2
    assert "no results store" in buf.getvalue()
    console, buf = console_text()
    assert report(console, room["store_path"], tmp_path, run_id=999, lang="zh") == 2
    assert "没有第 999 次检查" in buf.getvalue()


def test_missing_chromium_writes_the_html_and_says_how_to_get_the_pdf(
        room: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READINESS_CHROMIUM", str(tmp_path / "no-such-chromium"))
    console, buf = console_text()
    code = report(console, room["store_path"], tmp_path / "out", latest=True, lang="en")
    assert code == 0
    assert list((tmp_path / "out").glob("*.html")) and not list((tmp_path / "out").glob("*.pdf"))
    assert "apt-get install chromium" in buf.getvalue().replace("\n", " ")


# --- the model behind the page -----------------------------------------------------------


def test_a_seat_is_the_worst_of_the_results_that_name_it(room: dict) -> None:
    site: Site = room["site"]
    maps = seat_maps(room["run"], site)
    assert [m.room_id for m in maps] == ["room301"]
    cells = {c.label: c for c in maps[0].cells}
    assert cells[DEAD_SEAT].status == Status.FAIL and len(cells[DEAD_SEAT].results) == 2
    assert cells[SLOW_SEAT].throughput_mbps == pytest.approx(94.1)
    assert cells[DEAD_SEAT].throughput_mbps is None
    # each cell holds exactly the results about its own seat
    for label, cell in cells.items():
        assert all(r.subject.kind is Kind.SEAT and (r.subject.name, r.subject.room)
                   == (label, "room301") for r in cell.results), label
    assert {id(r) for c in cells.values() for r in c.results} == {
        id(r) for r in room["run"].results if r.subject.kind is Kind.SEAT}
    # the room's own findings are beside the plan, not on the seats
    causes = {(c.subject.kind, c.subject.name): c.status for c in maps[0].causes}
    assert causes == {(Kind.ROOM, "room301"): Status.FAIL, (Kind.ROUTER, "router"): Status.FAIL,
                      (Kind.FILTER_TARGET, BLOCKED): Status.FAIL,
                      (Kind.CAMERA, "后墙"): Status.FAIL}


def test_attestation_items_map_onto_the_profile_checklist(room: dict) -> None:
    records = [
        {"type": "attestation", "seq": 3, "at": "2026-12-04T08:00:00+00:00",
         "body": {"person": "甲", "role": "组长", "items": {"staff": "5", "lighting": True}}},
        {"type": "attestation", "seq": 9, "at": "2026-12-04T09:00:00+00:00",
         "body": {"person": "乙", "role": "组长", "items": {"staff": "7", "note_x": "ok"}}},
        {"type": "attestation", "seq": 10, "at": "2026-12-04T09:30:00+00:00",
         "body": {"person": "丙", "role": "其他考点", "site": "another site",
                  "items": {"seat_spacing": False}}},
    ]
    rows = {r.id: r for r in attestation_rows(room["profile"], records, room["run"])}
    assert rows["STAFF-COUNT"].value == "7" and rows["STAFF-COUNT"].person == "乙"
    assert rows["LIGHTING-VENTILATION"].value is True and rows["LIGHTING-VENTILATION"].seq == 3
    assert rows["SEAT-SPACING"].value is None  # another site's attestation
    assert rows["NOTE-X"].value == "ok"  # attested but not on the checklist: still shown


def test_only_failed_filter_results_are_leaks(room: dict) -> None:
    found = leaks(room["run"])
    assert [x.result.requirement for x in found] == ["WAN-POLICY", "FILTER-FEATURES"]
    assert found[1].items[0].request.startswith("GET https://dns.alidns.com/")
    assert found[1].other == {"bypass": "doh"}


def test_url_filter_audit_attempts_become_one_leak_item_each(room: dict) -> None:
    """The url_filter probe's shape: every attempt, `leak` true where it got through,
    and the exam sites with `ok`."""
    profile: Profile = room["profile"]
    b = RunBuilder(profile, T0)
    b.add("WAN-POLICY", seat_subject("A03", f"{SUBNET}.103"), Status.FAIL,
          "2 request(s) that must be blocked got through", "2 个应被拦截的请求可以访问",
          {"audit": "url_filter", "mode": "exam_sites_only", "in_exam_window": True,
           "attempts": [
               {"technique": "plain", "request": f"GET http://{BLOCKED}/", "result":
                "dns_nxdomain", "leak": False, "blocked_by": "dns_nxdomain"},
               {"technique": "direct_ip", "request": "GET http://203.0.113.9/ Host: "
                f"{BLOCKED}", "result": "HTTP 200, 5120 bytes", "leak": True},
               {"technique": "doh", "request": f"GET {LEAK_URL}", "result": "203.0.113.9",
                "leak": True}],
           "leaks": ["(same attempts as text)"],
           "exam": [{"url": "https://exam.example.com/", "ok": False,
                     "requests": ["GET https://exam.example.com/"],
                     "detail": "TLS reset after ClientHello", "why": "tls_sni_reset"}]})
    found = leaks(b.record(Verdict.NOT_READY))
    items = found[0].items
    assert [(i.technique, i.exam_blocked) for i in items] == [
        ("direct_ip", False), ("doh", False), (None, True)]
    assert items[1].request == f"GET {LEAK_URL}" and items[1].answer == "203.0.113.9"
    assert items[2].answer == "TLS reset after ClientHello"
    assert found[0].other == {"audit": "url_filter", "mode": "exam_sites_only",
                              "in_exam_window": True}
    page = write_report(b.record(Verdict.NOT_READY), room["base"] / "audit", profile=profile,
                        pdf=False).html.read_text()
    part = page[page.index('id="filter"'):page.index('id="trends"')]
    # one matrix row for the blocked name: blocked by name, leaked by address and DoH
    assert part.count('<td class="cell leaked">') == 2
    assert "DNS NXDOMAIN" in part  # how the plain request was blocked, in words
    leak_lines = part[part.index('class="leaklines'):]
    assert "GET http://203.0.113.9/ Host: video.example.org → HTTP 200, 5120 bytes" in leak_lines
    assert "dns_nxdomain" not in leak_lines  # blocked: not a leak
    assert "TLS reset after ClientHello" in part  # the exam site that did not load


# --- rendered by Chromium ----------------------------------------------------------------


def _near(image: np.ndarray, hex_colour: str, tolerance: int = 12) -> int:
    rgb = [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]
    bgr = np.array(rgb[::-1], np.int16)
    return int((np.abs(image.astype(np.int16) - bgr).max(axis=2) <= tolerance).sum())


def chinese_font() -> str | None:
    fc_list = shutil.which("fc-list")
    if not fc_list:
        return None
    out = subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True,
                         timeout=30).stdout
    return out.strip() or None


def test_screenshot_shows_the_seat_map_in_its_colours(made: dict, tmp_path: Path) -> None:
    binary = need(find_chromium(), "Chromium")
    need(chinese_font(), "a Chinese font (fonts-noto-cjk)")
    png = tmp_path / "seats.png"
    result = screenshot(made["html"], png, width=1280, height=4000, binary=binary)
    assert result.ok, result.problem
    image = cv2.imread(str(png))
    assert image is not None and image.shape[:2] == (4000, 1280)
    assert float(image.std()) > 20, "the screenshot is blank"
    # the page is long: render the seat-map section alone (same styles) and count
    # the cells' fills there
    page = made["text"]
    start = page.index('<section class="room"')
    end = page.index("</section>", start) + len("</section>")
    seat_page = tmp_path / "seat-map.html"
    seat_page.write_text(page[:page.index("<main")] + '<main class="page">' + page[start:end]
                         + "</main></body></html>", encoding="utf-8")
    png2 = tmp_path / "seat-map.png"
    assert screenshot(seat_page, png2, width=1280, height=1400, binary=binary).ok
    seats = cv2.imread(str(png2))
    green = _near(seats, STATUS_COLOURS[Status.PASS][0])
    red = _near(seats, STATUS_COLOURS[Status.FAIL][0])
    amber = _near(seats, STATUS_COLOURS[Status.WARN][0])
    # 37 green cells, 1 red, 2 amber (cells are ~85x60 px; badges and legend are small)
    assert green > 37 * 2500, green
    assert red > 2500 and amber > 2 * 2500, (red, amber)
    assert green > 10 * red


def test_pdf_is_a4_and_its_pages_render(made: dict, tmp_path: Path) -> None:
    need(find_chromium(), "Chromium")
    pdftoppm = need(shutil.which("pdftoppm"), "pdftoppm (poppler-utils)")
    pdfs = sorted(made["out"].glob("*.pdf"))
    assert len(pdfs) == 1, made["console"]
    assert pdfs[0].read_bytes().startswith(b"%PDF-")
    subprocess.run([pdftoppm, "-png", "-r", "40", str(pdfs[0]), str(tmp_path / "page")],
                   check=True, timeout=120)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 8  # a page break before every section
    first = cv2.imread(str(pages[0]))
    assert first is not None and float(first.std()) > 20, "the first page is blank"
    # A4 portrait: 210 x 297 mm
    height, width = first.shape[:2]
    assert abs(height / width - 297 / 210) < 0.02
    # the Chinese text is real text in the PDF (an inspector can search and copy it);
    # Chromium embeds the CJK font as nameless Type 3, so its name cannot be checked
    need(chinese_font(), "a Chinese font (fonts-noto-cjk)")
    pdftotext = need(shutil.which("pdftotext"), "pdftotext (poppler-utils)")
    text = subprocess.run([pdftotext, "-l", "1", str(pdfs[0]), "-"], capture_output=True,
                          text=True, timeout=60).stdout
    assert "考点就绪证明" in text and "未就绪" in text
    pdfinfo = shutil.which("pdfinfo")
    if pdfinfo:
        info = subprocess.run([pdfinfo, str(pdfs[0])], capture_output=True, text=True,
                              timeout=60).stdout
        assert "(A4)" in info, info
