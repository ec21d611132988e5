"""The live page in a real browser: headless Chromium driven over the DevTools protocol,
on loopback only. After a run the screenshot shows the failing seats red; a second run,
played through the schedule's watchers as a real run reaches them, changes the page
check by check without a reload."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from serve_site import RUN_NOW_TOKEN, drill_doc, make_site, store_drill

from readiness.report.pdf import BASE_FLAGS, find_chromium
from readiness.results import Status
from readiness.schedule.runner import settings_from
from readiness.serve import service
from readiness.serve.importing import run_from_json
from readiness.serve.replay import replay
from readiness.subject import Kind

websocket = pytest.importorskip("websocket", reason="pip install websocket-client (test extra)")
cv2 = pytest.importorskip("cv2")

RED = (229, 57, 53)      # .fail in page.py
GREEN = (200, 230, 201)  # .pass
SHOTS = os.environ.get("READINESS_SCREENSHOTS")  # keep the PNGs to look at them


class Page:
    """One tab over the DevTools protocol: commands and their answers, events ignored."""

    def __init__(self, ws_url: str):
        self.ws = websocket.create_connection(ws_url, timeout=20, suppress_origin=True)
        self.next_id = 0

    def send(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                assert "error" not in msg, (method, msg["error"])
                return msg["result"]

    def js(self, expression: str):
        got = self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                        awaitPromise=True)
        assert "exceptionDetails" not in got, got["exceptionDetails"]
        return got["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 15.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"the page never showed: {expression}")

    def screenshot(self, width: int, name: str, tmp: Path):
        """The whole page at `width` CSS pixels, one device pixel each."""
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=800,
                  deviceScaleFactor=1, mobile=False)
        height = self.js("document.documentElement.scrollHeight")
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        import base64

        png = base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"])
        (tmp / name).write_bytes(png)
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            (Path(SHOTS) / name).write_bytes(png)
        import numpy as np

        return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)


@pytest.fixture()
def served(tmp_path: Path):
    site = make_site(tmp_path, "SITE-A")
    store_drill(tmp_path, "SITE-A")
    # a run the schedule makes ("run now") checks only SERVER-SPARE, not a rule of the lab
    # site's certificate: it sends nothing anywhere
    settings = settings_from(site, store=tmp_path / "readiness.sqlite",
                             log_path=tmp_path / "evidence.jsonl", key_dir=tmp_path / "keys",
                             jobs=tmp_path / "schedule.sqlite", only=["SERVER-SPARE"])
    s = service.start(settings, ("127.0.0.1", 0))
    try:
        yield s, tmp_path
    finally:
        service.stop(s)


@pytest.fixture()
def browser(tmp_path: Path):
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium (apt-get install chromium)")
    profile = tmp_path / "chromium"
    profile.mkdir()
    env = dict(os.environ, HOME=str(profile), XDG_CONFIG_HOME=str(profile),
               XDG_CACHE_HOME=str(profile))
    proc = subprocess.Popen(
        [binary, *BASE_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "--remote-debugging-address=127.0.0.1", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=env, start_new_session=True)
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            tab = next(t for t in json.load(r) if t["type"] == "page")
        page = Page(tab["webSocketDebuggerUrl"])
        yield page
        page.ws.close()
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)


def _seat_colours(page: Page, image) -> dict[str, tuple[int, int, int]]:
    """Each seat cell's colour, read from the screenshot inside its left padding."""
    boxes = page.js("""[...document.querySelectorAll('.seat')].map(n => {
        const r = n.getBoundingClientRect();
        return [n.dataset.label, r.left + window.scrollX, r.top + window.scrollY, r.height]; })""")
    colours = {}
    for label, x, y, h in boxes:
        bgr = image[int(y + h / 2), int(x + 3)]
        colours[label] = (int(bgr[2]), int(bgr[1]), int(bgr[0]))
    return colours


def _near(colour, target, tolerance=12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, target, strict=True))


def test_the_page_shows_failing_seats_red_and_follows_a_second_run(served, browser, tmp_path):
    s, folder = served
    page, (host, port) = browser, s.address
    page.send("Page.enable")
    page.send("Page.navigate", url=f"http://{host}:{port}/")
    page.wait_for("document.querySelectorAll('.seat').length === 40")
    # the events stream is open before the second run starts
    page.wait_for("typeof events === 'object' && events.readyState === 1")

    state = json.loads(urllib.request.urlopen(f"http://{host}:{port}/api/state").read())
    expected = {x["label"]: x["status"] for r in state["rooms"] for x in r["seats"]}
    colours = _seat_colours(page, page.screenshot(1280, "serve-after-run.png", tmp_path))
    red = {label for label, c in colours.items() if _near(c, RED)}
    assert red == {label for label, st in expected.items() if st == "fail"}
    assert red and "A09" not in red  # the drill's A09 only warns: not painted red
    # a red seat says which rule makes it red (a fast seat failing SEAT-SPEC, not a guess)
    assert "SEAT-SPEC" in page.js(
        "document.querySelector('.seat[data-label=\"A01\"] .why').textContent")
    # a seat that does not answer says so; the room's own findings are listed once
    assert "no answer" in page.js(
        "document.querySelector('.seat[data-room=\"lab\"][data-label=\"A13\"] .note')"
        ".textContent")
    assert page.js("document.querySelectorAll('.causes li[data-kind=\"router\"]').length") == 1
    last_before = page.js("document.getElementById('last').textContent")

    # a marker that a reload would wipe
    page.js("window.sameDocument = 'yes'")
    second = run_from_json(drill_doc("SITE-A"))
    second.results = [  # the seats repaired: every seat check passes
        dataclasses.replace(r, status=Status.PASS) if r.subject.kind is Kind.SEAT else r
        for r in second.results]
    done = threading.Event()
    threading.Thread(target=lambda: (replay(
        second, store=str(folder / "readiness.sqlite"), log=str(folder / "evidence.jsonl"),
        key_dir=str(folder / "keys"), job_id="second", pace_s=0.01), done.set()),
        daemon=True).start()
    # while the run goes: the page says so and lists finished checks as they come
    page.wait_for("document.getElementById('running').textContent.includes('running') &&"
                  " document.querySelectorAll('#live div').length > 0")
    # n of N while it runs: the checks finished, of all the run plans
    progress = page.wait_for("(t => /\\d+ \\/ \\d+/.test(t) && t)"
                             "(document.getElementById('running').textContent)")
    assert f"/ {len(second.results)}" in progress, progress
    assert done.wait(30)
    page.wait_for(f"document.getElementById('last').textContent !== {json.dumps(last_before)}"
                  " && !document.getElementById('running').textContent")
    assert page.js("window.sameDocument") == "yes"  # no reload: the events did it
    colours = _seat_colours(page, page.screenshot(1280, "serve-second-run.png", tmp_path))
    assert {label for label, c in colours.items() if _near(c, RED)} == set()
    assert all(_near(c, GREEN) for c in colours.values()), colours


def test_the_page_fits_a_phone(served, browser, tmp_path):
    s, _ = served
    host, port = s.address
    page = browser
    page.send("Page.navigate", url=f"http://{host}:{port}/")
    page.wait_for("document.querySelectorAll('.seat').length === 40")
    page.screenshot(400, "serve-phone.png", tmp_path)
    # nothing wider than the screen: a technician on a phone scrolls down, never sideways
    assert page.js("document.documentElement.scrollWidth <= window.innerWidth"), \
        page.js("document.documentElement.scrollWidth")


def _at(page: Page, width: int, height: int, url: str) -> None:
    page.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
              deviceScaleFactor=1, mobile=width < 600)
    page.send("Page.navigate", url=url)
    page.wait_for("document.querySelectorAll('.seat').length === 40 &&"
                  " document.querySelectorAll('ol.fixes li.fix').length > 0")


def _top(page: Page, selector: str) -> float:
    return page.js(f"document.querySelector({json.dumps(selector)})"
                   ".getBoundingClientRect().top + window.scrollY")


@pytest.mark.parametrize("width,height", [(1366, 768), (390, 844)])
def test_the_fix_list_comes_first_and_a_tapped_seat_shows_its_lines(
        served, browser, tmp_path, width, height):
    s, _ = served
    host, port = s.address
    page = browser
    _at(page, width, height, f"http://{host}:{port}/")
    first_fix, first_seat = _top(page, "ol.fixes li.fix"), _top(page, ".seat")
    # the verdict, then the numbered fix list within the first screen, before the seats
    # on a phone (beside them on a wide screen)
    assert _top(page, "#verdict") < first_fix < height - 40, (first_fix, height)
    if width < 600:
        assert first_fix < first_seat
    else:
        assert first_seat < height, first_seat
    numbers = page.js("[...document.querySelectorAll('ol.fixes li.fix .n')]"
                      ".map(n => n.textContent)")
    assert numbers[:3] == ["1.", "2.", "3."]
    # each item says where and what to do, whole, in both languages, as the console does
    state = json.loads(urllib.request.urlopen(f"http://{host}:{port}/api/state").read())
    text = page.js("document.querySelector('ol.fixes li.fix').textContent")
    first = state["fixes"][0]
    assert first["where"]["zh"] in text and first["do"]["zh"] in text and first["do"]["en"] in text
    # signed or not, the exam's countdown in the site's time, the latest report, the runs
    assert "signed" in page.js("document.getElementById('signed').textContent")
    exam = page.js("document.getElementById('exam').textContent")
    assert "exam" in exam and state["local"]["now_offset"] in exam and "in " in exam
    assert page.js("document.getElementById('report').getAttribute('href')") == "report"
    assert page.js("document.querySelectorAll('#strip a').length") == len(state["runs"]) >= 1
    # nothing wider than the screen
    assert page.js("document.documentElement.scrollWidth <= window.innerWidth")
    if width < 600:
        page.screenshot(390, "live-phone.png", tmp_path)
    else:
        page.screenshot(1366, "live-wide.png", tmp_path)
    # tapping a seat (a phone has no tooltip) shows its own lines of the fix list
    page.js("document.querySelector('.seat[data-label=\"A13\"]').click()")
    info = page.wait_for("document.getElementById('seatinfo').textContent")
    a13 = [f for f in state["fixes"] if ["lab", "A13"] in f["seats"]]
    assert a13 and all(f["do"]["en"] in info for f in a13), info
    assert page.js("document.querySelectorAll('ol.fixes li.hit').length") == len(a13)
    # the report the link opens is the latest run's, made by the service
    with urllib.request.urlopen(f"http://{host}:{port}/report") as r:
        assert r.status == 200 and "LAB" not in r.headers.get("Content-Type", "")
        assert "SITE-A" in r.read().decode()


def test_no_browser_request_leaves_loopback(served, browser):
    """Everything the page loads comes from the service itself."""
    s, _ = served
    host, port = s.address
    page = browser
    page.send("Network.enable")
    page.send("Page.navigate", url=f"http://{host}:{port}/")
    page.wait_for("document.querySelectorAll('.seat').length === 40")
    urls = page.js("performance.getEntriesByType('resource').map(e => e.name)")
    assert urls and all(u.startswith(f"http://{host}:{port}/") for u in urls), urls


def test_run_now_is_signed_in_the_browser(served, browser):
    """The page signs "run now" itself (no WebCrypto on a plain-http LAN page): its
    HMAC-SHA256 is Python's, a wrong token is refused, the right one starts a run, a
    second press joins it, and a PC whose clock is 5 minutes off still gets through."""
    s, _ = served
    s.service.scheduler.pause()  # the run stays queued: the answers depend on nothing else
    queued = lambda: [j.id for j in s.service.scheduler.get_jobs() if "-now-" in j.id]  # noqa: E731
    host, port = s.address
    page = browser
    try:
        page.send("Page.navigate", url=f"http://{host}:{port}/")
        page.wait_for("document.querySelectorAll('.seat').length === 40")
        for key, message in (("k", ""), ("立即检查-令牌", "x" * 200), ("K" * 100, "a\nb" * 40)):
            expected = hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
            assert page.js(f"hex(hmacSha256(utf8({json.dumps(key)}), "
                           f"utf8({json.dumps(message)})))") == expected

        def press(token: str, expect: str) -> str:
            page.js("document.getElementById('msg').textContent = ''")
            page.js(f"document.getElementById('token').value = {json.dumps(token)};"
                    " document.getElementById('runbtn').click()")
            return page.wait_for(f"(t => t.includes({json.dumps(expect)}) && t)"
                                 "(document.getElementById('msg').textContent)")

        press("not-the-run-now-token-0123456789", "wrong run-now token")
        assert queued() == []
        press(RUN_NOW_TOKEN, "run started")
        assert len(queued()) == 1
        press(RUN_NOW_TOKEN, "joins")
        page.js("const realNow = Date.now; Date.now = () => realNow() - 300000")
        press(RUN_NOW_TOKEN, "joins")  # refused as expired once, then signed with its time
        assert len(queued()) == 1
    finally:
        for job_id in queued():  # none left due when the service stops
            s.service.scheduler.remove_job(job_id)


if shutil.which("chromium") is None:  # keep the reason visible in -ra output
    pytestmark = pytest.mark.skip(reason="no Chromium: apt-get install chromium")
