"""Handler of `readiness report [--run ID | --latest] --out DIR`.

Plain arguments in, an exit code out; the CLI layer owns argparse and sys.exit.
Exit codes: 0 report written (whatever the site's verdict), 1 the evidence log does
not verify (no report is made from it), 2 bad usage or input (no store, no such run,
bad site file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from ..config.errors import ConfigError
from ..config.load import Site
from ..config.profile import Profile, available_profiles, load_profile
from ..evidence.chain import verify
from ..evidence.errors import EvidenceError
from ..evidence.keys import DEFAULT_KEY_DIR, PUBLIC_NAME, load_public
from ..results import Text
from . import write_report

OK, NOT_VERIFIED, USAGE = 0, 1, 2


def _say(lang: str, en: str, zh: str) -> str:
    return zh if lang == "zh" else en


def _error(console: Console, lang: str, text: Text) -> int:
    console.print(f"[bold red]{_say(lang, 'error', '错误')}:[/] {escape(text.get(lang))}")
    return USAGE


def _warn(console: Console, lang: str, text: Text) -> None:
    console.print(f"[yellow]{_say(lang, 'note', '注意')}:[/] {escape(text.get(lang))}")


def _attestation_records(log: Path) -> list[dict[str, Any]]:
    # called only after verify() passed over the whole file, so every line is a record
    out = []
    with log.open("rb") as f:
        for line in f:
            record = json.loads(line)
            if record.get("type") == "attestation":
                out.append(record)
    return out


def report(console: Console, store_path: Path, out_dir: Path, run_id: int | None = None,
           latest: bool = True, evidence_log: Path | None = None,
           key_dir: Path | None = None, lang: str = "en", config: Path | None = None,
           evidence_dir: Path | None = None, pdf: bool = True,
           report_lang: str = "zh") -> int:
    """Write the proof-of-readiness report of one stored run.

    run_id: that run; otherwise (latest) the newest run in the store.
    evidence_log: the signed log; it is verified against key_dir/site.pub first, and
    its head, key fingerprint and attestations go on the report. A log that does not
    verify stops the report: printing its head would vouch for it. A missing log file
    gives a report marked as not backed by signed evidence.
    config: the site file, for the seat layout of every room and its secrets.
    evidence_dir: where snapshot files named by results are (default: the store's folder).
    report_lang: which language leads on the page ("zh" or "en"); both are always
    there. Separate from `lang` (this command's messages): the page is read by the
    certificate body's inspector, not only by whoever runs the command.
    """
    from ..store import ResultsStore

    store_path = Path(store_path)
    if not store_path.exists():
        return _error(console, lang, Text(
            f"no results store at {store_path}: run `readiness check` first",
            f"{store_path} 没有结果库：请先运行 `readiness check`"))
    store = ResultsStore(store_path)
    if run_id is not None:
        run = store.load_run(run_id)
        if run is None:
            return _error(console, lang, Text(f"no run #{run_id} in {store_path}",
                                              f"{store_path} 中没有第 {run_id} 次检查"))
    elif latest:
        run = store.latest_run()
        if run is None:
            return _error(console, lang, Text(f"{store_path} holds no run yet",
                                              f"{store_path} 中还没有检查记录"))
    else:
        return _error(console, lang, Text("say which run: --run ID or --latest",
                                          "请指定检查：--run 编号 或 --latest"))

    site: Site | None = None
    if config is not None:
        from ..config.load import load_site

        try:
            site = load_site(config, set(available_profiles()))
        except ConfigError as err:
            return _error(console, lang, Text(
                f"{config}: {len(err.issues)} mistake(s); run `readiness validate {config}`",
                f"{config}：{len(err.issues)} 处错误；请运行 `readiness validate {config}`"))
    profile: Profile | None
    try:
        profile = load_profile(site.profile if site is not None else run.profile_id)
    except ConfigError:
        profile = None
        _warn(console, lang, Text(
            f"profile {run.profile_id!r} cannot be loaded: the report shows the rules as "
            "the run recorded them, without the checklist of attestations",
            f"无法加载规则配置 {run.profile_id!r}：报告按运行记录中的规则显示，不含人工确认清单"))

    evidence: dict[str, Any] | None = None
    attestations: list[dict[str, Any]] | None = None
    if evidence_log is not None:
        log = Path(evidence_log)
        pub_path = Path(key_dir or DEFAULT_KEY_DIR) / PUBLIC_NAME
        if not log.exists():
            _warn(console, lang, Text(
                f"no evidence log at {log}: the report is marked as not backed by signed "
                "evidence",
                f"{log} 没有证据日志：报告将标注为未附签名证据"))
        else:
            try:
                public_key = load_public(pub_path)
            except EvidenceError as err:
                return _error(console, lang, err.text)
            try:
                checked = verify(log, public_key, expected_head=run.evidence_ref)
            except OSError as err:
                return _error(console, lang, Text(f"cannot read {log}: {err.strerror}",
                                                  f"无法读取 {log}：{err.strerror}"))
            if not checked.ok:
                console.print(_say(
                    lang,
                    f"[bold red]The evidence log {escape(str(log))} does not verify[/]: ",
                    f"[bold red]证据日志 {escape(str(log))} 验证失败[/]：")
                    + escape(checked.sentence(lang)))
                console.print(_say(
                    lang, "No report was made: its chain head would vouch for a log that "
                          "cannot be trusted. Keep the log as it is and run `readiness "
                          "verify` for details.",
                    "未生成报告：报告上的链头哈希会为不可信的日志背书。请原样保留日志，"
                    "并运行 `readiness verify` 查看详情。"))
                return NOT_VERIFIED
            evidence = {"head": checked.head, "fingerprint": checked.key, "log": str(log),
                        "pub": str(pub_path), "records": checked.count,
                        "run_ref": run.evidence_ref, "verified": True}
            attestations = _attestation_records(log)
            if run.evidence_ref is None:
                _warn(console, lang, Text(
                    f"run #{run.run_id} was not signed into the evidence log; the report "
                    "says so",
                    f"第 {run.run_id} 次检查未签入证据日志；报告中会注明"))

    secrets = list(site.secrets.values()) if site is not None else []
    files = write_report(
        run, Path(out_dir), profile=profile, site=site, store=store, evidence=evidence,
        attestations=attestations, lang_primary="en" if report_lang == "en" else "zh",
        secrets=secrets, evidence_dir=evidence_dir or store_path.parent, pdf=pdf)
    console.print(_say(lang, f"Report of run #{run.run_id}: {escape(str(files.html))}",
                       f"第 {run.run_id} 次检查的报告：{escape(str(files.html))}"))
    if files.pdf is not None:
        console.print(_say(lang, f"PDF: {escape(str(files.pdf))}",
                           f"PDF：{escape(str(files.pdf))}"))
    elif pdf and files.pdf_problem is not None:
        _warn(console, lang, Text(
            f"no PDF was made ({files.pdf_problem.en}); the HTML page is complete. For the "
            "PDF: apt-get install chromium fonts-noto-cjk",
            f"未生成 PDF（{files.pdf_problem.zh}）；HTML 页面完整。如需 PDF，请安装："
            "apt-get install chromium fonts-noto-cjk"))
    if evidence is not None:
        console.print(_say(lang, f"  chain head: [bold]{evidence['head']}[/]\n"
                                 f"  site key:   {evidence['fingerprint']}",
                           f"  链头哈希：[bold]{evidence['head']}[/]\n"
                           f"  站点公钥：{evidence['fingerprint']}"))
    return OK


__all__ = ["report"]
