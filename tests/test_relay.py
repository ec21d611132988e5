"""`readiness relay` on loopback: Alertmanager's JSON in, each robot's format out; its file's
mistakes named by line; unknown receivers, oversized bodies and refusing robots answered
so Alertmanager does the right thing (the happy path with the real Alertmanager is in
tests/test_province_alerts.py)."""

from __future__ import annotations

import http.client
import json
import os
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from province_lab import Hooks

from readiness.config.errors import ConfigError
from readiness.serve.relay import load_relay, make_server, to_alert

# the shape Alertmanager 0.25 posts (version 4), as the e2e test's receiver records it
NOTIFICATION = {
    "version": "4", "status": "firing", "receiver": "city-Nanning",
    "groupLabels": {"province": "GX", "city": "Nanning", "site": "GX-A",
                    "alertname": "ReadinessNotReadyBeforeExam"},
    "commonLabels": {"province": "GX", "city": "Nanning", "site": "GX-A",
                     "alertname": "ReadinessNotReadyBeforeExam", "severity": "critical"},
    "commonAnnotations": {},
    "alerts": [{"status": "firing",
                "labels": {"alertname": "ReadinessNotReadyBeforeExam", "site": "GX-A",
                           "severity": "critical"},
                "annotations": {"description": "考点 GX-A 有必需要求未通过 Site GX-A fails",
                                "first_fix": "seat A07: replace its cable",
                                "first_fix_zh": "考位 A07：更换网线",
                                "runbook_url": "https://r.example/runbook.md#not-ready"}}],
}


def _relay_file(folder: Path, url: str, kind: str = "wecom") -> Path:
    (folder / "relay.secrets.yaml").write_text(f"robot: {url}\n")
    os.chmod(folder / "relay.secrets.yaml", 0o600)
    path = folder / "relay.yaml"
    path.write_text(yaml.safe_dump({"secrets_file": "relay.secrets.yaml", "receivers": {
        "city-Nanning": {"webhooks": [{"kind": kind, "url": "secret:robot"}]}}}))
    return path


def _post(port: int, path: str, body: bytes) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                     method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture()
def robot():
    hooks = Hooks()
    yield hooks
    hooks.close()


def _serving(relay):
    server = make_server(relay, ("127.0.0.1", 0))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_notification_reaches_the_robot_in_its_format(tmp_path, robot):
    relay = load_relay(_relay_file(tmp_path, robot.url + "?key=wecom-key"))
    server = _serving(relay)
    try:
        port = server.server_address[1]
        assert _post(port, "/alertmanager/city-Nanning", json.dumps(NOTIFICATION).encode()) \
            == 200
        [(_, path, body)] = robot.robot_posts()
        assert path == "/hook?key=wecom-key"
        text = body["text"]["content"]
        assert body["msgtype"] == "text"
        assert "GX Nanning GX-A" in text and "ReadinessNotReadyBeforeExam" in text
        assert "考位 A07：更换网线" in text and "#not-ready" in text
        # unknown receiver: 404 (a routing mistake to fix, not to retry)
        assert _post(port, "/alertmanager/city-Nowhere", b"{}") == 404
        assert _post(port, "/alertmanager/city-Nanning", b"not json") == 400
        # a body announced larger than 1 MiB is refused before it is read
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/alertmanager/city-Nanning", body=b"{}",
                     headers={"Content-Length": str(2 << 20)})
        assert conn.getresponse().status == 413
        conn.close()
    finally:
        server.shutdown()
        server.server_close()


def test_a_refusing_robot_makes_alertmanager_retry(tmp_path):
    class Refuses(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b'{"errcode": 310000, "errmsg": "keywords not in content"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    refusing = ThreadingHTTPServer(("127.0.0.1", 0), Refuses)
    threading.Thread(target=refusing.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{refusing.server_address[1]}/robot/send?access_token=T0KEN-abc"
    server = _serving(load_relay(_relay_file(tmp_path, url, kind="dingtalk")))
    try:
        assert _post(server.server_address[1], "/alertmanager/city-Nanning",
                     json.dumps(NOTIFICATION).encode()) == 502
    finally:
        for s in (server, refusing):
            s.shutdown()
            s.server_close()


def test_relay_file_mistakes_name_the_file_and_field(tmp_path):
    path = tmp_path / "relay.yaml"
    path.write_text(yaml.safe_dump({"receivers": {"city-Nanning": {"webhooks": [
        {"kind": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?access_token=x"}]}}}))
    with pytest.raises(ConfigError) as err:
        load_relay(path)
    [issue] = err.value.issues
    assert str(path) in str(issue) and "receivers.city-Nanning.webhooks.0.url" in str(issue)
    assert "access_token=x" not in str(issue)  # an inline address is never repeated
    path.write_text(yaml.safe_dump({"receivers": {"x": {"webhooks": [{"kind": "pager"}]}}}))
    with pytest.raises(ConfigError) as err:
        load_relay(path)
    assert any("kind" in str(i) for i in err.value.issues)


def test_a_resolved_notification_says_so_without_the_fix():
    resolved = {**NOTIFICATION, "status": "resolved",
                "alerts": [{**NOTIFICATION["alerts"][0], "status": "resolved"}]}
    alert = to_alert(resolved)
    assert "resolved" in alert.text and "已恢复" in alert.text
    assert "更换网线" not in alert.text
