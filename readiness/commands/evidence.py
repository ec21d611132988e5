"""Handlers of `readiness keys init`, `verify`, `attest` and `history`.

Plain arguments in, an exit code out; the CLI layer owns argparse and sys.exit.
Exit codes: 0 done / log verified to its recorded head with a pinned or given key,
1 the log does not verify (or the store disagrees with it), 2 bad usage or input
(missing file, key problem, bad --since), 3 (verify) every record verifies but the
proof is incomplete: no head on record to rule out a cut end, an empty log, or no
pinned key.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .. import sitetime
from ..evidence.chain import EvidenceLog, KnownHead, record_hash, verify
from ..evidence.errors import EvidenceError
from ..evidence.keys import DEFAULT_KEY_DIR, init_keys, key_id, load_private, same_key
from ..evidence.keys import fingerprint as key_fp
from ..evidence.lines import bounded_lines
from ..evidence.record import ATTESTATION_ITEMS, MIN_STAFF, append_attestation
from ..evidence.run_trust import MISMATCH, VERIFIED, known_heads, trust_runs, unsigned_head
from ..evidence.trust import KeyMismatch, trusted_key
from ..linebreak import wrap
from ..results import Status, Text, Verdict
from ..sitetime import DEFAULT_TZ
from .messages import error, print_whole, say

OK, NOT_VERIFIED, USAGE, INCOMPLETE = 0, 1, 2, 3
VERIFY_EXIT_CODES = """exit codes:
  0  every record verifies against the given (--pub) or pinned key, and the log
     reaches the head recorded at the last signed run (or --head)
  1  it does not: a record was edited, removed, reordered, inserted or cut off the
     end, it is signed by another key, site.pub is not the pinned key, the key is
     not the --fingerprint given, or the head file is not the one the site signed
  2  bad usage or input: no log file, no key, unreadable file
  3  every record verifies, but the proof is incomplete: no head on record to rule out
     records cut off the end (give --head), an empty log, or no pinned key (give --pub)
"""

VERDICT_WORDS = {
    "en": {Verdict.READY: "ready", Verdict.NOT_READY: "not ready",
           Verdict.UNVERIFIED: "could not verify"},
    "zh": {Verdict.READY: "就绪", Verdict.NOT_READY: "未就绪", Verdict.UNVERIFIED: "无法确认"},
}
VERDICT_STYLE = {Verdict.READY: "green", Verdict.NOT_READY: "bold red",
                 Verdict.UNVERIFIED: "yellow"}
YES = {"yes", "y", "true", "ok", "1", "是", "有", "合格"}
NO = {"no", "n", "false", "0", "否", "无", "不合格"}


def keys_init(console: Console, directory: Path = DEFAULT_KEY_DIR, force: bool = False,
              lang: str = "en") -> int:
    try:
        info = init_keys(Path(directory), force=force)
    except EvidenceError as err:
        return error(console, lang, err.text)
    except OSError as err:
        return error(console, lang, Text(f"cannot write keys in {directory}: {err}",
                                          f"无法在 {directory} 写入密钥：{err}"))
    key, pub, fp = escape(str(info.private_path)), escape(str(info.public_path)), info.fingerprint
    console.print(say(
        lang,
        f"[green]Site key created.[/]\n"
        f"  private key: {key} (mode 600: keep it on this machine, back it up offline)\n"
        f"  public key:  {pub} (give this file to the inspector)\n"
        f"  fingerprint: [bold]{fp}[/]\n"
        "Print the fingerprint on the site's paperwork: the inspector checks that the "
        "public key they were given has this fingerprint.",
        f"[green]已生成站点密钥。[/]\n"
        f"  私钥：{key}（权限 600：请留在本机，并离线备份）\n"
        f"  公钥：{pub}（交给检查人员）\n"
        f"  指纹：[bold]{fp}[/]\n"
        "请把指纹印在站点的书面材料上：检查人员据此核对所收到的公钥。"))
    return OK


def _failed(console: Console, lang: str, name: str, text: Text) -> int:
    console.print(say(lang, f"[bold red]FAILED[/] {name}: ", f"[bold red]验证失败[/] {name}：")
                  + escape(text.get(lang)))
    return NOT_VERIFIED


def _runs_checked(log: Path, count: int) -> list[dict[str, Any]]:
    """The run records among the first `count` (verified) records of the log."""
    runs = []
    with log.open("rb") as f:
        for no, raw in enumerate(bounded_lines(f, log), 1):
            if no > count:
                break
            if not raw.endswith(b'"type":"run"}\n'):
                continue
            record = json.loads(raw)
            runs.append({"seq": record["seq"], **record["body"]})
    return runs


def _run_line(run: dict[str, Any], lang: str, tz: tzinfo) -> str:
    counts = run.get("counts") if isinstance(run.get("counts"), dict) else {}
    site = run.get("site") if isinstance(run.get("site"), dict) else {}
    try:
        verdict = VERDICT_WORDS["zh" if lang == "zh" else "en"][Verdict(run.get("verdict"))]
    except ValueError:
        verdict = str(run.get("verdict"))
    figures = " ".join(f"{name} {counts.get(name, 0)}"
                       for name in ("pass", "warn", "fail", "error", "skip"))
    return (f"    seq {run['seq']}  {_local(str(run.get('started_at', '?')), tz)}  "
            f"{site.get('code', '?')}  {verdict}  {figures}")


def _head_words(heads: list[KnownHead], lang: str) -> str | None:
    beside = next((h for h in heads if h.source.endswith(".head")), None)
    if beside is None:
        return None
    if beside.signed:
        return say(lang,
                   f"  head:       signed by the site key at {beside.at} (seq {beside.seq})",
                   f"  链头：      已由站点密钥签名，时间 {beside.at}（序号 {beside.seq}）")
    return say(lang,
               f"  head:       [yellow]not signed[/] ({escape(beside.source)} was written by "
               "a readiness from before heads were signed; the next signed run signs it)",
               f"  链头：      [yellow]未签名[/]（{escape(beside.source)} 由不签名链头的旧版 "
               "readiness 写入；下一次签名的检查会签名）")


def _same_fingerprint(given: str, key: Ed25519PublicKey) -> bool:
    digest = given.strip().lower().removeprefix("sha256:").replace(" ", "").replace(":", "")
    return same_key("sha256:" + digest, key_id(key))


def _local(stamp: str, tz: tzinfo) -> str:
    """A record's time (ISO 8601, UTC) as people read it: the site's time and offset."""
    try:
        return sitetime.local(datetime.fromisoformat(stamp), tz)
    except ValueError:
        return stamp


def verify_log(console: Console, log: Path, pub: Path | None = None,
               expected_head: str | None = None, key_dir: Path = DEFAULT_KEY_DIR,
               lang: str = "en", store_path: Path | None = None,
               fingerprint: str | None = None, tz: tzinfo = DEFAULT_TZ) -> int:
    """Print OK with the chain head, key fingerprint and every run checked (its signed
    verdict, time and counts), or the first bad record and why.

    The key: `pub`, else the one pinned in key_dir/site.pin or the store (a site.pub
    that differs from the pin is refused). `fingerprint`: the key's fingerprint as the
    inspector holds it; the key used must have it. Without `pub` or `fingerprint` the
    key came from the same folder as the log, which proves nothing on its own: said so.
    The end: `expected_head`, the signed head beside the log and the head the store
    recorded; without any, exit 3 (INCOMPLETE).
    """
    log = Path(log)
    name = escape(str(log))
    try:
        trust = trusted_key(log, pub, Path(key_dir), store_path)
    except KeyMismatch as err:
        return _failed(console, lang, name, err.text)
    except EvidenceError as err:
        return error(console, lang, err.text)
    if fingerprint is not None and not _same_fingerprint(fingerprint, trust.key):
        return _failed(console, lang, name, Text(
            f"the key it would be checked against ({trust.source}) has fingerprint "
            f"{key_fp(trust.key)}, not the {fingerprint} you gave: this is not the key the "
            "inspector holds",
            f"用于验证的密钥（{trust.source}）指纹为 {key_fp(trust.key)}，不是您给出的 "
            f"{fingerprint}：不是检查人员持有的密钥"))
    if not log.is_file():
        return error(console, lang, Text(f"no evidence log at {log}", f"{log} 没有证据日志"))
    try:
        heads = known_heads(log, store_path, trust.key)
    except EvidenceError as err:
        return _failed(console, lang, name, err.text)
    try:
        report = verify(log, trust.key, expected_head=expected_head, known=heads)
        runs = _runs_checked(log, report.count) if report.ok else []
    except OSError as err:
        return error(console, lang, Text(f"cannot read {log}: {err.strerror}",
                                          f"无法读取 {log}：{err.strerror}"))
    forged_head = unsigned_head(log, report, heads) if report.ok else None
    if forged_head is not None:
        return _failed(console, lang, name, forged_head)
    for note in trust.notes:
        console.print(f"[yellow]{say(lang, 'note', '注意')}:[/] {escape(note.get(lang))}")
    if report.ok:
        kinds = ", ".join(f"{n} {t}" for t, n in sorted(report.types.items()))
        span = (f"{_local(report.first_at, tz)} – {_local(report.last_at, tz)}"
                if report.first_at else "")
        console.print(say(
            lang,
            f"[bold green]OK[/] {name}: {report.count} record(s) verified"
            + (f" ({kinds})" if kinds else "") + (f", {span}" if span else ""),
            f"[bold green]验证通过[/] {name}：{report.count} 条记录"
            + (f"（{kinds}）" if kinds else "") + (f"，{span}" if span else "")))
        print_whole(console, say(lang, "Chain head:", "链头哈希："), report.head)
        print_whole(console, say(lang, f"Signed by (key from {trust.source}):",
                                 f"签名密钥（公钥来自 {trust.source}）："), report.key)
        head_words = _head_words(heads, lang)
        if head_words:
            console.print(head_words)
        if pub is not None or fingerprint is not None:
            console.print(say(
                lang, "  anchored:   checked against the key you gave ("
                + ("--pub" if pub is not None else "--fingerprint") + ")",
                "  锚定：      按您给出的密钥验证（"
                + ("--pub" if pub is not None else "--fingerprint") + "）"))
        else:
            console.print(say(
                lang,
                f"[yellow]NOT ANCHORED: checked against a key taken from the same folder "
                f"({escape(trust.source)}). Whoever can rewrite the log can replace that key "
                "too, so this OK proves nothing on its own. Give the key the inspector holds: "
                "--pub FILE or --fingerprint SHA256.[/]",
                f"[yellow]未锚定：所用密钥取自同一文件夹（{escape(trust.source)}）。能改写日志的人"
                "也能替换该密钥，因此本结果本身不能证明任何内容。请提供检查人员持有的密钥："
                "--pub 公钥文件 或 --fingerprint 指纹。[/]"))
        if runs:
            console.print(say(lang, f"  runs checked ({len(runs)}): seq, started, site, "
                                     "signed verdict, counts",
                               f"  已核对的检查（{len(runs)} 次）：序号、开始时间、考点、"
                               "签名结论、各状态数"))
            for run in runs:
                console.print(escape(_run_line(run, lang, tz)))
        code = OK
        if report.count == 0:
            console.print(say(lang, "[yellow]INCOMPLETE: the log is empty: it proves "
                                     "nothing yet.[/]",
                               "[yellow]不完整：日志为空，尚不能证明任何内容。[/]"))
            code = INCOMPLETE
        if not report.head_checked:
            console.print(say(
                lang,
                f"[yellow]INCOMPLETE: no head on record for {name} (no {name}.head beside "
                "it, nothing in the results store), so records cut off its end would not "
                "show. Give the chain head printed on the report: --head HASH[/]",
                f"[yellow]不完整：{name} 没有记录在案的链头（旁边没有 {name}.head，结果库中也"
                "没有），从末尾截掉的记录无法发现。请用报告上的链头：--head 哈希[/]"))
            code = INCOMPLETE
        if not trust.pinned:
            code = INCOMPLETE
        return code
    console.print(say(lang, f"[bold red]FAILED[/] {name}: ", f"[bold red]验证失败[/] {name}：")
                  + escape(report.sentence(lang)))
    if report.count:
        console.print(say(
            lang,
            f"  the {report.count} record(s) before it verify (head {report.head}, "
            f"key {report.key}); nothing from this line on can be trusted.",
            f"  此前 {report.count} 条记录验证通过（链头 {report.head}，密钥 {report.key}）；"
            "自此行起的内容均不可信。"))
    else:
        console.print(say(lang, f"  checked against key {report.key}; nothing in the log "
                                 "can be trusted.",
                           f"  所用公钥 {report.key}；日志中的内容均不可信。"))
    return NOT_VERIFIED


def parse_items(pairs: list[str]) -> dict[str, bool | str]:
    """`KEY=VALUE` arguments of `attest --item`: yes/no words become booleans, anything
    else (a count, a remark) stays text. Raises ValueError with the bad argument."""
    items: dict[str, bool | str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not re.fullmatch(r"[A-Za-z0-9_.-]+", key) or not value:
            raise ValueError(f"{pair!r}: write an item as KEY=VALUE, e.g. staff=6 or "
                             "seat_spacing=yes")
        lowered = value.lower()
        items[key] = True if lowered in YES else False if lowered in NO else value
    return items


def attest(console: Console, log: Path, name: str, role: str, items: dict[str, bool | str],
           note: str = "", key_dir: Path = DEFAULT_KEY_DIR, site: str | None = None,
           profile: str | None = None, lang: str = "en") -> int:
    """Sign a person's attestation of what no probe can see into the evidence log."""
    if not name.strip() or not role.strip():
        return error(console, lang, Text("give the attesting person's --name and --role",
                                          "请提供确认人的 --name 和 --role"))
    if not items:
        known = ", ".join(ATTESTATION_ITEMS)
        return error(console, lang, Text(
            f"give at least one --item KEY=VALUE (known items: {known})",
            f"请至少提供一个 --item KEY=VALUE（可用项：{known}）"))
    try:
        private_key = load_private(Path(key_dir))
        record = append_attestation(EvidenceLog(Path(log), private_key), name, role, items,
                                    note, site=site, profile=profile)
    except EvidenceError as err:
        return error(console, lang, err.text)
    except OSError as err:
        return error(console, lang, Text(f"cannot write {log}: {err}", f"无法写入 {log}：{err}"))
    table = Table(title=say(lang, f"Attested by {name} ({role})", f"确认人：{name}（{role}）"))
    table.add_column(say(lang, "Item", "项目"))
    table.add_column(say(lang, "Attested", "确认结果"))
    for key, value in items.items():
        label = ATTESTATION_ITEMS[key].get(lang) if key in ATTESTATION_ITEMS else key
        if key == "staff" and profile in MIN_STAFF:
            label += say(lang, f" (at least {MIN_STAFF[profile]})",
                          f"（不少于 {MIN_STAFF[profile]} 人）")
        if value is True:
            shown = say(lang, "[green]yes[/]", "[green]是[/]")
        elif value is False:
            shown = say(lang, "[bold red]no[/]", "[bold red]否[/]")
        else:
            shown = escape(value)
        table.add_row(escape(label), shown)
    console.print(table)
    console.print(say(lang, f"Recorded as seq {record['seq']} in {escape(str(log))} "
                             f"(hash {record_hash(record)})",
                       f"已记入 {escape(str(log))}，序号 {record['seq']}"
                       f"（哈希 {record_hash(record)}）"))
    if any(v is False for v in items.values()):
        console.print(say(lang, "[yellow]Some items were attested as NOT in place.[/]",
                           "[yellow]部分项目被确认为未到位。[/]"))
    staff = items.get("staff")
    if isinstance(staff, str) and staff.isdigit() and profile in MIN_STAFF \
            and int(staff) < MIN_STAFF[profile]:
        need = MIN_STAFF[profile]
        console.print(say(lang, f"[yellow]{staff} staff is below the {need} the rules require.[/]",
                           f"[yellow]工作人员 {staff} 人，少于规定的 {need} 人。[/]"))
    return OK


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`--since`: a duration back from now (`7d`, `12h`, `30m`, `2w`) or an ISO date or
    time (without a zone, in this machine's time zone)."""
    now = now or datetime.now(UTC)
    match = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text.lower())
    if match:
        n, unit = int(match.group(1)), match.group(2)
        try:
            span = {"m": timedelta(minutes=n), "h": timedelta(hours=n),
                    "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]
            return now - span
        except OverflowError:  # further back than the calendar goes (year 1)
            raise ValueError(f"{text!r} reaches back before the year 1; give a shorter span "
                             "such as 365d, or a date like 2024-05-01") from None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--since {text!r}: give a duration like 7d or 12h, or a date like "
                         "2024-05-01") from None
    # a time without a zone is what the user's clock shows
    return moment if moment.tzinfo else moment.astimezone()


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    number = f"{value:.0f}" if value >= 100 or value == int(value) else f"{value:.3g}"
    return f"{number} {unit}".strip()


def history(console: Console, store_path: Path, since: datetime | None = None,
            site_code: str | None = None, lang: str = "en", evidence_log: Path | None = None,
            key_dir: Path = DEFAULT_KEY_DIR, tz: tzinfo | None = None) -> int:
    """Past runs, oldest first, with the four trend series next to each. With the
    evidence log, every signed run is checked against its signed records first: a store
    edited after signing is refused (exit 1), naming the run and the first differing
    check; runs never signed are marked so."""
    from ..store import TRENDS, ResultsStore
    from ..store_checks import problem as store_problem

    store_path = Path(store_path)
    if not store_path.exists():
        return error(console, lang, Text(
            f"no results store at {store_path}: no run has been saved yet",
            f"{store_path} 没有结果库：尚未保存任何检查"))
    try:  # a foreign, damaged or unreadable store: a sentence, not a traceback
        store = ResultsStore(store_path)
        runs = store.list_runs(since=since, site_code=site_code)
        series = {key: {p.run_id: p.value for p in store.trend(key, since, site_code)}
                  for key in TRENDS}
    except sqlite3.Error as err:
        return error(console, lang, store_problem(store_path, err))
    if not runs:
        console.print(say(lang, "No runs in that period.", "该时间段内没有检查记录。"))
        return OK
    try:
        trusts = trust_runs(store, [r.run_id for r in runs], evidence_log, Path(key_dir))
    except (OSError, sqlite3.Error) as err:
        return error(console, lang, Text(f"cannot check the runs against {evidence_log}: "
                                          f"{err}", f"无法用 {evidence_log} 核对检查记录：{err}"))
    # one run that differs from its signed records (or whose proof vanished) and the
    # store cannot be believed about the others either
    refused = next((t.why for t in trusts.values() if t.status == MISMATCH), None)
    if refused is not None:
        console.print(say(lang, "[bold red]History refused[/]: ", "[bold red]拒绝显示历史[/]：")
                      + escape(refused.get(lang)))
        return NOT_VERIFIED
    _history_tables(console, runs, trusts, series, lang, tz or DEFAULT_TZ)
    return OK


# what started a run, as the store records it, in people's words
TRIGGER_WORDS = {"manual": Text("check", "手动检查"), "schedule": Text("schedule", "计划"),
                 "run_now": Text("run now", "立即检查"), "drill": Text("drill", "演练"),
                 "import": Text("import", "导入")}


def _history_tables(console: Console, runs: list[Any], trusts: dict[int, Any],
                    series: dict[str, dict[int, float | None]], lang: str, tz: tzinfo) -> None:
    """The runs in a table that fits 80 columns (site and certificate said once above it
    when every run shares them), then the figures to follow across runs in a second."""
    from ..store import TRENDS

    sites = {(r.site_name, r.site_code, r.profile_id) for r in runs}
    one_site = len(sites) == 1
    offset = sitetime.offset(runs[-1].started_at, tz)
    title = say(lang, "Check history", "检查历史")
    if one_site:
        name, code, profile = next(iter(sites))
        title += say(lang, ": ", "：") + f"{name} ({code}) · {profile}"
    # the counts' header in full would squeeze the other columns at 80: a legend instead
    table = Table(title=escape(title), box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False,
                  caption=say(lang, "P/W/F/E: checks passed / warned / failed / in error",
                              "过/警/败/错：通过 / 警告 / 不通过 / 错误的检查数"),
                  caption_justify="left")
    heads = [("#", "#"), (f"Started {offset}", f"开始 {offset}")]
    if not one_site:
        heads.append(("Site", "站点"))
    heads += [("By", "触发"), ("Signed", "签名"), ("Verdict", "结论"),
              ("P/W/F/E", "过/警/败/错")]
    for head in heads:
        table.add_column(say(lang, *head), no_wrap=True)
    unsigned: list[tuple[int, Text]] = []
    for run in runs:
        trust = trusts.get(run.run_id)
        believed = trust is not None and trust.status == VERIFIED
        if trust is not None and not believed:
            unsigned.append((run.run_id, trust.why))
        counts = "/".join(str(run.counts.get(s, 0))
                          for s in (Status.PASS, Status.WARN, Status.FAIL, Status.ERROR))
        style = VERDICT_STYLE[run.verdict]
        trigger = TRIGGER_WORDS.get(run.trigger)
        row = [str(run.run_id), sitetime.short(run.started_at, tz)]
        if not one_site:
            row.append(escape(run.site_code))
        row += [trigger.get(lang) if trigger else escape(run.trigger),
                say(lang, "yes", "是") if believed else
                say(lang, "[yellow]NO[/]", "[yellow]未签名[/]"),
                # an unsigned row's verdict is only what someone typed: never shown as ready
                f"[{style}]{VERDICT_WORDS['zh' if lang == 'zh' else 'en'][run.verdict]}[/]"
                if believed else say(lang, f"[yellow]{VERDICT_WORDS['en'][run.verdict]}, "
                                           "unproven[/]",
                                     f"[yellow]{VERDICT_WORDS['zh'][run.verdict]}（无证明）[/]"),
                counts]
        table.add_row(*row)
    console.print(table)
    if unsigned:  # the newest one's cause; the others almost always share it
        run_id, why = unsigned[-1]
        others = len(unsigned) - 1
        note = (say(lang, f"#{run_id} not signed: ", f"#{run_id} 未签名：") + why.get(lang)
                + (say(lang, f" (and {others} earlier run(s) not signed)",
                       f"（另有 {others} 次较早的检查未签名）") if others else ""))
        for line in wrap(note, console.width, indent=2):  # zh breaks between characters
            console.print(line, style="yellow", markup=False, highlight=False)
    shown = [key for key in TRENDS if any(series[key].get(r.run_id) is not None for r in runs)]
    if not shown:
        return
    trends = Table(title=say(lang, "Figures to follow across runs", "各次检查的关键数据"),
                   box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    trends.add_column("#", no_wrap=True)
    for key in shown:
        trends.add_column(TRENDS[key].label.get(lang), justify="right")
    for run in runs:
        trends.add_row(str(run.run_id), *(_fmt(series[key].get(run.run_id), TRENDS[key].unit)
                                          for key in shown))
    console.print(trends)


__all__ = ["attest", "history", "keys_init", "parse_items", "parse_since", "verify_log"]
