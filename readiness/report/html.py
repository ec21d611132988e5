"""The proof-of-readiness page: one self-contained, bilingual HTML document.

Self-contained on purpose: the inspector may open it years later on a machine with
no network, and a page that fetched anything could show something other than what
the site produced. A Content-Security-Policy forbids every request, styles are
inline, pictures are data: URIs and charts are SVG drawn here.

Every piece of text from a run goes through `_Page.e` (secrets scrubbed, then HTML
escaped): a probe's message or a measured request can carry anything.
"""

from __future__ import annotations

import html
import json
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .. import __version__
from ..config.load import Site
from ..config.profile import Profile
from ..evidence.canonical import to_plain
from ..evidence.keys import group
from ..evidence.record import MIN_STAFF
from ..redact import Secret, scrub
from ..results import CheckResult, Citation, RunRecord, Status, Text, Verdict
from ..store import TRENDS, ResultsStore
from ..words import HIDDEN, STATUS_WORDS, UNITS, VERDICT_WORDS
from . import model
from .charts import Point, Threshold, line_chart
from .style import CSS

NO_PICTURE = Text("no picture", "无画面")
EXAM_BLOCKED = Text("Exam site that must load, and did not", "须可访问但未能打开的考试网站")
SITE_TZ = ZoneInfo("Asia/Shanghai")  # design notes: exam sites run on Shanghai time
DEFAULT_LOG = "runs/evidence.jsonl"
DEFAULT_PUB = "keys/site.pub"
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
# Findings listed under a requirement before the rest is left to the appendix.
MAX_FINDINGS = 12
# Trend points on a chart: months of scheduled runs would turn the line into noise.
MAX_TREND_POINTS = 60

VERDICT_EXPLAINED = {
    Verdict.READY: Text(
        "No requirement failed, every check could be made, and every rule the certificate "
        "requires was proven by a measurement.",
        "没有任何要求不通过，所有检查均已完成，证书要求的每一项规则均有实测证明。"),
    Verdict.NOT_READY: Text(
        "At least one requirement failed: the site is not ready until the items marked "
        "FAIL are fixed and checked again.",
        "至少一项要求不通过：须整改标记为“不通过”的项目并重新检查后，考点方可视为就绪。"),
    Verdict.UNVERIFIED: Text(
        "Nothing failed, but some checks could not be made or a required rule was not "
        "proven: the site is not proven ready.",
        "没有不通过项，但部分检查无法完成或有必检规则未获证明：不能证明考点已就绪。"),
}
SECTIONS = (
    ("requirements", Text("Requirements, one by one", "逐项要求结论")),
    ("seats", Text("Seat map", "考位图")),
    ("cameras", Text("Camera snapshots", "摄像头画面")),
    ("trends", Text("Trends across the countdown", "倒计时期间趋势")),
    ("leaks", Text("Filter leaks", "过滤泄漏")),
    ("attestations", Text("Attestation checklist", "人工确认清单")),
    ("evidence", Text("Evidence chain and how to verify it", "证据链及验证方法")),
    ("appendix", Text("Appendix: every check of this run", "附录：本次全部检查")),
)


@dataclass(frozen=True)
class EvidenceInfo:
    """What the evidence section prints. From the `evidence` dict of write_report:
    head, fingerprint, log, and optionally pub, records, run_ref, verified."""

    head: str | None
    fingerprint: str | None
    log: str
    pub: str
    records: int | None
    run_ref: str | None
    verified: bool | None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> EvidenceInfo | None:
        if not data:
            return None
        fp = data.get("fingerprint") or data.get("key")
        records = data.get("records")
        return cls(
            head=str(data["head"]) if data.get("head") else None,
            fingerprint=group(str(fp)) if fp else None,
            log=str(data.get("log") or DEFAULT_LOG),
            pub=str(data.get("pub") or DEFAULT_PUB),
            records=records if isinstance(records, int) else None,
            run_ref=str(data["run_ref"]) if data.get("run_ref") else None,
            verified=data.get("verified") if isinstance(data.get("verified"), bool) else None,
        )

    def command(self) -> str:
        head = self.head or "<head>"
        return (f"readiness verify {shlex.quote(self.log)} --pub {shlex.quote(self.pub)} "
                f"--head {head}")


def fmt_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        value = f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    elif isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    for suffix, unit in UNITS:
        if key.endswith(suffix):
            return f"{value}{unit}"
    return str(value)


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


class _Page:
    def __init__(self, run: RunRecord, *, profile: Profile | None, site: Site | None,
                 store: ResultsStore | None, evidence: EvidenceInfo | None,
                 attestations: list[dict[str, Any]] | None, lang_primary: str,
                 secrets: list[Secret], evidence_dir: Path | None, generated_at: datetime):
        self.run, self.profile, self.site, self.store = run, profile, site, store
        self.evidence, self.attestations = evidence, attestations
        self.zh_first = lang_primary != "en"
        self.secrets = secrets
        self.evidence_dir = evidence_dir
        self.generated_at = generated_at
        self.tz: tzinfo = site.tz if site is not None else SITE_TZ

    # --- text helpers ---------------------------------------------------------

    def e(self, value: Any) -> str:
        return html.escape(scrub(str(value), self.secrets))

    def clean(self, value: Any) -> Any:
        return to_plain(value, self.secrets)

    def bi(self, text: Text, block: bool = False) -> str:
        zh = f'<span class="zh" lang="zh-CN">{self.e(text.zh)}</span>'
        if text.zh.strip() == text.en.strip():
            return zh
        en = f'<span class="en" lang="en">{self.e(text.en)}</span>'
        inner = zh + en if self.zh_first else en + zh
        return f'<span class="block">{inner}</span>' if block else inner

    def t(self, en: str, zh: str, block: bool = False) -> str:
        return self.bi(Text(en, zh), block)

    def status_words(self, status: Status | None) -> str:
        if status is None:
            return self.t("not checked", "未检查")
        return self.bi(Text(STATUS_WORDS["en"][status], STATUS_WORDS["zh"][status]))

    def badge(self, status: Status | None) -> str:
        if status is None:
            return f'<span class="badge st-none">{self.t("NOT CHECKED", "未检查")}</span>'
        words = Text(STATUS_WORDS["en"][status], STATUS_WORDS["zh"][status])
        return f'<span class="badge st-{status.value}">{self.bi(words)}</span>'

    def when(self, moment: datetime) -> str:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        local = moment.astimezone(self.tz)
        offset = local.strftime("%z")
        return f"{local:%Y-%m-%d %H:%M:%S} (UTC{offset[:3]}:{offset[3:]})"

    def pairs(self, values: dict[str, Any], stacked: bool = False) -> str:
        """`key = value unit` pairs; `stacked`: one per line, for a narrow column."""
        # cleaned before formatting: a secret inside a nested value would otherwise be
        # JSON-escaped (quotes, backslashes) and no longer match the scrub
        shown = [f"{self.e(k)} = {self.e(fmt_value(k, v))}"
                 for k, v in self.clean(values).items()
                 if k not in HIDDEN and v is not None and v != [] and v != {}]
        if not shown:
            return ""
        if stacked:
            return ('<span class="mono pairs">'
                    + "".join(f"<span>{x}</span>" for x in shown) + "</span>")
        return f'<span class="mono">{"; ".join(shown)}</span>'

    def citation(self, cite: Citation | None, see_also: tuple[Citation, ...] = ()) -> str:
        """The article and its original words; `see_also` smaller below, then the
        rulebook file once."""
        if cite is None:
            return ""
        out = [f'<div class="cite"><strong>{self.e(cite.article)}</strong><br>'
               f'<span class="original" lang="zh-CN">“{self.e(cite.original)}”</span>']
        for other in see_also:
            out.append(f'<div class="small muted">{self.t("see also", "另见")} '
                       f"{self.e(other.article)}: “{self.e(other.original)}”</div>")
        out.append(f'<div class="muted small">{self.t("rulebook", "依据文件")}: '
                   f'<span class="mono">{self.e(cite.seed)}</span></div></div>')
        return "".join(out)

    def para(self, en: str, zh: str) -> str:
        return f"<p>{self.t(en, zh)}</p>"

    def intro(self, en: str, zh: str) -> str:
        return f'<p class="muted small">{self.t(en, zh, block=True)}</p>'

    def h2(self, index: int) -> str:
        anchor, title = SECTIONS[index]
        return f'<h2 id="{anchor}">{index + 1}. {self.bi(title)}</h2>'

    # --- the page ----------------------------------------------------------------

    def render(self) -> str:
        run = self.run
        title = f"{run.site_name} · {run.certificate.zh} · {self.when(run.started_at)}"
        body = "".join([
            self.cover(), self.requirements(), self.seat_map(), self.cameras(),
            self.trends(), self.leak_list(), self.attestation_list(), self.evidence_part(),
            self.appendix(), self.footer(),
        ])
        lang = "zh-CN" if self.zh_first else "en"
        return (
            f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="generator" content="readiness {__version__}">\n'
            f"<title>{self.e(title)}</title>\n<style>{CSS}</style>\n</head>\n"
            f'<body>\n<main class="page">\n{body}\n</main>\n</body>\n</html>\n')

    def cover(self) -> str:
        run = self.run
        rows = [
            (Text("Exam site", "考点"), f"{self.e(run.site_name)} "
             f'<span class="mono">({self.e(run.site_code)})</span>'),
            (Text("Certificate", "证书"),
             f"{self.bi(run.certificate, block=True)}"
             f'<span class="muted small">{self.t("profile", "规则配置")}: '
             f'<span class="mono">{self.e(run.profile_id)}</span>'
             + (f' · {self.t("rulebook", "依据文件")}: '
                f'<span class="mono">{self.e(self.profile.seed)}</span>'
                if self.profile else "") + "</span>"),
        ]
        if self.site is not None:
            rooms = "<br>".join(
                f'<span class="mono">{self.e(r.id)}</span> {self.e(r.name)} · '
                f'<span class="mono">{self.e(r.subnet)}</span> · '
                f'{len(self.site.seats.get(r.id, []))} {self.t("seats", "个考位")}'
                for r in self.site.model.rooms)
            rows.append((Text("Rooms", "考场"), rooms))
        rows.append((Text("Checked", "检查时间"),
                     f"{self.when(run.started_at)} → {self.when(run.finished_at)}"
                     f' <span class="muted">({_duration(run.finished_at - run.started_at)})'
                     "</span>"))
        run_id = getattr(run, "run_id", 0)
        if run_id:
            trigger = getattr(run, "trigger", "")
            rows.append((Text("Run", "检查编号"),
                         f'<span class="mono">#{run_id}</span>'
                         + (f' <span class="muted">({self.e(trigger)})</span>' if trigger else "")))
        rows.append((Text("Report generated", "报告生成"),
                     f"{self.when(self.generated_at)} · readiness {self.e(__version__)}"))
        facts = "".join(f"<tr><th>{self.bi(k, block=True)}</th><td>{v}</td></tr>"
                        for k, v in rows)

        counts: dict[Status, int] = {}
        for r in run.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        count_line = " ".join(f"<span>{self.badge(s)} {counts[s]}</span>"
                              for s in Status if counts.get(s))
        failing = sorted({r.requirement for r in run.results if r.status == Status.FAIL})
        erring = sorted({r.requirement for r in run.results if r.status == Status.ERROR})
        proven = {r.requirement for r in run.results if r.status in (Status.PASS, Status.WARN)}
        unproven = sorted(run.required - proven - set(failing) - set(erring))
        reasons = []
        for ids, label in ((failing, Text("failed", "不通过")),
                           (erring, Text("could not be checked", "无法检查")),
                           (unproven, Text("required but not proven", "必检但未获证明"))):
            if ids:
                reasons.append(f"<p>{self.bi(label)}: <span class=\"mono\">"
                               f"{self.e(', '.join(ids))}</span></p>")
        words = Text(VERDICT_WORDS["en"][run.verdict], VERDICT_WORDS["zh"][run.verdict])
        verdict = (f'<div class="verdict {run.verdict.value}">'
                   f'<div class="small">{self.t("Overall verdict", "总体结论")}</div>'
                   f'<div class="word">{self.bi(words)}</div>'
                   f"<p>{self.bi(VERDICT_EXPLAINED[run.verdict], block=True)}</p>"
                   + "".join(reasons)
                   + f'<div class="counts small">{self.t("Checks", "检查项")}: {count_line}'
                   "</div></div>")

        contents = "".join(f'<li><a href="#{a}">{self.bi(t)}</a></li>' for a, t in SECTIONS)
        return (
            "<header>"
            f'<h1>{self.t("Proof of exam-room readiness", "考点就绪证明", block=True)}</h1>'
            + self.intro(
                "1+X certificate computer-based exam: measured from the exam network itself, "
                "signed into a tamper-evident evidence log.",
                "1+X 证书机考考点：由考场网络实测得出，并签名记入防篡改证据日志。")
            + f'<table class="facts">{facts}</table>{verdict}{self.proof_box()}'
            f'<h3>{self.t("Contents", "目录")}</h3><ol class="small contents">{contents}</ol>'
            "</header>")

    def proof_box(self) -> str:
        ev = self.evidence
        unsigned = model.not_signed_reason(ev.head if ev else None, ev.run_ref if ev else None)
        if unsigned is not None:
            # page 1, both languages, whatever the layout: the words an inspector must see
            return (f'<div class="proof-box unsigned"><strong class="not-signed">'
                    f"{self.e(model.NOT_SIGNED.zh)} · {self.e(model.NOT_SIGNED.en)}</strong>"
                    f"<p>{self.bi(unsigned, block=True)}</p></div>")
        if ev is None or not ev.head:
            title = self.t("Not backed by a signed evidence log", "本报告未附签名证据日志")
            why = self.t(
                "No evidence log was given when this report was made, so nothing on it can "
                "be checked against the site's key. Treat it as a copy, not as proof.",
                "生成本报告时未提供证据日志，报告内容无法用站点密钥核验。请仅将其视为副本，"
                "而非证明。", block=True)
            return (f'<div class="proof-box unsigned"><strong>{title}</strong>'
                    f"<p>{why}</p></div>")
        return (f'<div class="proof-box"><table class="facts">'
                f'<tr><th>{self.t("Evidence chain head", "证据链头哈希", block=True)}</th>'
                f'<td class="mono hash">{self.e(ev.head)}</td></tr>'
                f'<tr><th>{self.t("Site key fingerprint", "站点公钥指纹", block=True)}</th>'
                f'<td class="mono">{self.e(ev.fingerprint or "-")}</td></tr></table>'
                f'<p class="small">{self.t("Verify with (section 7)", "验证命令（见第 7 节）")}: '
                f'<code>{self.e(ev.command())}</code></p></div>')

    # --- 1. requirements -----------------------------------------------------------

    def requirements(self) -> str:
        rows = model.requirement_rows(self.run, self.profile)
        out = [f"<section>{self.h2(0)}",
               self.intro(
                   "Each rule of the certificate's site rulebook that a probe can measure, "
                   "with the verdict, the measurement that decided it against its "
                   "threshold, and the article and original words of the rule.",
                   "证书考点管理规定中可由探测实测的每一条规则：结论、决定结论的实测值与阈值，"
                   "以及规则的条款与原文。"),
               '<table class="reqs"><thead><tr>'
               f'<th style="width:20%">{self.t("Requirement", "要求", block=True)}</th>'
               f'<th style="width:12%">{self.t("Verdict", "结论", block=True)}</th>'
               f'<th style="width:36%">{self.t("Measured / threshold", "实测 / 阈值", True)}</th>'
               f'<th style="width:32%">{self.t("Rule cited", "规则依据", block=True)}</th>'
               "</tr></thead><tbody>"]
        for row in rows:
            out.append(self.requirement_row(row))
        out.append("</tbody></table></section>")
        return "".join(out)

    def requirement_row(self, row: model.RequirementRow) -> str:
        flags = []
        if row.required:
            flags.append(self.t("required", "必检"))
        if not row.applies:
            flags.append(self.t("not a rule of this certificate", "本证书不适用"))
        head = (f'<strong class="mono">{self.e(row.id)}</strong><br>'
                f"{self.bi(row.title, block=True)}"
                + (f'<div class="muted small">{" · ".join(flags)}</div>' if flags else ""))
        counts = ", ".join(f"{n} {self.bi(Text(STATUS_WORDS['en'][s], STATUS_WORDS['zh'][s]))}"
                           for s, n in row.counts.items())
        verdict = self.badge(row.status) + (f'<div class="small muted">{counts}</div>'
                                            if len(row.results) > 1 else "")
        measured = self.measured_cell(row)
        rule = self.citation(row.citation, row.see_also[:2])
        if row.rule is not None:
            label = self.t("Rule for this verdict", "本结论判定标准")
            rule += (f'<div class="small"><strong>{label}</strong>: '
                     f"{self.bi(row.rule, block=True)}</div>")
        elif row.note is not None:
            rule += f'<div class="small">{self.bi(row.note, block=True)}</div>'
        return (f'<tr class="req"><td>{head}</td><td class="verdict-cell">{verdict}</td>'
                f"<td>{measured}</td><td>{rule}</td></tr>")

    def measured_cell(self, row: model.RequirementRow) -> str:
        r = row.deciding
        if r is None:
            return self.para("No result in this run.", "本次运行无结果。")
        parts = []
        if len(row.results) > 1:
            parts.append(f'<div class="small muted">{self.t("deciding check", "决定结论的检查")}:'
                         f' <span class="mono">{self.e(r.target)}</span></div>')
        else:
            parts.append(f'<div class="small mono">{self.e(r.target)}</div>')
        parts.append(f"<div>{self.bi(r.message, block=True)}</div>")
        if r.measured and r.status != Status.SKIP:
            parts.append(f'<div><span class="small">{self.t("measured", "实测")}:</span> '
                         f"{self.pairs(r.measured, stacked=True)}</div>")
        if r.threshold:
            parts.append(f'<div><span class="small">{self.t("threshold", "阈值")}:</span> '
                         f"{self.pairs(r.threshold, stacked=True)}</div>")
        others = [x for x in row.results if x is not r and x.status != Status.PASS]
        if others:
            items = "".join(
                f"<li>{self.badge(x.status)} <span class=\"mono\">{self.e(x.target)}</span>: "
                f"{self.bi(x.message)}</li>" for x in others[:MAX_FINDINGS])
            more = len(others) - MAX_FINDINGS
            if more > 0:
                rest = self.t(f"{more} more: see the appendix", f"另有 {more} 项：见附录")
                items += f'<li class="muted">{rest}</li>'
            parts.append(f'<ul class="findings small">{items}</ul>')
        return "".join(parts)

    # --- 2. seat map ----------------------------------------------------------------

    def seat_map(self) -> str:
        rooms = model.seat_maps(self.run, self.site)
        out = [f"<section>{self.h2(1)}",
               self.intro(
                   "One cell per seat. A seat's colour is the worst verdict of every check "
                   "that names it (reachability from the proctor PC, LAN throughput, the "
                   "seat agent); the figure in a cell is its measured LAN throughput.",
                   "每格代表一个考位，颜色取所有涉及该考位检查（监考机可达性、局域网吞吐、考位代理）"
                   "中最差的结论；格中数字为实测局域网吞吐。"),
               self.legend()]
        if not rooms:
            out.append(self.para("No check of this run names a seat.",
                                 "本次运行没有涉及考位的检查。"))
        for room in rooms:
            out.append(self.room_grid(room))
        out.append("</section>")
        return "".join(out)

    def legend(self) -> str:
        keys = []
        for status in (Status.PASS, Status.WARN, Status.FAIL, Status.ERROR, Status.SKIP):
            words = Text(STATUS_WORDS["en"][status], STATUS_WORDS["zh"][status])
            keys.append(f'<span class="seat-key st-{status.value}"></span>{self.bi(words)}')
        keys.append(f'<span class="seat-key st-none"></span>{self.t("not checked", "未检查")}')
        return f'<div class="legend small">{"".join(keys)}</div>'

    def room_grid(self, room: model.RoomMap) -> str:
        counts: dict[Status | None, int] = {}
        for cell in room.cells:
            counts[cell.status] = counts.get(cell.status, 0) + 1
        summary = ", ".join(f"{n} {self.status_words(s)}" for s, n in counts.items())
        if room.room_id == "?":
            title = self.t("Seats not in the site file", "站点配置中没有的考位")
        elif room.room_id:
            title = (f'{self.t("Room", "考场")} <span class="mono">{self.e(room.room_id)}</span>'
                     + (f" {self.e(room.name)}" if room.name else ""))
        else:
            title = self.t("Seats", "考位")
        subnet = f' · <span class="mono">{self.e(room.subnet)}</span>' if room.subnet else ""
        cells = []
        problems = []
        for cell in room.cells:
            status = cell.status
            css = f"st-{status.value}" if status else "st-none"
            word = (Text(STATUS_WORDS["en"][status], STATUS_WORDS["zh"][status]) if status
                    else Text("not checked", "未检查"))
            mbps = cell.throughput_mbps
            speed = f'<span class="mbps">{mbps:.0f} Mb/s</span>' if mbps is not None else ""
            tip = "; ".join(f"{r.requirement}: {r.message.get('zh' if self.zh_first else 'en')}"
                            for r in cell.results)
            cells.append(
                f'<div class="seat {css}" title="{self.e(tip)}" data-seat="{self.e(cell.label)}"'
                f' data-status="{status.value if status else "none"}">'
                f'<span class="label">{self.e(cell.label)}</span>'
                f'<span class="st">{self.e(word.zh)} {self.e(word.en)}</span>{speed}</div>')
            for r in cell.results:
                if r.status in (Status.FAIL, Status.ERROR, Status.WARN):
                    problems.append(
                        f"<li>{self.badge(r.status)} <strong>{self.e(cell.label)}</strong> "
                        f'<span class="mono">{self.e(r.requirement)}</span>: '
                        f"{self.bi(r.message)}</li>")
        listing = f'<ul class="findings small">{"".join(problems)}</ul>' if problems else ""
        return (f'<div class="room"><h3>{title}{subnet}</h3>'
                f'<p class="small">{len(room.cells)} {self.t("seats", "个考位")}: {summary}</p>'
                f'<div class="seats">{"".join(cells)}</div>{listing}</div>')

    # --- 3. cameras ---------------------------------------------------------------------

    def cameras(self) -> str:
        snaps = model.snapshots(self.run, self.evidence_dir)
        out = [f"<section>{self.h2(2)}",
               self.intro(
                   "A frame decoded from each camera's stream during the check, reduced in "
                   "size for this page. The SHA-256 is that of the original file kept in the "
                   "evidence folder; the evidence log records the same hash.",
                   "检查时从各摄像头视频流中解码的一帧画面（本页为缩小图）。SHA-256 为证据目录中"
                   "原始文件的哈希，证据日志中记录了相同的哈希。")]
        figures = []
        for snap in snaps:
            r = snap.result
            size = r.measured
            dims = ""
            if isinstance(size.get("width"), int) and isinstance(size.get("height"), int):
                dims = f'{size["width"]}×{size["height"]}'
            if isinstance(size.get("fps"), int | float):
                dims += f' · {size["fps"]:.3g} fps'
            picture = (f'<img src="{snap.data_uri}" alt="{self.e(r.target)}">'
                       if snap.data_uri else
                       f'<p class="leak">{self.bi(snap.problem or NO_PICTURE)}</p>')
            digest = (f'<br><span class="small">{self.t("original", "原始文件")}: '
                      f'<span class="mono">{self.e(snap.name)}</span>'
                      + (f" · {snap.width}×{snap.height}" if snap.width else "")
                      + (f'<br>SHA-256 <span class="mono hash">{self.e(snap.sha256)}</span>'
                         if snap.sha256 else "") + "</span>")
            figures.append(
                f"<figure>{picture}<figcaption>{self.badge(r.status)} "
                f'<span class="mono">{self.e(r.requirement)}</span> '
                f"<strong>{self.e(r.target)}</strong> {self.e(dims)}<br>"
                f"{self.bi(r.message)}{digest}</figcaption></figure>")
        if figures:
            out.append(f'<div class="snaps">{"".join(figures)}</div>')
        shown = {id(s.result) for s in snaps}
        # camera results with no picture to show: a stream that failed to decode is the
        # usual reason, and the reason must be on the page
        without = [r for r in self.run.results
                   if r.requirement.startswith("CAM-") and id(r) not in shown
                   and (r.status not in (Status.PASS, Status.SKIP)
                        or r.requirement == "CAM-RES")]
        if without:
            heading = self.t("Camera checks without a snapshot", "无画面的摄像头检查")
            out.append(f"<h3>{heading}</h3>"
                       '<ul class="findings small">' + "".join(
                           f"<li>{self.badge(r.status)} <span class=\"mono\">"
                           f"{self.e(r.requirement)}</span> {self.e(r.target)}: "
                           f"{self.bi(r.message)}</li>" for r in without) + "</ul>")
        if not figures and not without:
            out.append(self.para("No camera was checked in this run.",
                                 "本次运行未检查摄像头。"))
        out.append("</section>")
        return "".join(out)

    # --- 4. trends -----------------------------------------------------------------------

    def trend_thresholds(self, key: str) -> list[Threshold]:
        req_id = TRENDS[key].requirement
        req = self.profile.requirement(req_id) if self.profile else None
        if req is None:
            return []
        th = req.thresholds
        if key == "uplink_mbps" and isinstance(th.get("floor_mbps"), int | float):
            return [Threshold(float(th["floor_mbps"]), f"min {th['floor_mbps']}", "#d63a3a",
                              True)]
        if key == "slowest_seat_mbps":
            giga, fast = th.get("gigabit_class_min_mbps"), th.get("fast_ethernet_class_min_mbps")
            if th.get("required_class") == "gigabit" and isinstance(giga, int | float):
                return [Threshold(float(giga), f"min {giga} (gigabit)", "#d63a3a", True)]
            out = []
            if isinstance(giga, int | float):
                out.append(Threshold(float(giga), f"recommended {giga}", "#c77d00", False))
            if isinstance(fast, int | float):
                out.append(Threshold(float(fast), f"min {fast}", "#d63a3a", True))
            return out
        rooms = len(self.site.model.rooms) if self.site is not None else None
        if key == "seats_answering" and rooms and isinstance(th.get("min_seats"), int):
            return [Threshold(float(th["min_seats"] * rooms), f"min {th['min_seats'] * rooms}",
                              "#d63a3a", True)]
        return []

    def trends(self) -> str:
        out = [f"<section>{self.h2(3)}"]
        if self.store is None:
            out.append(self.para("No results store was given: trends are not shown.",
                                 "未提供结果库：不显示趋势。") + "</section>")
            return "".join(out)
        out.append(self.intro(
            "Every stored run of this site up to this one (ringed). Dashed lines are the "
            "certificate's thresholds; a red point is below the minimum; a hollow point on "
            "the axis is a run that measured nothing for that figure.",
            "本考点截至本次（加圈点）的每次已存检查。虚线为证书阈值；红点低于最低要求；"
            "横轴上的空心点表示该次检查未测得此项。"))
        stamp = self.run.started_at
        if stamp.tzinfo is None:  # the store reads a naive time as UTC; so do we
            stamp = stamp.replace(tzinfo=UTC)
        current_id = getattr(self.run, "run_id", 0)
        charts = []
        for key in ("uplink_mbps", "slowest_seat_mbps", "seats_answering", "cameras_passing"):
            spec = TRENDS[key]
            series = [p for p in self.store.trend(key, site_code=self.run.site_code)
                      if p.started_at <= stamp + timedelta(seconds=1)][-MAX_TREND_POINTS:]
            points = [Point(p.started_at, p.value,
                            current=(p.run_id == current_id) if current_id
                            else p.started_at == stamp) for p in series]
            values = [p.value for p in series if p.value is not None]
            if not values:
                body = f'<p class="muted">{self.t("no measurement stored", "无已存实测值")}</p>'
            else:
                body = line_chart(points, self.trend_thresholds(key), spec.unit, self.tz,
                                  spec.label.en, integer=not spec.unit)
            latest = f"{values[-1]:.0f} {spec.unit}".strip() if values else "-"
            charts.append(
                f"<figure>{body}<figcaption><strong>{self.bi(spec.label)}</strong>"
                f' <span class="mono">({self.e(spec.requirement)})</span> · '
                f'{self.t("runs", "检查次数")}: {len(series)} · '
                f'{self.t("latest", "最新")}: {self.e(latest)}</figcaption></figure>')
        out.append(f'<div class="charts">{"".join(charts)}</div></section>')
        return "".join(out)

    # --- 5. leaks ----------------------------------------------------------------------

    def leak_list(self) -> str:
        found = model.leaks(self.run)
        checked = [r for r in self.run.results if r.requirement in model.LEAK_REQUIREMENTS
                   and r.status != Status.SKIP]
        out = [f"<section>{self.h2(4)}",
               self.intro(
                   "Every request that got through where the rule says it must be blocked "
                   "(or was blocked where it must get through), exactly as it was made, "
                   "from the seat it was made from.",
                   "规则要求阻断却访问成功（或要求可访问却被阻断）的每一个请求，按原样列出，"
                   "并注明发出请求的考位。")]
        if not checked:
            out.append(self.para("Internet filtering was not checked in this run.",
                                 "本次运行未检查上网过滤。"))
        elif not found:
            none = self.t(f"No leak: {len(checked)} filtering check(s), none failed.",
                          f"未发现泄漏：共 {len(checked)} 项过滤检查，均未失败。")
            out.append(f"<p>{self.badge(Status.PASS)} {none}</p>")
        for n, leak in enumerate(found, 1):
            out.append(self.leak_block(n, leak))
        out.append("</section>")
        return "".join(out)

    def leak_block(self, n: int, leak: model.Leak) -> str:
        r = leak.result
        parts = [f'<div class="leak"><strong>{self.t("Leak", "泄漏")} {n}</strong> '
                 f'{self.badge(r.status)} <span class="mono">{self.e(r.requirement)}</span> '
                 f"<strong>{self.e(r.target)}</strong>"
                 f'<div class="small">{self.t("from", "发出位置")}: '
                 f'<span class="mono">{self.e(r.vantage)}</span> · '
                 f"{self.when(r.started_at)}</div>"
                 f"<p>{self.bi(r.message, block=True)}</p>"]
        for i, item in enumerate(leak.items, 1):
            if item.exam_blocked:
                label = EXAM_BLOCKED
            else:
                label = Text("Request that got through", "未被拦截的请求")
            how = (f' <span class="mono small">({self.e(item.technique)})</span>'
                   if item.technique else "")
            parts.append(f'<div class="small"><strong>{n}.{i} {self.bi(label)}</strong>{how}'
                         f"</div>{self.verbatim(item.request)}")
            if item.answer is not None:
                answer = (Text("Why it did not load", "未能打开的原因") if item.exam_blocked
                          else Text("What came back", "返回内容"))
                parts.append(f'<div class="small">{self.bi(answer)}</div>'
                             f"{self.verbatim(item.answer)}")
        if leak.other:
            parts.append(f'<div class="small">{self.t("measured", "实测")}: '
                         f"{self.pairs(leak.other)}</div>")
        if r.threshold:
            parts.append(f'<div class="small">{self.t("rule", "规则")}: '
                         f"{self.pairs(r.threshold)}</div>")
        parts.append("</div>")
        return "".join(parts)

    def verbatim(self, value: Any) -> str:
        """A request or answer exactly as recorded, in a box (secrets scrubbed)."""
        value = self.clean(value)
        text = value if isinstance(value, str) else json.dumps(
            value, ensure_ascii=False, indent=2, default=str)
        return f'<pre class="mono">{self.e(text)}</pre>'

    # --- 6. attestations -------------------------------------------------------------

    def attestation_list(self) -> str:
        rows = model.attestation_rows(self.profile, self.attestations, self.run)
        out = [f"<section>{self.h2(5)}",
               self.intro(
                   "What no probe can see. An item is filled in from a named person's "
                   "attestation signed into the evidence log (readiness attest); an empty "
                   "box is for a person to check and sign on paper.",
                   "探测无法检查的项目。已填写的项目来自记名人员签入证据日志的确认"
                   "（readiness attest）；空框供现场人员核对后在纸面签字。")]
        if not rows:
            out.append(self.para("The profile lists no attestation items.",
                                 "规则配置未列出人工确认项。") + "</section>")
            return "".join(out)
        out.append("<table class=\"att\"><thead><tr>"
                   f'<th style="width:46%">{self.t("Item", "项目", block=True)}</th>'
                   f'<th style="width:16%">{self.t("Attested", "确认结果", block=True)}</th>'
                   f'<th style="width:38%">{self.t("By whom, when", "确认人及时间", True)}</th>'
                   "</tr></thead><tbody>")
        for row in rows:
            item = (f'<strong>{self.bi(row.title)}</strong> <span class="mono small muted">'
                    f"{self.e(row.id)}</span>")
            if row.rule is not None:
                item += f'<div class="small">{self.bi(row.rule, block=True)}</div>'
            item += self.citation(row.citation)
            if row.value is None:
                value = '<span class="box"></span>'
                who = (f'<div class="small">{self.t("Name", "姓名")} <span class="sign-line">'
                       f'</span></div><div class="small">{self.t("Signature", "签字")} '
                       f'<span class="sign-line"></span></div><div class="small">'
                       f'{self.t("Date", "日期")} <span class="sign-line"></span></div>')
            else:
                value = self.attested_value(row)
                who = (f"<strong>{self.e(row.person)}</strong> ({self.e(row.role)})"
                       + (f"<br>{self.when(row.at)}" if row.at else "")
                       + (f'<br><span class="small muted">{self.t("log seq", "日志序号")}'
                          f" {row.seq}</span>" if row.seq is not None else "")
                       + (f'<br><span class="small">{self.e(row.note)}</span>' if row.note else ""))
            out.append(f"<tr><td>{item}</td><td>{value}</td><td>{who}</td></tr>")
        out.append("</tbody></table></section>")
        return "".join(out)

    def attested_value(self, row: model.AttestationRow) -> str:
        if row.value is True:
            return f'<span class="box">✓</span> {self.t("yes", "是")}'
        if row.value is False:
            return (f'<span class="box" style="color:#d63a3a">✗</span> '
                    f'<strong style="color:#d63a3a">{self.t("NO", "否")}</strong>')
        text = f"<strong>{self.e(row.value)}</strong>"
        need = MIN_STAFF.get(self.run.profile_id)
        if row.id == "STAFF-COUNT" and need and str(row.value).isdigit() \
                and int(str(row.value)) < need:
            text += (f'<br><span class="small" style="color:#d63a3a">'
                     f'{self.t(f"below the {need} required", f"少于规定的 {need} 人")}</span>')
        return text

    # --- 7. evidence --------------------------------------------------------------------

    def evidence_part(self) -> str:
        ev = self.evidence
        out = [f"<section>{self.h2(6)}"]
        if ev is None or not ev.head:
            out.append(self.proof_box())
            out.append(self.intro(
                "To make reports an inspector can verify: create the site key once "
                "(readiness keys init), give keys/site.pub to the inspector, and make the "
                "report with the evidence log (runs/evidence.jsonl) that check writes.",
                "若要生成检查人员可核验的报告：先生成站点密钥（readiness keys init），"
                "把 keys/site.pub 交给检查人员，并在生成报告时提供 check 写入的证据日志"
                "（runs/evidence.jsonl）。") + "</section>")
            return "".join(out)
        rows = [
            (Text("Evidence log", "证据日志"), f'<span class="mono">{self.e(ev.log)}</span>'
             + (f" · {ev.records} {self.t('records', '条记录')}" if ev.records is not None
                else "")
             + (f" · {self.badge(Status.PASS)} " + self.t(
                 "verified when this report was made", "生成报告时已验证")
                if ev.verified else "")),
            (Text("Chain head (hash of the last record)", "链头哈希（最后一条记录的哈希）"),
             f'<span class="mono hash">{self.e(ev.head)}</span>'),
            (Text("This run's record", "本次检查的记录"),
             f'<span class="mono hash">{self.e(ev.run_ref)}</span>' if ev.run_ref else
             self.t("this run has no record in the log", "本次检查未记入该日志")),
            (Text("Site public-key fingerprint", "站点公钥指纹"),
             f'<span class="mono">{self.e(ev.fingerprint or "-")}</span>'),
            (Text("Public key file", "公钥文件"), f'<span class="mono">{self.e(ev.pub)}</span>'),
        ]
        table = "".join(f"<tr><th>{self.bi(k, block=True)}</th><td>{v}</td></tr>"
                        for k, v in rows)
        out.append(f'<table class="facts">{table}</table>')
        steps = [
            self.t(
                "Check that the public key you were given is the site's: its fingerprint "
                "(printed by the command below as “signed by”) must equal the fingerprint "
                "above and the one on the site's paperwork.",
                "核对所收到的公钥确属本考点：其指纹（下列命令输出中的“签名密钥”）须与上方"
                "及考点书面材料上的指纹一致。", block=True),
            self.t("Run this command on the log and public key handed over with this report:",
                   "对随本报告移交的证据日志和公钥运行以下命令：", block=True)
            + f'<pre class="mono cmd">{self.e(ev.command())}</pre>'
            + self.t(
                "It must answer OK (验证通过). It checks every record's signature and the "
                "hash chain, and that the chain contains the head above, so no record was "
                "edited, removed, reordered or cut off the end since this report was made.",
                "结果须为“验证通过”（OK）。该命令校验每条记录的签名和哈希链，并确认链中包含"
                "上方的链头哈希，从而证明自本报告生成以来没有记录被篡改、删除、调换或从末尾截断。",
                block=True),
            self.t(
                "Snapshot files: the SHA-256 of each original file (sha256sum FILE) must "
                "equal the one printed under its picture in section 3.",
                "截图文件：每个原始文件的 SHA-256（sha256sum 文件名）须与第 3 节图片下方打印的"
                "哈希一致。", block=True),
        ]
        out.append(f'<h3>{self.t("How to verify", "验证步骤")}</h3><ol>'
                   + "".join(f"<li>{s}</li>" for s in steps) + "</ol></section>")
        return "".join(out)

    # --- appendix ------------------------------------------------------------------------

    def appendix(self) -> str:
        out = [f"<section>{self.h2(7)}",
               self.intro("Thresholds are printed where they change from the row above.",
                          "阈值仅在与上一行不同时列出。"),
               '<table class="appendix"><thead><tr><th style="width:4%">#</th>'
               f'<th style="width:13%">{self.t("Requirement", "要求", block=True)}</th>'
               f'<th style="width:27%">{self.t("Target · vantage", "对象 · 位置", True)}</th>'
               f'<th style="width:11%">{self.t("Verdict", "结论", block=True)}</th>'
               f'<th style="width:45%">{self.t("Finding", "发现", block=True)}</th>'
               "</tr></thead><tbody>"]
        previous: tuple[str, dict[str, Any]] | None = None
        for n, r in enumerate(self.run.results, 1):
            # forty seats share one threshold: printing it forty times hides the findings
            same = previous == (r.requirement, r.threshold)
            out.append(self.appendix_row(n, r, show_threshold=not same))
            previous = (r.requirement, r.threshold)
        out.append("</tbody></table></section>")
        return "".join(out)

    def appendix_row(self, n: int, r: CheckResult, show_threshold: bool) -> str:
        finding = self.bi(r.message)
        if r.measured and r.status != Status.SKIP:
            finding += f"<div>{self.pairs(r.measured)}</div>"
        if r.threshold and show_threshold:
            finding += (f'<div class="muted">{self.t("threshold", "阈值")}: '
                        f"{self.pairs(r.threshold)}</div>")
        return (f'<tr><td>{n}</td><td class="mono">{self.e(r.requirement)}</td>'
                f'<td><span class="mono">{self.e(r.target)}</span> '
                f'<span class="muted mono">· {self.e(r.vantage)}</span></td>'
                f"<td>{self.badge(r.status)}</td><td>{finding}</td></tr>")

    def footer(self) -> str:
        head = self.evidence.head if self.evidence and self.evidence.head else None
        mark = (f' · {self.t("chain head", "链头")} <span class="mono">{self.e(head)}</span>'
                if head else "")
        return (f'<footer class="small muted">readiness {self.e(__version__)} · '
                f"{self.e(self.run.site_code)} · {self.when(self.run.started_at)}{mark}</footer>")


def render_html(run: RunRecord, *, profile: Profile | None, site: Site | None,
                store: ResultsStore | None, evidence: dict[str, Any] | None,
                attestations: list[dict[str, Any]] | None, lang_primary: str = "zh",
                secrets: Iterable[Secret] = (), evidence_dir: Path | None = None,
                generated_at: datetime | None = None) -> str:
    """The whole page as a string (write_report writes it and prints the PDF)."""
    all_secrets = list(secrets)
    if site is not None:
        all_secrets += [s for s in site.secrets.values() if s not in all_secrets]
    page = _Page(run, profile=profile, site=site, store=store,
                 evidence=EvidenceInfo.from_dict(evidence), attestations=attestations,
                 lang_primary=lang_primary, secrets=all_secrets, evidence_dir=evidence_dir,
                 generated_at=generated_at or datetime.now(UTC))
    return page.render()


__all__ = ["EvidenceInfo", "fmt_value", "render_html"]
