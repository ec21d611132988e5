"""Alerts: what counts as a change, the robots' JSON bodies, real deliveries to an HTTP
receiver and an SMTP server on 127.0.0.1, dead channels that stop nothing, and no
secret in any body, log line or evidence."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import socket
import ssl
import textwrap
import threading
import time
import urllib.parse
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from readiness.alerts import (
    Alert,
    build_alert,
    requirement_changes,
    send,
    webhook_payload,
)
from readiness.config.errors import ConfigError
from readiness.config.load import load_site
from readiness.config.profile import available_profiles
from readiness.config.site import Alerts, EmailAlerts, Webhook
from readiness.evidence.chain import verify
from readiness.evidence.keys import init_keys, load_public
from readiness.redact import Secret
from readiness.results import CheckResult, RunRecord, Status, Text, Verdict
from readiness.schedule.ledger import Ledger
from readiness.schedule.runner import run_job, settings_from
from readiness.subject import Kind, Subject

REPO = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")
TOKEN = "robot-token-5f1e9c"
SIGN = "SECsigning-secret-77aa"
SMTP_PASSWORD = "smtp-pass-0b7d21"
WHEN = datetime(2026, 12, 5, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai


def result(req: str, target: str | Subject, status: Status, message: str = "",
           aspect: str | None = None) -> CheckResult:
    subject = target if isinstance(target, Subject) else Subject(Kind.UNKNOWN, target)
    name = subject.name
    return CheckResult(
        requirement=req, title=Text(f"title of {req}", f"{req} 的标题"),
        subject=subject, aspect=aspect, vantage="coordinator", status=status,
        message=Text(message or f"{name} is {status}", message or f"{name} 为 {status}"),
        measured={}, threshold={}, citation=None, started_at=WHEN, duration_s=0.1,
        check_id=f"{req}/{name}")


def seat(name: str, address: str | None = None, room: str = "lo") -> Subject:
    return Subject(Kind.SEAT, name, room, address)


def run(*results: CheckResult) -> RunRecord:
    return RunRecord(site_name="某某学院", site_code="GX-1", profile_id="cbec",
                     certificate=Text("CBEC", "跨境电商"), started_at=WHEN, finished_at=WHEN,
                     verdict=Verdict.READY, results=list(results))


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # a proxy from the environment must not carry loopback deliveries elsewhere
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")


# ------------------------------------------------------------------ what is a change


def test_changes_between_good_and_broken_only() -> None:
    before = run(result("LAN-SUBNET", seat("A07", "198.51.100.7"), Status.PASS),
                 result("LAN-SUBNET", seat("A08", "198.51.100.8"), Status.PASS),
                 result("LAN-SEATS", "room lo", Status.WARN),
                 result("WAN-FLOOR", Subject(Kind.UPLINK, "uplink", "lo"), Status.FAIL),
                 result("CAM-RES", "front", Status.PASS),
                 result("UPS", "ups", Status.PASS))
    after = run(result("LAN-SUBNET", seat("A07", "198.51.100.7"), Status.FAIL,
                       "A07 does not answer"),
                result("LAN-SUBNET", seat("A08", "198.51.100.8"), Status.PASS),
                result("LAN-SEATS", "room lo", Status.ERROR),  # could not verify: broken
                result("WAN-FLOOR", Subject(Kind.UPLINK, "uplink", "lo"), Status.WARN),  # fixed
                result("CAM-RES", "front", Status.WARN),  # pass -> warn: still good
                result("UPS", "ups", Status.SKIP))  # skipped: never compared
    changes = {c.requirement: c for c in requirement_changes(before, after)}
    assert set(changes) == {"LAN-SUBNET", "LAN-SEATS", "WAN-FLOOR"}
    sub = changes["LAN-SUBNET"]
    assert (sub.old, sub.new, sub.targets("en"), sub.broken) == \
        (Status.PASS, Status.FAIL, ["seat A07 (198.51.100.7)"], True)
    assert sub.targets("zh") == ["考位 A07 (198.51.100.7)"]
    assert sub.message.en == "A07 does not answer"
    fixed = changes["WAN-FLOOR"]
    assert not fixed.broken and fixed.targets("en") == ["uplink of room lo"]
    assert fixed.message.zh == "已恢复正常"
    assert changes["LAN-SEATS"].new is Status.ERROR
    assert requirement_changes(after, after) == []


def test_broken_on_the_first_look_is_a_change() -> None:
    first = run(result("LAN-SUBNET", "proctor", Status.FAIL),
                result("LAN-SEATS", "room lo", Status.PASS))
    changes = requirement_changes(None, first)
    assert [(c.requirement, c.old, c.new) for c in changes] == \
        [("LAN-SUBNET", None, Status.FAIL)]


def test_a_fix_names_what_was_broken_by_subject_not_by_label() -> None:
    before = run(result("LAN-SPEED", seat("A07", "198.51.100.7"), Status.FAIL,
                        aspect="pair_download"),
                 result("LAN-SPEED", seat("A07", "198.51.100.7"), Status.PASS,
                        aspect="pair_upload"),
                 result("LAN-SPEED", seat("A01", "198.51.100.1", room="r1"), Status.FAIL),
                 result("LAN-SPEED", seat("A01", "198.51.100.41", room="r2"), Status.PASS))
    # A07 moved to another address; r2's A01 reads "seat A01 (…)" as r1's does
    after = run(result("LAN-SPEED", seat("A07", "203.0.113.7"), Status.PASS,
                       aspect="pair_download"),
                result("LAN-SPEED", seat("A07", "203.0.113.7"), Status.PASS,
                       aspect="pair_upload"),
                result("LAN-SPEED", seat("A01", "198.51.100.1", room="r1"), Status.PASS),
                result("LAN-SPEED", seat("A01", "198.51.100.41", room="r2"), Status.PASS))
    (fixed,) = requirement_changes(before, after)
    assert not fixed.broken
    assert [(r.subject.room, r.subject.name, r.aspect) for r in fixed.about] == [
        ("lo", "A07", "pair_download"), ("r1", "A01", None)]
    assert fixed.targets("en") == [
        "seat A07 (203.0.113.7) · download from a partner seat", "seat A01 (198.51.100.1)"]
    alert = build_alert("某某学院", "GX-1", [fixed], WHEN, SHANGHAI)
    assert alert is not None
    assert "  目标：考位 A07 (203.0.113.7) · 下行：同组考位 → 考位, 考位 A01 (198.51.100.1)" \
        in alert.text
    assert "198.51.100.41" not in alert.text


def test_message_is_short_bilingual_and_scrubbed() -> None:
    secret = Secret("hunter2-community", "secret:community")
    targets = [result("LAN-SUBNET", seat(f"A{i:02d}"), Status.FAIL,
                      "no answer (community hunter2-community)") for i in range(1, 9)]
    changes = requirement_changes(run(result("LAN-SUBNET", seat("A01"), Status.PASS)),
                                  run(*targets))
    alert = build_alert("某某学院", "GX-1", changes, WHEN, SHANGHAI, [secret])
    assert alert is not None
    assert alert.text.splitlines()[0] == "[readiness] 某某学院 (GX-1) 2026-12-05 08:30 " \
                                         "Asia/Shanghai"
    assert "LAN-SUBNET LAN-SUBNET 的标题 / title of LAN-SUBNET: 通过 pass → 不通过 fail" \
        in alert.text
    assert "  target: seat A01, seat A02, seat A03, seat A04, seat A05 (+3)" in alert.text
    assert "  目标：考位 A01, 考位 A02, 考位 A03, 考位 A04, 考位 A05 (+3)" in alert.text
    assert "1 项要求不满足，0 项已恢复" in alert.subject and "1 requirement(s) broken" in \
        alert.subject
    blob = json.dumps([alert.subject, alert.text, alert.markdown, alert.data],
                      ensure_ascii=False)
    assert "hunter2-community" not in blob and "***" in blob
    assert build_alert("x", "y", [], WHEN, SHANGHAI) is None


# ------------------------------------------------------------------ the robots' formats


def test_payload_of_every_robot() -> None:
    alert = Alert("subject", "plain text", "**md**", {"source": "readiness", "x": 1})

    def body(kind: str, fmt: str = "text") -> dict[str, Any]:
        return webhook_payload(Webhook(kind=kind, url="secret:u", format=fmt), alert)

    assert body("dingtalk") == {"msgtype": "text", "text": {"content": "plain text"}}
    assert body("dingtalk", "markdown") == {
        "msgtype": "markdown", "markdown": {"title": "subject", "text": "**md**"}}
    assert body("wecom") == {"msgtype": "text", "text": {"content": "plain text"}}
    assert body("wecom", "markdown") == {"msgtype": "markdown", "markdown": {"content": "**md**"}}
    assert body("feishu") == {"msg_type": "text", "content": {"text": "plain text"}}
    assert body("generic") == {"source": "readiness", "x": 1, "subject": "subject",
                               "text": "plain text"}
    # WeCom refuses a text over 2048 bytes: cut, never refused
    long = Alert("s", "考" * 2000, "m", {})
    cut = webhook_payload(Webhook(kind="wecom", url="secret:u"), long)["text"]["content"]
    assert len(cut.encode()) <= 2048 and cut.endswith("…")


def test_webhook_options_are_checked() -> None:
    with pytest.raises(ValueError, match="markdown is for dingtalk and wecom"):
        Webhook(kind="feishu", url="secret:u", format="markdown")
    with pytest.raises(ValueError, match="sign_secret is for dingtalk and feishu"):
        Webhook(kind="wecom", url="secret:u", sign_secret="secret:s")
    with pytest.raises(ValueError, match="not both"):
        EmailAlerts.model_validate({"host": "h", "from": "a@b.c", "to": ["x@y.z"],
                                    "ssl": True, "starttls": True})


# ------------------------------------------------------------------ real deliveries


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    body: dict[str, Any]


@dataclass
class HttpReceiver:
    server: ThreadingHTTPServer
    got: list[Received] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    got: list[Received] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            url = urllib.parse.urlsplit(self.path)
            data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            got.append(Received(url.path, urllib.parse.parse_qs(url.query), data))
            # robots answer 200 with an error code in the body
            answer = {"errcode": 310000, "errmsg": "keywords not in content"} \
                if url.path == "/refuse" else {"errcode": 0, "errmsg": "ok", "code": 0}
            payload = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield HttpReceiver(server, got)
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A server that accepts the connection (the kernel does) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@dataclass
class Smtp:
    port: int
    messages: list[bytes]
    logins: list[tuple[bytes, bytes]]
    tls: list[bool]


class _Handler:
    def __init__(self, messages: list[bytes], tls: list[bool]):
        self.messages, self.tls = messages, tls

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope.content)
        self.tls.append(session.ssl is not None)
        return "250 OK"


def _smtp(**kwargs: Any) -> Iterator[Smtp]:
    messages: list[bytes] = []
    logins: list[tuple[bytes, bytes]] = []
    tls: list[bool] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            logins.append((auth_data.login, auth_data.password))
            # handled=False: let the server answer 535 itself
            return AuthResult(success=auth_data.password == SMTP_PASSWORD.encode(),
                              handled=False)
        return AuthResult(success=False, handled=False)

    port = closed_port()
    # aiosmtpd warns about AUTH without TLS; the plain tests use it on loopback on purpose
    warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    controller = Controller(_Handler(messages, tls), hostname="127.0.0.1", port=port,
                            authenticator=authenticator, auth_required=True, **kwargs)
    controller.start()
    try:
        yield Smtp(port, messages, logins, tls)
    finally:
        controller.stop()


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    yield from _smtp(auth_require_tls=False)


def self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def an_alert() -> Alert:
    changes = requirement_changes(
        run(result("LAN-SUBNET", seat("A07", "198.51.100.7"), Status.PASS)),
        run(result("LAN-SUBNET", seat("A07", "198.51.100.7"), Status.FAIL,
                   "A07 does not answer ping")))
    alert = build_alert("某某学院", "GX-1", changes, WHEN, SHANGHAI)
    assert alert is not None
    return alert


def test_every_channel_delivers_and_dead_ones_stop_nothing(
        receiver: HttpReceiver, smtp: Smtp, silent_port: int,
        caplog: pytest.LogCaptureFixture) -> None:
    base = receiver.base
    urls = {
        "generic": f"{base}/generic?token={TOKEN}",
        "dingtalk": f"{base}/robot/send?access_token={TOKEN}",
        "wecom": f"{base}/cgi-bin/webhook/send?key={TOKEN}",
        "feishu": f"{base}/open-apis/bot/v2/hook/{TOKEN}",
        "refused": f"{base}/refuse?access_token={TOKEN}",
        "closed": f"http://127.0.0.1:{closed_port()}/send?access_token={TOKEN}",
        "silent": f"http://127.0.0.1:{silent_port}/send?access_token={TOKEN}",
    }
    hooks = [Webhook(kind="generic", url="secret:a"),
             Webhook(kind="dingtalk", url="secret:b", sign_secret="secret:s"),
             Webhook(kind="wecom", url="secret:c", format="markdown"),
             Webhook(kind="feishu", url="secret:d", sign_secret="secret:s"),
             Webhook(kind="dingtalk", url="secret:e"),
             Webhook(kind="wecom", url="secret:f"),
             Webhook(kind="feishu", url="secret:g")]
    secrets = {f"alerts.webhooks[{i}].url": Secret(urls[k], f"secret:{k}") for i, k in
               enumerate(("generic", "dingtalk", "wecom", "feishu", "refused", "closed",
                          "silent"))}
    for i in (1, 3):
        secrets[f"alerts.webhooks[{i}].sign_secret"] = Secret(SIGN, "secret:s")
    secrets["alerts.email.password"] = Secret(SMTP_PASSWORD, "secret:smtp")
    config = Alerts(webhooks=hooks, timeout_s=1.5, email=EmailAlerts.model_validate({
        "host": "127.0.0.1", "port": smtp.port, "from": "readiness@school.example",
        "to": ["kaowu@school.example", "it@school.example"], "username": "readiness",
        "password": "secret:smtp", "starttls": False}))
    alert = an_alert()
    caplog.set_level(logging.INFO, logger="readiness")
    began = time.monotonic()
    deliveries = send(alert, config, secrets)
    took = time.monotonic() - began

    assert took < 5, took  # the silent server costs one timeout, not the whole run
    assert [d.ok for d in deliveries] == [True, True, True, True, False, False, False, True]
    assert deliveries[4].detail.startswith("the robot refused it: code 310000")
    assert deliveries[5].detail == "cannot connect"
    assert deliveries[6].detail == "no answer within 1.5 s"

    by_path = {r.path: r for r in receiver.got}
    generic = by_path["/generic"].body
    assert generic["source"] == "readiness" and generic["site"] == {"name": "某某学院",
                                                                   "code": "GX-1"}
    assert generic["changes"][0] | {"title": None} == {
        "requirement": "LAN-SUBNET", "title": None, "old": "pass", "new": "fail",
        "broken": True, "targets": ["seat A07 (198.51.100.7)"],
        "subjects": [{"subject": {"kind": "seat", "name": "A07", "room": "lo",
                                  "address": "198.51.100.7"}, "aspect": None}],
        "message": {"en": "A07 does not answer ping", "zh": "A07 does not answer ping"}}
    assert generic["text"] == alert.text

    ding = by_path["/robot/send"]
    assert ding.body == {"msgtype": "text", "text": {"content": alert.text}}
    stamp = ding.query["timestamp"][0]
    expected = base64.b64encode(hmac.new(SIGN.encode(), f"{stamp}\n{SIGN}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert ding.query["sign"] == [expected] and ding.query["access_token"] == [TOKEN]
    assert abs(int(stamp) / 1000 - time.time()) < 60

    assert by_path["/cgi-bin/webhook/send"].body == {
        "msgtype": "markdown", "markdown": {"content": alert.markdown}}
    feishu = by_path[f"/open-apis/bot/v2/hook/{TOKEN}"].body
    assert feishu["msg_type"] == "text" and feishu["content"] == {"text": alert.text}
    key = f"{feishu['timestamp']}\n{SIGN}".encode()
    assert feishu["sign"] == base64.b64encode(
        hmac.new(key, b"", hashlib.sha256).digest()).decode()
    for body in (ding.body, feishu):
        assert "LAN-SUBNET" in json.dumps(body, ensure_ascii=False)
        assert "通过 pass → 不通过 fail" in json.dumps(body, ensure_ascii=False)

    assert smtp.logins == [(b"readiness", SMTP_PASSWORD.encode())]
    assert len(smtp.messages) == 1
    mail = message_from_bytes(smtp.messages[0])
    assert mail["To"] == "kaowu@school.example, it@school.example"
    assert "[readiness]" in str(mail["Subject"])
    content = mail.get_payload(decode=True).decode()
    assert "A07 does not answer ping" in content and "seat A07" in content

    log = caplog.text
    assert "alert NOT sent: feishu webhook #7 (127.0.0.1:" in log
    assert "no answer within 1.5 s" in log and "cannot connect" in log
    everything = log + json.dumps([r.body for r in receiver.got]) + repr(smtp.messages)
    for secret in (TOKEN, SIGN, SMTP_PASSWORD):
        assert secret not in everything.replace(f"hook/{TOKEN}", "")  # feishu: in its path
    assert TOKEN not in log


def test_email_over_starttls(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    for server in _smtp(tls_context=server_ctx, require_starttls=True):
        config = Alerts(timeout_s=5, email=EmailAlerts.model_validate({
            "host": "127.0.0.1", "port": server.port, "from": "r@school.example",
            "to": ["k@school.example"], "username": "readiness", "password": "secret:smtp",
            "starttls": True}))
        secrets = {"alerts.email.password": Secret(SMTP_PASSWORD, "secret:smtp")}
        [delivery] = send(an_alert(), config, secrets, context=client_ctx)
        assert delivery.ok, delivery
        assert server.tls == [True] and server.logins[0][1] == SMTP_PASSWORD.encode()
        # without trusting the certificate the mail is not sent, and nothing is raised
        [refused] = send(an_alert(), config, secrets)
        assert not refused.ok and len(server.messages) == 1


def test_wrong_smtp_password_is_reported_not_raised(smtp: Smtp) -> None:
    config = Alerts(timeout_s=5, email=EmailAlerts.model_validate({
        "host": "127.0.0.1", "port": smtp.port, "from": "r@school.example",
        "to": ["k@school.example"], "username": "readiness", "password": "secret:smtp",
        "starttls": False}))
    [delivery] = send(an_alert(), config,
                      {"alerts.email.password": Secret("wrong-pass-1234", "secret:smtp")})
    assert not delivery.ok and delivery.detail.startswith("login refused (SMTP 535")
    assert "wrong-pass-1234" not in delivery.detail and smtp.messages == []


# ------------------------------------------------------------------ the site file's section


def test_alerts_section_of_the_example_is_valid(tmp_path: Path) -> None:
    text = (REPO / "config" / "site.example.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    start = lines.index("# alerts:")
    block = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        block.append(line[2:] if line.startswith("# ") else line[1:])
    text = text.replace("\n".join(lines[start:start + len(block)]), "\n".join(block))
    (tmp_path / "site.yaml").write_text(text, encoding="utf-8")
    names = ["router_snmp_community", "switch_auth_key", "switch_priv_key",
             "ups_snmp_community", "camera_password", "agent_token", "run_now_token",
             "smtp_password", "dingtalk_sign", "recorder_password"]
    urls = {"dingtalk_webhook": "https://oapi.dingtalk.com/robot/send?access_token=abc",
            "wecom_webhook": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
            "feishu_webhook": "https://open.feishu.cn/open-apis/bot/v2/hook/abc"}
    secrets = tmp_path / "site.secrets.yaml"
    # validate refuses a placeholder token (agent or "run now"): fixed 256-bit test values,
    # as tests/test_config.py gives them
    agent_token = "lujsc32B0nU6LlQABZJzLCIxoHDsdJanvWDzMKSV-8o"
    tokens = {"agent_token": agent_token, "run_now_token": agent_token[::-1]}
    secrets.write_text(yaml.safe_dump({**{n: f"value-of-{n}" for n in names}, **urls,
                                       **tokens}))
    secrets.chmod(0o600)
    os.environ["READINESS_ALERT_URL"] = "https://alerts.school.example/hook"
    try:
        site = load_site(tmp_path / "site.yaml", set(available_profiles()))
    finally:
        del os.environ["READINESS_ALERT_URL"]
    alerts = site.model.alerts
    assert alerts is not None and [h.kind for h in alerts.webhooks] == [
        "dingtalk", "wecom", "feishu", "generic"]
    assert alerts.email is not None and alerts.email.sender == "readiness@school.edu.cn"
    assert alerts.email.password == "secret:smtp_password"  # the model keeps the reference
    assert site.secret("alerts.webhooks[0].url").reveal() == urls["dingtalk_webhook"]
    assert site.secret("alerts.email.password").reveal() == "value-of-smtp_password"


def write_loopback(folder: Path, extra: str, secrets: str = "", *,
                   proctor: str = "127.0.0.2", sessions: str = "") -> Path:
    site = folder / "site.yaml"
    site.write_text(textwrap.dedent(f"""\
        site: {{name: Loopback school, code: LO-A}}
        profile: cbec
        secrets_file: secrets.yaml
        rooms:
          - id: lo
            subnet: 127.0.0.0/24
            router:
              address: 127.0.0.1
              snmp: {{version: "2c", community: "secret:community"}}
            exam_servers:
              primary: {{address: 127.0.0.10}}
            proctor: {{address: {proctor}}}
            seats:
              A01-A40: 127.0.0.101-140
        """) + sessions + extra)
    path = folder / "secrets.yaml"
    path.write_text("community: loopback-community-alerts-31\n" + secrets)
    path.chmod(0o600)
    return site


def test_alert_secrets_must_be_references(tmp_path: Path) -> None:
    site = write_loopback(tmp_path, textwrap.dedent(f"""\
        alerts:
          webhooks:
            - {{kind: dingtalk, url: "https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"}}
            - {{kind: wecom, url: "secret:not_a_url"}}
          email: {{host: smtp.example, from: a@b.example, to: [c@d.example], username: u,
                   password: {SMTP_PASSWORD}}}
        """), secrets="not_a_url: just-some-words\n")
    with pytest.raises(ConfigError) as err:
        load_site(site, set(available_profiles()))
    got = [str(i) for i in err.value.issues]
    assert any("alerts.webhooks[0].url: is written inline" in i for i in got), got
    assert any("alerts.webhooks[1].url: the value of secret:not_a_url is not an http" in i
               for i in got), got
    assert any("alerts.email.password: is written inline" in i for i in got), got
    joined = "\n".join(got)
    assert TOKEN not in joined and SMTP_PASSWORD not in joined and "just-some-words" not in joined


# ------------------------------------------------------------------ through a scheduled run


def icmp_allowed() -> bool:
    from probes.engines.icmp import IcmpUnavailable, open_icmp_socket

    try:
        sock, _kind = open_icmp_socket()
        sock.close()
    except IcmpUnavailable:
        return False
    return True


@pytest.mark.lab
@pytest.mark.skipif(not icmp_allowed(), reason="needs ICMP rights (root or ping_group_range)")
def test_scheduled_runs_announce_breaks_and_fixes(
        tmp_path: Path, receiver: HttpReceiver, smtp: Smtp, silent_port: int,
        caplog: pytest.LogCaptureFixture) -> None:
    init_keys(tmp_path / "keys")
    alerts = textwrap.dedent("""\
        schedule: {only: [LAN-SUBNET, LAN-SEATS]}
        alerts:
          timeout_s: 1
          webhooks:
            - {kind: generic, url: "secret:silent"}
            - {kind: wecom, url: "secret:wecom"}
            - {kind: generic, url: "secret:closed"}
          email: {host: 127.0.0.1, port: %d, from: r@school.example, to: [k@school.example],
                  username: readiness, password: "secret:smtp", starttls: false}
        """) % smtp.port
    secrets = (f"silent: http://127.0.0.1:{silent_port}/x?token={TOKEN}\n"
               f"wecom: {receiver.base}/cgi-bin/webhook/send?key={TOKEN}\n"
               f"closed: http://127.0.0.1:{closed_port()}/x?token={TOKEN}\n"
               f"smtp: {SMTP_PASSWORD}\n")

    def site_file(proctor: str) -> Path:
        return write_loopback(tmp_path, alerts, secrets, proctor=proctor)

    site = site_file("127.0.0.2")
    runs = tmp_path / "runs"
    settings = settings_from(site, store=runs / "r.sqlite", log_path=runs / "e.jsonl",
                             key_dir=tmp_path / "keys", jobs=runs / "s.sqlite")
    caplog.set_level(logging.INFO, logger="readiness")
    planned = datetime.now(UTC)

    def job(n: int) -> None:
        run_job(settings, f"LO-A-{n}", planned + timedelta(minutes=n), "LO-A")

    job(1)  # all good: nothing to say
    assert receiver.got == [] and smtp.messages == []
    site_file("127.0.1.2")  # the proctor PC moves out of the exam subnet
    job(2)
    site_file("127.0.0.2")  # and back
    job(3)
    job(3)  # the same job again (a restart that re-planned it): it does not run twice

    bodies = [r.body["text"]["content"] for r in receiver.got]
    assert len(bodies) == 2 and len(smtp.messages) == 2
    assert "✗ LAN-SUBNET" in bodies[0] and "通过 pass → 不通过 fail" in bodies[0]
    assert "127.0.1.2" in bodies[0]
    assert "✓ LAN-SUBNET" in bodies[1] and "不通过 fail → 通过 pass" in bodies[1]
    rows = Ledger(runs / "s.sqlite").rows("LO-A")
    assert [(r.job_id, r.state) for r in rows] == [
        ("LO-A-1", "done"), ("LO-A-2", "done"), ("LO-A-3", "done")]
    assert "run LO-A-3 already happened" in caplog.text
    assert caplog.text.count("alert NOT sent") == 4  # silent + closed, twice

    # a run that cannot be signed (the key is gone) is announced as such
    (tmp_path / "keys" / "site.key").unlink()
    job(4)
    assert Ledger(runs / "s.sqlite").rows("LO-A")[-1].state == "failed"
    failure = receiver.got[-1].body["text"]["content"]
    assert "定时检查未能完成" in failure and "no site key" in failure

    report = verify(runs / "e.jsonl", load_public(tmp_path / "keys" / "site.pub"))
    assert report.ok and report.types["run"] == 3
    everything = (caplog.text + json.dumps([r.body for r in receiver.got])
                  + repr(smtp.messages) + (runs / "e.jsonl").read_text())
    for secret in (TOKEN, SMTP_PASSWORD, "loopback-community-alerts-31"):
        assert secret not in everything
