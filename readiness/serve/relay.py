"""`readiness relay`: Alertmanager's webhook JSON to the robots schools and bureaux read
(DingTalk, WeCom, Feishu, or a generic JSON webhook), with the formats, signatures and
size limits readiness/alerts.py already speaks. Alertmanager 0.25 has no DingTalk or
Feishu receiver, and its WeChat receiver is the WeCom app API, not a group robot.

Alertmanager posts to http://RELAY/alertmanager/<receiver>; the relay's file names each
receiver's robots (the same `webhooks:` entries as a site file's `alerts:`), their
addresses as secret references. It listens on loopback beside Alertmanager.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from ..alerts import PREFIX, Alert, Delivery, send_webhook
from ..config.errors import ConfigError, ConfigIssue
from ..config.secrets import Secret, SecretsFile
from ..config.site import Strict, Webhook
from ..config.yamlsource import load_yaml
from ..redact import scrub

log = logging.getLogger(__name__)
MAX_BODY = 1 << 20  # Alertmanager's largest group is far smaller
MAX_ALERTS = 10  # a message read on a phone: name a few, count the rest


class RelayReceiver(Strict):
    webhooks: list[Webhook] = Field(min_length=1)
    timeout_s: float = Field(10, gt=0, le=120)


class RelayFile(Strict):
    secrets_file: str | None = None
    receivers: dict[str, RelayReceiver] = Field(min_length=1)


@dataclass
class Relay:
    receivers: dict[str, RelayReceiver]
    # per receiver, the secrets send_webhook reads ("alerts.webhooks[i].url", ...)
    secrets: dict[str, dict[str, Secret]]

    def known(self) -> list[Secret]:
        return [s for by_path in self.secrets.values() for s in by_path.values()]


def load_relay(path: Path) -> Relay:
    """Read and check the relay's file; ConfigError names each mistake's line."""
    src = load_yaml(path, str(path))
    try:
        model = RelayFile.model_validate(src.data)
    except ValidationError as exc:
        raise ConfigError([ConfigIssue(src.file, src.line_of(tuple(e["loc"])),
                                       ".".join(str(p) for p in e["loc"]), e["msg"])
                           for e in exc.errors()]) from None
    store_path = Path(model.secrets_file) if model.secrets_file else None
    if store_path is not None and not store_path.is_absolute():
        store_path = path.parent / store_path
    store = SecretsFile(store_path)
    issues, secrets = [], {}
    for name, receiver in model.receivers.items():
        found: dict[str, Secret] = {}
        for i, hook in enumerate(receiver.webhooks):
            for field_name in ("url", "sign_secret"):
                ref = getattr(hook, field_name)
                if ref is None:
                    continue
                where = ("receivers", name, "webhooks", i, field_name)
                secret, problem = store.resolve(ref)
                if secret is None:
                    issues.append(ConfigIssue(src.file, src.line_of(where),
                                              ".".join(map(str, where)), problem or
                                              "must be a secret reference (secret:NAME)"))
                else:
                    found[f"alerts.webhooks[{i}].{field_name}"] = secret
        secrets[name] = found
    if issues:
        raise ConfigError(issues)
    return Relay(dict(model.receivers), secrets)


def _line(alert: dict[str, Any], status: str) -> tuple[str, str]:
    labels, notes = alert.get("labels", {}), alert.get("annotations", {})
    mark = "✓ 已恢复 resolved" if status == "resolved" else f"✗ {labels.get('severity', '')}"
    head = f"{mark} {labels.get('alertname', '?')} {labels.get('site', '')}".strip()
    body = [notes.get("description") or notes.get("summary") or ""]
    if status != "resolved":
        for key, title in (("first_fix_zh", "先做"), ("first_fix", "first")):
            if notes.get(key):
                body.append(f"{title}: {notes[key]}")
        if notes.get("runbook_url"):
            body.append(notes["runbook_url"])
    return head, "\n".join(f"  {b}" for b in body if b)


def to_alert(payload: dict[str, Any]) -> Alert:
    """One message for one Alertmanager notification (one group: a site and a class)."""
    alerts = payload.get("alerts") or []
    common = payload.get("commonLabels") or {}
    firing = sum(a.get("status") == "firing" for a in alerts)
    where = " ".join(common[k] for k in ("province", "city", "site") if common.get(k))
    summary = f"{firing} 条告警 firing, {len(alerts) - firing} 条恢复 resolved"
    subject = f"{PREFIX} {where} {common.get('alertname', '')}: {summary}".replace("  ", " ")
    lines, md = [subject], [f"**{subject}**"]
    for alert in alerts[:MAX_ALERTS]:
        head, body = _line(alert, alert.get("status", "firing"))
        lines += [head, body]
        md += [f"- **{head}**", body]
    if len(alerts) > MAX_ALERTS:
        more = f"另有 {len(alerts) - MAX_ALERTS} 条 / {len(alerts) - MAX_ALERTS} more"
        lines.append(more)
        md.append(more)
    data = {"source": "readiness", "event": "province_alert",
            "status": payload.get("status"), "labels": common, "alerts": alerts}
    return Alert(subject, "\n".join(lines), "\n".join(md), data)


def relay_once(relay: Relay, receiver: str, payload: dict[str, Any]) -> list[Delivery]:
    config = relay.receivers[receiver]
    alert = to_alert(payload)
    out = []
    for i, hook in enumerate(config.webhooks):
        out.append(send_webhook(hook, i, alert, relay.secrets[receiver], config.timeout_s))
    known = relay.known()
    for d in out:
        if d.ok:
            log.info("relayed to %s for %s", d.channel, receiver)
        else:
            log.warning("NOT relayed to %s for %s: %s", d.channel, receiver,
                        scrub(d.detail, known))
    return out


def make_server(relay: Relay, listen: tuple[str, int]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802  (http.server's name)
            parts = self.path.strip("/").split("/")
            if len(parts) != 2 or parts[0] != "alertmanager" or parts[1] not in relay.receivers:
                self._answer(404, "no such receiver: use /alertmanager/<a receiver of the "
                                  "relay's file>")
                return
            size = int(self.headers.get("Content-Length") or 0)
            if not 0 < size <= MAX_BODY:
                self._answer(413, "the body is empty or larger than 1 MiB")
                return
            try:
                payload = json.loads(self.rfile.read(size))
            except ValueError:
                self._answer(400, "the body is not JSON")
                return
            deliveries = relay_once(relay, parts[1], payload)
            # Alertmanager retries a notification answered with 5xx
            ok = all(d.ok for d in deliveries)
            self._answer(200 if ok else 502, "relayed" if ok else "a robot refused it")

        def _answer(self, code: int, text: str) -> None:
            body = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:  # the relay logs deliveries, not requests
            pass

    return ThreadingHTTPServer(listen, Handler)


def serve(relay: Relay, listen: tuple[str, int], stop: threading.Event) -> None:
    server = make_server(relay, listen)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
