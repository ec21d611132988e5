"""End to end, for real, on loopback: two sites (`readiness serve` with stored runs), each
scraped by a Prometheus in agent mode that remote-writes over TLS with its own password to
a provincial Prometheus (deploy/ files, rules with short durations), which alerts through
Debian's Alertmanager to a webhook receiver in the test. One site is killed: its alert
arrives at the webhook; it is started again: the alert resolves. A write without
credentials is refused."""

from __future__ import annotations

import base64
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from province_lab import (
    Hooks,
    Province,
    bcrypt_hash,
    free_port,
    make_certificates,
    wait_for,
)
from serve_site import REPO, make_site, store_drill

from readiness.serve.alert_rules import Timing, alert_rules
from readiness.serve.alertmanager_config import Pacing, Receiver, alertmanager_config
from readiness.serve.deploy_files import province_config, province_web_config, site_agent_config
from readiness.serve.expected_sites import expected_rules, read_sites

pytestmark = pytest.mark.lab
SITES = {"SITE-A": "Nanning", "SITE-B": "Liuzhou"}
# an agent whose `site` label is not the code SITE-A's serve exports (it scrapes SITE-A)
MISLABELLED = "SITE-C"
# the real rule says "down after 5 min"; here 15 s, evaluated every second
DOWN_S = 15
TOOLS = ("prometheus", "prometheus-alertmanager", "openssl", "htpasswd")


def _need() -> None:
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        msg = f"needs {', '.join(missing)} (bash install.sh --dev)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)


class Procs:
    def __init__(self) -> None:
        self.all: list[subprocess.Popen] = []

    def start(self, args: list[str], log: Path, **kw) -> subprocess.Popen:
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(log, "w"), **kw)
        self.all.append(p)
        return p

    @staticmethod
    def stop(p: subprocess.Popen) -> None:
        p.terminate()
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)

    def stop_all(self) -> None:
        for p in self.all:
            if p.poll() is None:
                self.stop(p)


def _serve(procs: Procs, folder: Path, port: int) -> subprocess.Popen:
    # the code under test (cwd: the checkout), not whichever `readiness` is on PATH
    return procs.start([sys.executable, "-m", "readiness", "serve", str(folder / "site.yaml"),
                        "--store", str(folder / "readiness.sqlite"),
                        "--log", str(folder / "evidence.jsonl"), "--dir", str(folder / "keys"),
                        "--jobs", str(folder / "schedule.sqlite"),
                        "--listen", f"127.0.0.1:{port}"], folder / "serve.log", cwd=REPO)


def _dump(path: Path, data: dict) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")


def test_a_dead_site_alerts_at_the_webhook_and_clears_when_back(tmp_path):
    _need()
    procs, hooks = Procs(), Hooks()
    try:
        _run(tmp_path, procs, hooks)
    finally:
        procs.stop_all()
        hooks.close()
        for folder in tmp_path.iterdir():
            for log in folder.glob("*.log") if folder.is_dir() else []:
                # shown by pytest only when the test fails
                print(f"--- {log}:\n{log.read_text(errors='replace')[-3000:]}")


def _run(tmp_path: Path, procs: Procs, hooks: Hooks) -> None:
    prov = tmp_path / "province"
    ca, cert, key = make_certificates(prov / "tls")
    passwords = {code: f"pw-{code}-{os.getpid()}" for code in SITES}
    passwords["grafana"] = f"pw-grafana-{os.getpid()}"
    passwords[MISLABELLED] = f"pw-c-{os.getpid()}"
    _dump(prov / "web.yml", province_web_config(
        {user: bcrypt_hash(user, pw) for user, pw in passwords.items()},
        cert_file=str(cert), key_file=str(key)))

    # the sites: site files with their place, stored runs, serve on free ports
    serve_ports = {code: free_port() for code in SITES}
    serving = {}
    for code, city in SITES.items():
        folder = tmp_path / code
        site = make_site(folder, code)
        data = yaml.safe_load(site.read_text(encoding="utf-8"))
        data["site"].update({"province": "GX", "city": city})
        _dump(site, data)
        store_drill(folder, code, fix_seats=(code == "SITE-B"))
        serving[code] = _serve(procs, folder, serve_ports[code])

    # the province: its expected-sites list from the site files, rules every second
    _dump(prov / "expected.yml", expected_rules(
        read_sites([tmp_path / code / "site.yaml" for code in SITES]), interval="1s"))
    timing = Timing(down_after=f"{DOWN_S}s", down_after_s=DOWN_S, never_grace="5s")
    _dump(prov / "rules.yml", alert_rules(timing, interval="1s"))
    am_port, prov_port = free_port(), free_port()
    _dump(prov / "province.yml", province_config(
        rules_files=(str(prov / "expected.yml"), str(prov / "rules.yml")),
        alertmanager=f"127.0.0.1:{am_port}", evaluation_interval="1s"))
    # the city's bureau reads a DingTalk robot, through the relay (`readiness relay`)
    relay_port = free_port()
    (prov / "relay.secrets.yaml").write_text(
        f"liuzhou_robot: {hooks.url}/robot/send?access_token=t0ken\n"
        "liuzhou_sign: SEC-test-signing-secret\n")
    os.chmod(prov / "relay.secrets.yaml", 0o600)
    _dump(prov / "relay.yaml", {"secrets_file": "relay.secrets.yaml", "receivers": {
        "city-Liuzhou": {"webhooks": [{"kind": "dingtalk", "format": "markdown",
                                       "url": "secret:liuzhou_robot",
                                       "sign_secret": "secret:liuzhou_sign"}]}}})
    procs.start([sys.executable, "-m", "readiness", "relay", str(prov / "relay.yaml"),
                 "--listen", f"127.0.0.1:{relay_port}"], prov / "relay.log", cwd=REPO)
    _dump(prov / "alertmanager.yml", alertmanager_config(
        Receiver("province-duty", webhook_url=hooks.url, routes=(
            Receiver("city-Liuzhou", ('city="Liuzhou"',),
                     webhook_url=f"http://127.0.0.1:{relay_port}/alertmanager/city-Liuzhou"),
        )),
        Pacing(group_wait="1s", group_interval="1s", repeat_interval="1h"), smtp=False))
    procs.start(["prometheus-alertmanager", "--config.file", str(prov / "alertmanager.yml"),
                 "--storage.path", str(prov / "am-data"), "--cluster.listen-address=",
                 "--web.listen-address", f"127.0.0.1:{am_port}"], prov / "alertmanager.log")
    procs.start(["prometheus", "--config.file", str(prov / "province.yml"),
                 "--web.config.file", str(prov / "web.yml"),
                 "--web.enable-remote-write-receiver",
                 "--storage.tsdb.path", str(prov / "data"),
                 "--web.listen-address", f"127.0.0.1:{prov_port}"], prov / "prometheus.log")

    # one agent per site, writing over TLS with the site's own password
    for code, city in [*SITES.items(), (MISLABELLED, "Nanning")]:
        folder = tmp_path / code
        folder.mkdir(exist_ok=True)
        target = serve_ports.get(code, serve_ports["SITE-A"])
        (folder / "write.password").write_text(passwords[code] + "\n")
        os.chmod(folder / "write.password", 0o600)
        agent = site_agent_config(
            serve_target=f"127.0.0.1:{target}",
            province_url=f"https://127.0.0.1:{prov_port}/api/v1/write",
            province="GX", city=city, site=code, scrape_interval="1s",
            password_file=str(folder / "write.password"), ca_file=str(ca))
        agent["remote_write"][0]["queue_config"] = {"batch_send_deadline": "1s"}
        _dump(folder / "agent.yml", agent)
        procs.start(["prometheus", "--enable-feature=agent",
                     "--config.file", str(folder / "agent.yml"),
                     "--storage.agent.path", str(folder / "agent-data"),
                     "--web.listen-address", f"127.0.0.1:{free_port()}"], folder / "agent.log")

    province = Province(prov_port, ca, "grafana", passwords["grafana"])
    both = wait_for("both sites' series at the province", lambda: {
        r["metric"]["site"]: r["metric"] for r in province.query("readiness_build_info")
    }.keys() >= set(SITES) and province.query("readiness_build_info"), 90)
    # one instance per site, named by its code; province and city from the agent
    for row in both:
        assert row["metric"]["instance"] == row["metric"]["site"]
        assert row["metric"]["city"] == SITES[row["metric"]["site"]]
    # remote write delivers in batches: wait for both sites' `up` too
    every_up = {(code, code, "1") for code in SITES}
    up = wait_for("both sites' up at the province", lambda: {
        (r["metric"]["site"], r["metric"]["instance"], r["value"][1])
        for r in province.query('up{job="readiness"}')} >= every_up, 60)
    assert up
    # the mislabelled agent reaches SITE-A's serve (up 1) but passes none of its series on:
    # SITE-A's figures never show under another site's name or instance
    wait_for("the mislabelled agent's up", lambda: province.query(
        f'up{{site="{MISLABELLED}"}} == 1'), 60)
    assert not province.query(f'{{instance="{MISLABELLED}", __name__=~"readiness_.*"}}')
    assert not province.query(f'{{site="{MISLABELLED}", __name__=~"readiness_.*"}}')
    assert {r["metric"]["instance"] for r in province.query(
        'readiness_build_info{site="SITE-A"}')} == {"SITE-A"}

    # nobody may write without a site's password, or with a wrong one, or without TLS
    assert province.write_status({}) == 401
    guess = "Basic " + base64.b64encode(b"SITE-A:guess").decode()
    assert province.write_status({"Authorization": guess}) == 401
    plain = ssl.create_default_context()  # the system's CAs do not know the province's
    with pytest.raises(urllib.error.URLError) as refused:
        province.write_status({}, context=plain)
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)
    cleartext = urllib.request.Request(province.base.replace("https:", "http:")
                                       + "/api/v1/write", data=b"", method="POST")
    with pytest.raises(urllib.error.HTTPError) as no_tls:
        urllib.request.urlopen(cleartext, timeout=10)
    assert no_tls.value.code == 400  # Go: "client sent an HTTP request to an HTTPS server"

    # no site is down yet
    time.sleep(DOWN_S / 3)
    assert not [a for _, status, a in hooks.alerts()
                if a["labels"]["alertname"] == "ReadinessSiteDown"]

    # kill SITE-B's serve: its alert reaches the webhook
    killed = time.monotonic()
    Procs.stop(serving["SITE-B"])

    def down(status: str, since: float) -> list:
        return [(at, a) for at, st, a in hooks.alerts(since)
                if st == status and a["labels"]["alertname"] == "ReadinessSiteDown"]

    fired = wait_for("SITE-B's ReadinessSiteDown at the webhook",
                     lambda: down("firing", killed), 120)
    took = fired[0][0] - killed
    alert = fired[0][1]
    assert {a["labels"]["site"] for _, a in fired} == {"SITE-B"}
    assert alert["labels"]["city"] == "Liuzhou" and alert["labels"]["severity"] == "warning"
    assert alert["annotations"]["runbook_url"].endswith("runbook.md#site-down")
    assert "SITE-B" in alert["annotations"]["description"]
    # 5 min of the real rule is DOWN_S here; allow the scrape, write and group delays
    assert took < DOWN_S + 45, f"the alert took {took:.1f} s"
    print(f"ReadinessSiteDown reached the webhook {took:.1f} s after the kill "
          f"(rule: down after {DOWN_S} s)")

    # the same alert reached Liuzhou's DingTalk robot, in its format, signed
    robot = wait_for("the alert at the city's DingTalk robot", lambda: [
        (path, body) for _, path, body in hooks.robot_posts(killed)
        if "ReadinessSiteDown" in body["markdown"]["text"]], 30)
    path, body = robot[0]
    assert path.startswith("/hook/robot/send?access_token=t0ken&timestamp=") and "&sign=" in path
    assert body["msgtype"] == "markdown" and "SITE-B" in body["markdown"]["text"]
    assert "runbook.md#site-down" in body["markdown"]["text"]
    assert "SEC-test" not in json.dumps(body)

    # SITE-B back: the alert resolves
    back = time.monotonic()
    serving["SITE-B"] = _serve(procs, tmp_path / "SITE-B", serve_ports["SITE-B"])
    resolved = wait_for("SITE-B's ReadinessSiteDown resolved at the webhook",
                        lambda: down("resolved", back), 120)
    assert {a["labels"]["site"] for _, a in resolved} == {"SITE-B"}
    print(f"resolved {resolved[0][0] - back:.1f} s after SITE-B's serve started again")
