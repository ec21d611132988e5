"""Tell someone when a scheduled run finds a requirement broken, or fixed again.

A change is judged per requirement, against the previous stored run of the same site:
pass/warn on one side and fail/error on the other (an `error` means the rule could not
be verified, which the night before an exam is as bad as a fail). A requirement seen
broken with no earlier run to compare with is reported too: the first scheduled run
of the night must not fail in silence. Skipped requirements are never compared. A change
names whom it is about by the results' subjects, and a fix lists what was broken before
and passes now, matched by (requirement, subject, aspect), never by label text: a seat
that moved to another address is still the same seat.

Channels: webhooks (generic JSON, DingTalk, WeCom and Feishu robots) and email. Every
send has a timeout, runs next to the others, and its failure is logged without the
webhook's address (which carries the robot's token) and never raised: a dead channel
must not stop the schedule or the other channels.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import smtplib
import ssl
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

from .config.site import Alerts, EmailAlerts, Webhook
from .redact import Secret, scrub
from .results import CheckResult, RunRecord, Status, Text

log = logging.getLogger(__name__)

GOOD = frozenset({Status.PASS, Status.WARN})
BAD = frozenset({Status.FAIL, Status.ERROR})
STATUS_WORDS = {
    Status.PASS: Text("pass", "通过"), Status.WARN: Text("warn", "警告"),
    Status.FAIL: Text("fail", "不通过"), Status.ERROR: Text("error", "无法验证"),
    Status.SKIP: Text("skip", "跳过"),
}
MAX_TARGETS = 5  # a message people read on a phone at night: name a few, count the rest
MAX_CHANGES = 10
# robots refuse longer messages (bytes of UTF-8); WeCom's text limit is the tightest
LIMITS = {("wecom", "text"): 2048, ("wecom", "markdown"): 4096,
          ("dingtalk", "text"): 18000, ("dingtalk", "markdown"): 18000,
          ("feishu", "text"): 18000}
PREFIX = "[readiness]"  # also the keyword a DingTalk robot's keyword filter can require


@dataclass(frozen=True)
class Change:
    requirement: str
    title: Text
    old: Status | None  # None: no earlier run checked this requirement
    new: Status
    # the results it is about: broken now, or (when fixed) broken before and passing now
    about: tuple[CheckResult, ...]
    message: Text

    @property
    def broken(self) -> bool:
        return self.new in BAD

    def targets(self, lang: str) -> list[str]:
        """Whom the change is about, as people read it: each label once."""
        return list(dict.fromkeys(r.label(lang) for r in self.about))

    def subjects(self) -> list[dict[str, Any]]:
        """The same, for a machine: each subject and aspect once."""
        seen = {(r.subject, r.aspect): None for r in self.about}
        return [{"subject": s.to_dict(), "aspect": a} for s, a in seen]


@dataclass(frozen=True)
class Alert:
    subject: str
    text: str  # plain text, both languages
    markdown: str
    data: dict[str, Any] = field(default_factory=dict)  # the generic webhook's JSON


@dataclass(frozen=True)
class Delivery:
    channel: str  # e.g. "dingtalk webhook #1 (oapi.dingtalk.com)": never the token
    ok: bool
    detail: str = ""


def _by_requirement(run: RunRecord) -> dict[str, list[CheckResult]]:
    out: dict[str, list[CheckResult]] = {}
    for result in run.results:
        if result.status is not Status.SKIP:
            out.setdefault(result.requirement, []).append(result)
    return out


def _identity(result: CheckResult) -> tuple[Any, ...]:
    """What makes two runs' results the same check: the subject as the site file names
    it (not its address), and the side of it looked at."""
    s = result.subject
    return (result.requirement, s.kind, s.room, s.name, result.aspect)


def _worst(results: list[CheckResult]) -> Status:
    order = [Status.FAIL, Status.ERROR, Status.WARN, Status.PASS]
    return next(s for s in order if any(r.status is s for r in results))


def requirement_changes(previous: RunRecord | None, current: RunRecord) -> list[Change]:
    """What turned from good to broken or back since `previous` (oldest rules first)."""
    before = _by_requirement(previous) if previous is not None else {}
    changes = []
    for req, results in _by_requirement(current).items():
        new = _worst(results)
        old = _worst(before[req]) if req in before else None
        if old is None and new in BAD:
            pass  # broken on the first look
        elif old is None or (old in BAD) == (new in BAD):
            continue
        if new in BAD:
            about = [r for r in results if r.status in BAD]
            message = about[0].message
        else:
            was_broken = {_identity(r) for r in before[req] if r.status in BAD}
            about = [r for r in results if r.status in GOOD and _identity(r) in was_broken]
            message = Text("passes again", "已恢复正常")
        changes.append(Change(req, results[0].title, old, new, tuple(about), message))
    return changes


def _targets(targets: Sequence[str]) -> str:
    shown = ", ".join(targets[:MAX_TARGETS])
    more = len(targets) - MAX_TARGETS
    return f"{shown} (+{more})" if more > 0 else shown


def _status(status: Status | None) -> str:
    if status is None:
        return "–"
    words = STATUS_WORDS[status]
    return f"{words.zh} {words.en}"


def build_alert(site_name: str, site_code: str, changes: Sequence[Change], at: datetime,
                tz: ZoneInfo, secrets: Sequence[Secret] = (),
                unsigned: Text | None = None) -> Alert | None:
    """One message for all the changes of a run; None when nothing changed.
    `unsigned`: why the run is not verified against the signed log: said first, and
    no change of it is a fix (believed_changes drops those)."""
    if unsigned is not None:
        changes = [c for c in changes if c.broken]
    if not changes:
        return None
    secrets = list(secrets)
    when = at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    broken = sum(c.broken for c in changes)
    fixed = len(changes) - broken
    summary = Text(
        f"{broken} requirement(s) broken, {fixed} fixed",
        f"{broken} 项要求不满足，{fixed} 项已恢复")
    subject = f"{PREFIX} {site_name} ({site_code}): {summary.zh} / {summary.en}"
    lines = [f"{PREFIX} {site_name} ({site_code}) {when} {tz.key}",
             f"{summary.zh} / {summary.en}"]
    md = [f"**{PREFIX} {site_name} ({site_code})**", f"{when} {tz.key} · {summary.zh} / "
          f"{summary.en}"]
    if unsigned is not None:
        warning = [f"未签名 NOT SIGNED: {unsigned.zh}", f"  {unsigned.en}"]
        lines += warning
        md += warning
    for change in changes[:MAX_CHANGES]:
        mark = "✗" if change.broken else "✓"
        head = (f"{mark} {change.requirement} {change.title.zh} / {change.title.en}: "
                f"{_status(change.old)} → {_status(change.new)}")
        lines.append(head)
        md.append(f"- **{head}**")
        zh, en = _targets(change.targets("zh")), _targets(change.targets("en"))
        whom = [f"  目标 target: {en}"] if zh == en else [f"  目标：{zh}", f"  target: {en}"]
        if change.about:
            lines += whom
            md += whom
        lines.append(f"  {change.message.zh}")
        md.append(f"  {change.message.zh}")
        if change.message.en != change.message.zh:
            lines.append(f"  {change.message.en}")
            md.append(f"  {change.message.en}")
    if len(changes) > MAX_CHANGES:
        rest = len(changes) - MAX_CHANGES
        lines.append(f"另有 {rest} 项变化 / {rest} more change(s)")
        md.append(f"另有 {rest} 项变化 / {rest} more change(s)")
    data = {
        "source": "readiness", "event": "requirement_changes",
        "site": {"name": site_name, "code": site_code},
        "at": at.astimezone(UTC).isoformat(timespec="seconds"),
        "signed": unsigned is None,
        "unsigned": unsigned.to_dict() if unsigned is not None else None,
        "changes": [{"requirement": c.requirement, "title": c.title.to_dict(),
                     "old": c.old.value if c.old else None, "new": c.new.value,
                     "broken": c.broken, "targets": c.targets("en"),
                     "subjects": c.subjects(),
                     "message": c.message.to_dict()} for c in changes],
    }
    return _scrubbed(Alert(subject, "\n".join(lines), "\n".join(md), data), secrets)


def failure_alert(site_name: str, site_code: str, reason: Text, at: datetime, tz: ZoneInfo,
                  secrets: Sequence[Secret] = ()) -> Alert:
    """A scheduled run that could not run or could not be recorded: nobody would
    otherwise notice that the site is no longer being watched."""
    when = at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    head = Text("the scheduled check did not complete", "定时检查未能完成")
    text = (f"{PREFIX} {site_name} ({site_code}) {when} {tz.key}\n"
            f"{head.zh} / {head.en}\n  {reason.zh}\n  {reason.en}")
    md = (f"**{PREFIX} {site_name} ({site_code})**\n{when} {tz.key}\n"
          f"- **{head.zh} / {head.en}**\n  {reason.zh}\n  {reason.en}")
    data = {"source": "readiness", "event": "run_failed",
            "site": {"name": site_name, "code": site_code},
            "at": at.astimezone(UTC).isoformat(timespec="seconds"),
            "message": reason.to_dict()}
    return _scrubbed(Alert(f"{PREFIX} {site_name} ({site_code}): {head.zh} / {head.en}",
                           text, md, data), list(secrets))


@dataclass(frozen=True)
class Believed:
    """The run to announce and the one to compare it with, as far as the signed log
    backs them (readiness/evidence/run_trust.py)."""

    current: RunRecord | None
    previous: RunRecord | None  # None too when the previous run is not verified
    unsigned: Text | None  # why the current run is not verified (None: it is)


def load_believed_runs(store: Any, run_id: int, previous_id: int | None, log: Path,
                       key_dir: Path) -> Believed:
    """Raises EvidenceError naming the first difference when a run differs from its
    signed records (or its proof vanished). A previous run that is not verified is no
    baseline: a typed-in "broken" row would otherwise turn the next run into a fix."""
    from .evidence.errors import EvidenceError
    from .evidence.run_trust import MISMATCH, check_log, trust_of

    check = check_log(log, key_dir, store.path)
    current = store.load_run(run_id)
    previous = store.load_run(previous_id) if previous_id is not None else None
    trusts = {which: trust_of(check, run) for which, run in
              (("previous", previous), ("current", current)) if run is not None}
    for trust in trusts.values():
        if trust.status == MISMATCH:
            raise EvidenceError(trust.why)
    if "previous" in trusts and not trusts["previous"].verified:
        previous = None
    unsigned = trusts["current"].why if "current" in trusts and not \
        trusts["current"].verified else None
    return Believed(current, previous, unsigned)


def load_checked_runs(store: Any, run_id: int, previous_id: int | None, log: Path,
                      key_dir: Path) -> tuple[RunRecord | None, RunRecord | None]:
    """The run and the one before it, as the store holds them, once each signed one was
    checked against its signed records in `log`: an alert must not announce a fix that
    somebody typed into the store. Raises EvidenceError naming the first difference."""
    believed = load_believed_runs(store, run_id, previous_id, log, key_dir)
    previous = store.load_run(previous_id) if previous_id is not None else None
    return believed.current, previous


def believed_changes(believed: Believed) -> list[Change]:
    """What to announce: a run that is not verified never announces a fix (no
    all-clear from a row nobody signed); what it finds broken is still said."""
    if believed.current is None:
        return []
    changes = requirement_changes(believed.previous, believed.current)
    if believed.unsigned is not None:
        changes = [c for c in changes if c.broken]
    return changes


def _scrubbed(alert: Alert, secrets: list[Secret]) -> Alert:
    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return scrub(value, secrets)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return Alert(clean(alert.subject), clean(alert.text), clean(alert.markdown),
                 clean(alert.data))


def _cut(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit - 4].decode("utf-8", errors="ignore") + " …"


def webhook_payload(hook: Webhook, alert: Alert) -> dict[str, Any]:
    """The JSON body each robot expects (without a signature)."""
    limit = LIMITS.get((hook.kind, hook.format), 18000)
    if hook.kind == "generic":
        return {**alert.data, "subject": alert.subject, "text": alert.text}
    if hook.kind == "feishu":
        return {"msg_type": "text", "content": {"text": _cut(alert.text, limit)}}
    if hook.format == "markdown":
        if hook.kind == "dingtalk":
            return {"msgtype": "markdown",
                    "markdown": {"title": alert.subject, "text": _cut(alert.markdown, limit)}}
        return {"msgtype": "markdown", "markdown": {"content": _cut(alert.markdown, limit)}}
    return {"msgtype": "text", "text": {"content": _cut(alert.text, limit)}}


def _dingtalk_signed(url: str, secret: str, now_ms: int) -> str:
    to_sign = f"{now_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest).decode())
    return f"{url}{'&' if '?' in url else '?'}timestamp={now_ms}&sign={sign}"


def _feishu_sign(secret: str, now_s: int) -> str:
    # Feishu keys the HMAC with the string to sign and signs nothing (their recipe)
    key = f"{now_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def _robot_error(kind: str, response: requests.Response) -> str | None:
    """Robots answer HTTP 200 with an error code in the body (bad token, keyword filter,
    rate limit)."""
    if kind == "generic":
        return None
    try:
        body = response.json()
    except ValueError:
        return "the answer is not JSON"
    if not isinstance(body, dict):
        return "the answer is not a JSON object"
    code = body.get("errcode", body.get("code", body.get("StatusCode", 0)))
    if code not in (0, None):
        msg = body.get("errmsg") or body.get("msg") or body.get("StatusMessage") or ""
        return f"the robot refused it: code {code} {str(msg)[:120]}"
    return None


def _channel(hook: Webhook, index: int, url: str | None) -> str:
    try:
        where = urllib.parse.urlsplit(url or "")
        host = where.hostname or "?"
        host = f"{host}:{where.port}" if where.port else host
    except ValueError:
        host = "?"
    return f"{hook.kind} webhook #{index + 1} ({host})"


def send_webhook(hook: Webhook, index: int, alert: Alert, secrets: Mapping[str, Secret],
                 timeout_s: float) -> Delivery:
    url_secret = secrets.get(f"alerts.webhooks[{index}].url")
    url = url_secret.reveal() if url_secret else None
    channel = _channel(hook, index, url)
    if url is None:
        return Delivery(channel, False, "its url reference did not resolve")
    payload = webhook_payload(hook, alert)
    sign = secrets.get(f"alerts.webhooks[{index}].sign_secret")
    if sign is not None and hook.kind == "dingtalk":
        url = _dingtalk_signed(url, sign.reveal(), int(time.time() * 1000))
    elif sign is not None and hook.kind == "feishu":
        now_s = int(time.time())
        payload = {"timestamp": str(now_s), "sign": _feishu_sign(sign.reveal(), now_s),
                   **payload}
    try:
        response = requests.post(url, json=payload, timeout=(timeout_s, timeout_s),
                                 allow_redirects=False)
    except requests.Timeout:
        return Delivery(channel, False, f"no answer within {timeout_s:g} s")
    except requests.ConnectionError:
        return Delivery(channel, False, "cannot connect")
    except requests.RequestException as err:
        # the exception's text quotes the URL, token included: name its kind only
        return Delivery(channel, False, type(err).__name__)
    if not 200 <= response.status_code < 300:
        return Delivery(channel, False, f"HTTP {response.status_code}")
    problem = _robot_error(hook.kind, response)
    return Delivery(channel, problem is None, problem or "")


def send_email(cfg: EmailAlerts, alert: Alert, secrets: Mapping[str, Secret],
               timeout_s: float, context: ssl.SSLContext | None = None) -> Delivery:
    """`context`: how to trust the server (default: the system's CA store)."""
    channel = f"email via {cfg.host}:{cfg.port}"
    password = secrets.get("alerts.email.password")
    if cfg.password is not None and password is None:
        return Delivery(channel, False, "its password reference did not resolve")
    msg = EmailMessage()
    msg["Subject"] = alert.subject
    msg["From"] = cfg.sender
    msg["To"] = ", ".join(cfg.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=cfg.sender.rpartition("@")[2] or None)
    msg.set_content(alert.text)
    context = context or ssl.create_default_context()
    try:
        smtp: smtplib.SMTP = (
            smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=timeout_s, context=context)
            if cfg.ssl else smtplib.SMTP(cfg.host, cfg.port, timeout=timeout_s))
        with smtp:
            if cfg.starttls:
                smtp.starttls(context=context)
            if cfg.username and password is not None:
                smtp.login(cfg.username, password.reveal())
            refused = smtp.send_message(msg)
    except (TimeoutError, smtplib.SMTPServerDisconnected) as err:
        return Delivery(channel, False, f"no answer within {timeout_s:g} s"
                        if isinstance(err, TimeoutError) else "the server hung up")
    except smtplib.SMTPAuthenticationError as err:
        return Delivery(channel, False, f"login refused (SMTP {err.smtp_code})")
    except smtplib.SMTPResponseException as err:
        return Delivery(channel, False, f"SMTP {err.smtp_code}")
    except (smtplib.SMTPException, OSError, ssl.SSLError) as err:
        return Delivery(channel, False, type(err).__name__)
    if refused:
        return Delivery(channel, False, f"{len(refused)} recipient(s) refused")
    return Delivery(channel, True)


def send(alert: Alert, config: Alerts, secrets: Mapping[str, Secret],
         context: ssl.SSLContext | None = None) -> list[Delivery]:
    """Send on every configured channel at once; log each outcome, raise nothing.

    `secrets`: the site's resolved secrets by field path (`Site.secrets`).
    """
    jobs: list[tuple[str, Any]] = []
    with ThreadPoolExecutor(max_workers=max(1, len(config.webhooks) + 1),
                            thread_name_prefix="alert") as pool:
        for i, hook in enumerate(config.webhooks):
            jobs.append((_channel(hook, i, None),
                         pool.submit(send_webhook, hook, i, alert, secrets, config.timeout_s)))
        if config.email is not None:
            jobs.append((f"email via {config.email.host}", pool.submit(
                send_email, config.email, alert, secrets, config.timeout_s, context)))
        deliveries = []
        for name, future in jobs:
            try:
                deliveries.append(future.result())
            except Exception as err:  # a bug in one channel must not silence the others
                deliveries.append(Delivery(name, False, type(err).__name__))
    known = list(secrets.values())
    for d in deliveries:
        if d.ok:
            log.info("alert sent: %s", d.channel)
        else:
            log.warning("alert NOT sent: %s: %s", d.channel, scrub(d.detail, known))
    return deliveries


__all__ = ["Alert", "Change", "Delivery", "build_alert", "failure_alert",
           "requirement_changes", "send", "send_email", "send_webhook", "webhook_payload"]
