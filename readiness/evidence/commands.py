"""Handlers of `readiness keys init`, `verify`, `attest` and `history`.

Plain arguments in, an exit code out; the CLI layer owns argparse and sys.exit.
Exit codes: 0 done / log verified, 1 the log does not verify, 2 bad usage or input
(missing file, key problem, bad --since).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..config.secrets import Secret
from ..output.run_record import RunRecord
from ..results import Status, Text, Verdict
from .chain import EvidenceLog, record_hash, verify
from .errors import EvidenceError
from .keys import DEFAULT_KEY_DIR, PUBLIC_NAME, init_keys, load_private, load_public
from .record import ATTESTATION_ITEMS, MIN_STAFF, append_attestation, append_run

OK, NOT_VERIFIED, USAGE = 0, 1, 2

VERDICT_WORDS = {
    "en": {Verdict.READY: "ready", Verdict.NOT_READY: "not ready",
           Verdict.UNVERIFIED: "could not verify"},
    "zh": {Verdict.READY: "就绪", Verdict.NOT_READY: "未就绪", Verdict.UNVERIFIED: "无法确认"},
}
VERDICT_STYLE = {Verdict.READY: "green", Verdict.NOT_READY: "bold red",
                 Verdict.UNVERIFIED: "yellow"}
YES = {"yes", "y", "true", "ok", "1", "是", "有", "合格"}
NO = {"no", "n", "false", "0", "否", "无", "不合格"}


def _say(lang: str, en: str, zh: str) -> str:
    return zh if lang == "zh" else en


def _error(console: Console, lang: str, text: Text) -> int:
    console.print(f"[bold red]{_say(lang, 'error', '错误')}:[/] {escape(text.get(lang))}")
    return USAGE


@dataclass(frozen=True)
class Recorded:
    run_id: int | None  # id in the results store, None when no store was given
    evidence_ref: str | None  # hash of the run's record in the evidence log
    head: str | None  # the log's head after this run: print it on the report


def record_run(run: RunRecord, secrets: Iterable[Secret], *, trigger: str = "manual",
               log_path: Path | None = None, key_dir: Path = DEFAULT_KEY_DIR,
               store_path: Path | None = None, evidence_dir: Path | None = None) -> Recorded:
    """Sign a finished run into the evidence log, then save it in the results store.

    For `check` and the scheduler. Signing comes first so the stored row can name its
    proof; an EvidenceError (no key, key readable by others, damaged log) propagates
    before anything is stored, because a run the site cannot prove should be noticed.
    """
    secrets = list(secrets)
    ref = head = None
    if log_path is not None:
        records = append_run(EvidenceLog(Path(log_path), load_private(Path(key_dir))), run,
                             secrets, evidence_dir)
        ref, head = record_hash(records[0]), record_hash(records[-1])
    run_id = None
    if store_path is not None:
        from ..store import ResultsStore

        run_id = ResultsStore(Path(store_path)).save_run(run, trigger, secrets, evidence_ref=ref)
    return Recorded(run_id, ref, head)


def keys_init(console: Console, directory: Path = DEFAULT_KEY_DIR, force: bool = False,
              lang: str = "en") -> int:
    try:
        info = init_keys(Path(directory), force=force)
    except EvidenceError as err:
        return _error(console, lang, err.text)
    except OSError as err:
        return _error(console, lang, Text(f"cannot write keys in {directory}: {err}",
                                          f"无法在 {directory} 写入密钥：{err}"))
    key, pub, fp = escape(str(info.private_path)), escape(str(info.public_path)), info.fingerprint
    console.print(_say(
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


def verify_log(console: Console, log: Path, pub: Path | None = None,
               expected_head: str | None = None, key_dir: Path = DEFAULT_KEY_DIR,
               lang: str = "en") -> int:
    """Print OK with the chain head and key fingerprint, or the first bad record and why.
    `pub` defaults to the site.pub in `key_dir`."""
    log = Path(log)
    pub_path = Path(pub) if pub else Path(key_dir) / PUBLIC_NAME
    try:
        public_key = load_public(pub_path)
    except EvidenceError as err:
        return _error(console, lang, err.text)
    try:
        report = verify(log, public_key, expected_head=expected_head)
    except FileNotFoundError:
        return _error(console, lang, Text(f"no evidence log at {log}", f"{log} 没有证据日志"))
    except OSError as err:
        return _error(console, lang, Text(f"cannot read {log}: {err.strerror}",
                                          f"无法读取 {log}：{err.strerror}"))
    name = escape(str(log))
    if report.ok:
        kinds = ", ".join(f"{n} {t}" for t, n in sorted(report.types.items()))
        span = (f"{report.first_at} … {report.last_at}" if report.first_at else "")
        console.print(_say(
            lang,
            f"[bold green]OK[/] {name}: {report.count} record(s) verified"
            + (f" ({kinds})" if kinds else "") + "\n"
            f"  chain head: [bold]{report.head}[/]\n"
            f"  signed by:  {report.key}" + (f"\n  from {span}" if span else ""),
            f"[bold green]验证通过[/] {name}：{report.count} 条记录"
            + (f"（{kinds}）" if kinds else "") + "\n"
            f"  链头哈希：[bold]{report.head}[/]\n"
            f"  签名密钥：{report.key}" + (f"\n  时间：{span}" if span else "")))
        if report.count == 0:
            console.print(_say(lang, "[yellow]The log is empty: it proves nothing yet.[/]",
                               "[yellow]日志为空：尚不能证明任何内容。[/]"))
        elif not expected_head:
            console.print(_say(
                lang,
                "[dim]Compare the chain head with the one printed in the report: a log cut "
                "short at its end still verifies.[/]",
                "[dim]请将链头哈希与报告上打印的核对：从末尾截短的日志仍能通过验证。[/]"))
        return OK
    console.print(_say(lang, f"[bold red]FAILED[/] {name}: ", f"[bold red]验证失败[/] {name}：")
                  + escape(report.sentence(lang)))
    if report.count:
        console.print(_say(
            lang,
            f"  the {report.count} record(s) before it verify (head {report.head}, "
            f"key {report.key}); nothing from this line on can be trusted.",
            f"  此前 {report.count} 条记录验证通过（链头 {report.head}，密钥 {report.key}）；"
            "自此行起的内容均不可信。"))
    else:
        console.print(_say(lang, f"  checked against key {report.key}; nothing in the log "
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
        return _error(console, lang, Text("give the attesting person's --name and --role",
                                          "请提供确认人的 --name 和 --role"))
    if not items:
        known = ", ".join(ATTESTATION_ITEMS)
        return _error(console, lang, Text(
            f"give at least one --item KEY=VALUE (known items: {known})",
            f"请至少提供一个 --item KEY=VALUE（可用项：{known}）"))
    try:
        private_key = load_private(Path(key_dir))
        record = append_attestation(EvidenceLog(Path(log), private_key), name, role, items,
                                    note, site=site, profile=profile)
    except EvidenceError as err:
        return _error(console, lang, err.text)
    except OSError as err:
        return _error(console, lang, Text(f"cannot write {log}: {err}", f"无法写入 {log}：{err}"))
    table = Table(title=_say(lang, f"Attested by {name} ({role})", f"确认人：{name}（{role}）"))
    table.add_column(_say(lang, "Item", "项目"))
    table.add_column(_say(lang, "Attested", "确认结果"))
    for key, value in items.items():
        label = ATTESTATION_ITEMS[key].get(lang) if key in ATTESTATION_ITEMS else key
        if key == "staff" and profile in MIN_STAFF:
            label += _say(lang, f" (at least {MIN_STAFF[profile]})",
                          f"（不少于 {MIN_STAFF[profile]} 人）")
        if value is True:
            shown = _say(lang, "[green]yes[/]", "[green]是[/]")
        elif value is False:
            shown = _say(lang, "[bold red]no[/]", "[bold red]否[/]")
        else:
            shown = escape(value)
        table.add_row(escape(label), shown)
    console.print(table)
    console.print(_say(lang, f"Recorded as seq {record['seq']} in {escape(str(log))} "
                             f"(hash {record_hash(record)})",
                       f"已记入 {escape(str(log))}，序号 {record['seq']}"
                       f"（哈希 {record_hash(record)}）"))
    if any(v is False for v in items.values()):
        console.print(_say(lang, "[yellow]Some items were attested as NOT in place.[/]",
                           "[yellow]部分项目被确认为未到位。[/]"))
    staff = items.get("staff")
    if isinstance(staff, str) and staff.isdigit() and profile in MIN_STAFF \
            and int(staff) < MIN_STAFF[profile]:
        need = MIN_STAFF[profile]
        console.print(_say(lang, f"[yellow]{staff} staff is below the {need} the rules require.[/]",
                           f"[yellow]工作人员 {staff} 人，少于规定的 {need} 人。[/]"))
    return OK


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`--since`: a duration back from now (`7d`, `12h`, `30m`, `2w`) or an ISO date or
    time (without a zone, in this machine's time zone)."""
    now = now or datetime.now(UTC)
    match = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text.lower())
    if match:
        n, unit = int(match.group(1)), match.group(2)
        span = {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n),
                "w": timedelta(weeks=n)}[unit]
        return now - span
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
            site_code: str | None = None, lang: str = "en") -> int:
    """Past runs, oldest first, with the four trend series next to each."""
    from ..store import TRENDS, ResultsStore

    store_path = Path(store_path)
    if not store_path.exists():
        return _error(console, lang, Text(
            f"no results store at {store_path}: no run has been saved yet",
            f"{store_path} 没有结果库：尚未保存任何检查"))
    store = ResultsStore(store_path)
    runs = store.list_runs(since=since, site_code=site_code)
    if not runs:
        console.print(_say(lang, "No runs in that period.", "该时间段内没有检查记录。"))
        return OK
    series = {key: {p.run_id: p.value for p in store.trend(key, since, site_code)}
              for key in TRENDS}
    table = Table(title=_say(lang, "Check history", "检查历史"))
    for head in (("#", "#"), ("Started", "开始时间"), ("Site", "站点"), ("Profile", "证书"),
                 ("Trigger", "触发"), ("Verdict", "结论"),
                 ("Pass/Warn/Fail/Error", "通过/警告/不通过/错误")):
        table.add_column(_say(lang, *head), no_wrap=True)
    for spec in TRENDS.values():
        table.add_column(spec.label.get(lang), justify="right")
    for run in runs:
        counts = "/".join(str(run.counts.get(s, 0))
                          for s in (Status.PASS, Status.WARN, Status.FAIL, Status.ERROR))
        style = VERDICT_STYLE[run.verdict]
        table.add_row(
            str(run.run_id), run.started_at.astimezone().strftime("%Y-%m-%d %H:%M"),
            escape(run.site_name), run.profile_id, escape(run.trigger),
            f"[{style}]{VERDICT_WORDS['zh' if lang == 'zh' else 'en'][run.verdict]}[/]", counts,
            *(_fmt(series[key].get(run.run_id), spec.unit) for key, spec in TRENDS.items()))
    console.print(table)
    return OK


__all__ = ["Recorded", "attest", "history", "keys_init", "parse_items", "parse_since",
           "record_run", "verify_log"]
