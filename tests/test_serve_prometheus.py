"""The real engine: two simulated sites, each `readiness serve` scraped by a Prometheus in
agent mode that remote-writes to a provincial Prometheus in another namespace (lab
addresses 198.18.200.0/24 only). The province names each site's failing seats, and every
Grafana panel's query returns series there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml
from serve_site import REPO, make_site, store_drill

from readiness.serve.alert_rules import alert_rules
from readiness.serve.dashboard import dashboard, panel_queries
from readiness.serve.deploy_files import province_config, site_agent_config
from readiness.serve.expected_sites import expected_rules, read_sites

pytestmark = pytest.mark.lab
PREFIX = f"rdyt{os.getpid()}"
SITES = {"SITE-A": ("198.18.200.1", "198.18.200.2"), "SITE-B": ("198.18.200.5", "198.18.200.6")}


def _need() -> None:
    if os.geteuid() != 0 or not shutil.which("prometheus") or not shutil.which("ip"):
        msg = "needs root, iproute2 and Debian's prometheus"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)


def _sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


def _query(ns: str, expr: str) -> list[dict]:
    url = "http://127.0.0.1:9090/api/v1/query?query=" + urllib.parse.quote(expr)
    out = subprocess.run(["ip", "netns", "exec", ns, "curl", "-sf", url], capture_output=True,
                         timeout=15)
    if out.returncode != 0:
        return []
    return json.loads(out.stdout)["data"]["result"]


@pytest.fixture()
def province(tmp_path: Path):
    _need()
    prov = f"{PREFIX}p"
    procs: list[subprocess.Popen] = []
    serving: dict[str, tuple[subprocess.Popen, Path]] = {}
    names = [prov] + [f"{PREFIX}{i}" for i in range(len(SITES))]
    try:
        for ns in names:
            _sh("ip", "netns", "add", ns)
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
        for i, (code, (site_addr, prov_addr)) in enumerate(SITES.items()):
            ns, folder = f"{PREFIX}{i}", tmp_path / code
            a, b = f"{PREFIX}s{i}"[:15], f"{PREFIX}q{i}"[:15]
            _sh("ip", "link", "add", a, "netns", ns, "type", "veth", "peer", "name", b,
                "netns", prov)
            _sh("ip", "-n", ns, "addr", "add", f"{site_addr}/30", "dev", a)
            _sh("ip", "-n", prov, "addr", "add", f"{prov_addr}/30", "dev", b)
            _sh("ip", "-n", ns, "link", "set", a, "up")
            _sh("ip", "-n", prov, "link", "set", b, "up")
            site = make_site(folder, code)
            data = yaml.safe_load(site.read_text(encoding="utf-8"))
            data["site"].update({"province": "GD", "city": "Guangzhou"})
            site.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                            encoding="utf-8")
            # site A: the drill as recorded (failing seats); site B: its seats fixed
            store_drill(folder, code, fix_seats=(code == "SITE-B"))
            # the code under test, not whichever `readiness` is installed on PATH (an
            # older one refuses this site file and the province would just see nothing)
            serve = subprocess.Popen(
                ["ip", "netns", "exec", ns, sys.executable, "-m", "readiness", "serve",
                 str(site), "--store",
                 str(folder / "readiness.sqlite"), "--log", str(folder / "evidence.jsonl"),
                 "--dir", str(folder / "keys"), "--jobs", str(folder / "schedule.sqlite"),
                 "--listen", "127.0.0.1:9477"], cwd=REPO,
                stdout=subprocess.DEVNULL, stderr=open(folder / "serve.log", "w"))
            procs.append(serve)
            serving[code] = (serve, folder / "serve.log")
            agent = site_agent_config(serve_target="127.0.0.1:9477",
                                      province_url=f"http://{prov_addr}:9090/api/v1/write",
                                      province="GD", city="Guangzhou", site=code,
                                      scrape_interval="2s",
                                      # TLS and passwords: tests/test_province_alerts.py
                                      password_file=None, ca_file=None)
            (folder / "agent.yml").write_text(yaml.safe_dump(agent))
            procs.append(subprocess.Popen(
                ["ip", "netns", "exec", ns, "prometheus", "--enable-feature=agent",
                 "--config.file", str(folder / "agent.yml"), "--storage.agent.path",
                 str(folder / "agent-data"), "--web.listen-address", "127.0.0.1:9090"],
                stdout=subprocess.DEVNULL, stderr=open(folder / "agent.log", "w")))
        # the province: its expected-sites list from the site files it received, the
        # rules evaluated every 2 s (the panels read the list's readiness:* series)
        (tmp_path / "prov").mkdir()
        (tmp_path / "prov" / "expected.yml").write_text(yaml.safe_dump(expected_rules(
            read_sites([tmp_path / code / "site.yaml" for code in SITES]), interval="2s")))
        (tmp_path / "prov" / "rules.yml").write_text(yaml.safe_dump(
            alert_rules(interval="2s"), allow_unicode=True))
        (tmp_path / "prov" / "province.yml").write_text(yaml.safe_dump(province_config(
            rules_files=(str(tmp_path / "prov" / "expected.yml"),
                         str(tmp_path / "prov" / "rules.yml")), alertmanager=None)))
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", prov, "prometheus", "--config.file",
             str(tmp_path / "prov" / "province.yml"), "--web.enable-remote-write-receiver",
             "--storage.tsdb.path", str(tmp_path / "prov" / "data"),
             "--web.listen-address", "0.0.0.0:9090"],
            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prov" / "log", "w")))
        yield prov, serving
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        for ns in names:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def test_two_sites_report_to_the_province(province):
    from serve_site import drill_doc

    from readiness.results import Status
    from readiness.serve.importing import run_from_json
    from readiness.subject import Kind

    run = run_from_json(drill_doc("SITE-A"))
    seats = [r for r in run.results if r.subject.kind is Kind.SEAT and r.status is not
             Status.SKIP]
    prov, serving = province
    deadline = time.monotonic() + 90
    # remote write delivers a scrape's series in batches: wait for every seat's series of
    # both sites, not just the first to arrive
    every = {(code, r.subject.name) for code in SITES for r in seats}
    shown: set[tuple[str, str]] = set()
    found: dict[str, set[str]] = {}
    while time.monotonic() < deadline:
        for code, (serve, log) in serving.items():
            assert serve.poll() is None, f"readiness serve of {code} exited: {log.read_text()}"
        rows = _query(prov, "readiness_seat_success")
        shown = {(r["metric"].get("site"), r["metric"].get("name")) for r in rows}
        if every <= shown:
            for r in rows:
                if r["value"][1] == "0":
                    found.setdefault(r["metric"]["site"], set()).add(r["metric"]["name"])
            break
        time.sleep(2)
    assert found.get("SITE-A"), f"no failing seat of SITE-A at the province: {found}; " \
        f"seats not shown: {sorted(every - shown)}"
    assert "SITE-B" not in found  # its seats were fixed: the labels keep the sites apart
    assert found["SITE-A"] == {r.subject.name for r in seats
                               if r.status in (Status.FAIL, Status.ERROR)}
    labels = _query(prov, 'readiness_build_info{site="SITE-A"}')[0]["metric"]
    assert labels["province"] == "GD" and labels["city"] == "Guangzhou"
    # the panels' series come in batches too: give them the same deadline
    queries = panel_queries(dashboard(), province="GD", site=".*")
    while True:
        empty = [(title, expr) for title, expr in queries if not _query(prov, expr)]
        if not empty or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert not empty, f"panels whose query returns nothing: {empty}"
    scrape = subprocess.run(["ip", "netns", "exec", f"{PREFIX}0", "curl", "-sf",
                             "http://127.0.0.1:9477/metrics"], capture_output=True, timeout=15)
    check = subprocess.run(["promtool", "check", "metrics"], input=scrape.stdout,
                           capture_output=True, timeout=30)
    assert scrape.stdout and check.returncode == 0, check.stdout + check.stderr
