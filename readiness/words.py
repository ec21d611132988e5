"""The words staff read for verdicts and statuses, in both languages, in one place:
the console, history, the report and alerts all take them from here, so a change of
wording is one edit."""

from __future__ import annotations

from .results import Status, Verdict

STATUS_WORDS = {
    "en": {Status.PASS: "PASS", Status.WARN: "WARN", Status.FAIL: "FAIL",
           Status.ERROR: "ERROR", Status.SKIP: "SKIP"},
    "zh": {Status.PASS: "通过", Status.WARN: "警告", Status.FAIL: "不通过",
           Status.ERROR: "错误", Status.SKIP: "跳过"},
}
VERDICT_WORDS = {
    "en": {Verdict.READY: "READY", Verdict.NOT_READY: "NOT READY",
           Verdict.UNVERIFIED: "COULD NOT VERIFY"},
    "zh": {Verdict.READY: "就绪", Verdict.NOT_READY: "未就绪", Verdict.UNVERIFIED: "无法确认"},
}
# units by the suffix of a measured key (throughput_mbps -> " Mbit/s")
UNITS = (("_pct", "%"), ("_ms", " ms"), ("_mbps", " Mbit/s"), ("_s", " s"),
         ("_minutes", " min"))
# Measurements kept in JSON for the record but too detailed for people to read.
HIDDEN = {"interval_s", "icmp_socket", "rtt_min_ms", "address", "subnet", "errors",
          "hostname", "os", "cpu_cores", "nic", "mac", "default_gateway", "dns_servers",
          "agent_version", "clock_skew_s", "reason", "agent"}


def say(lang: str, en: str, zh: str) -> str:
    """The sentence in the reader's language."""
    return zh if lang == "zh" else en


def verdict_word(verdict: Verdict, lang: str) -> str:
    return VERDICT_WORDS["zh" if lang == "zh" else "en"][verdict]


def status_word(status: Status, lang: str) -> str:
    return STATUS_WORDS["zh" if lang == "zh" else "en"][status]
