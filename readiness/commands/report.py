"""Handler of `readiness report [--run ID | --latest] --out DIR`.

Plain arguments in, an exit code out; the CLI layer owns argparse and sys.exit.
Exit codes: 0 report written (whatever the site's verdict), 1 the evidence log does
not verify, the stored run differs from its signed records, or the log is gone while
the store says the run was signed into it (no report is made), 2 bad usage or input
(no store, no such run, bad site file).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from ..config.errors import ConfigError
from ..config.load import Site
from ..config.profile import Profile, available_profiles, load_profile
from ..evidence.keys import DEFAULT_KEY_DIR
from ..report import write_report
from ..results import Text
from .messages import error, print_whole, say

OK, NOT_VERIFIED, USAGE = 0, 1, 2


def _warn(console: Console, lang: str, text: Text) -> None:
    console.print(f"[yellow]{say(lang, 'note', '注意')}:[/] {escape(text.get(lang))}")


def report(console: Console, store_path: Path, out_dir: Path, run_id: int | None = None,
           latest: bool = True, evidence_log: Path | None = None,
           key_dir: Path | None = None, lang: str = "en", config: Path | None = None,
           evidence_dir: Path | None = None, pdf: bool = True,
           report_lang: str = "zh") -> int:
    """Write the proof-of-readiness report of one stored run.

    run_id: that run; otherwise (latest) the newest run in the store.
    evidence_log: the signed log; it is verified (from where the last report left off)
    against the pinned key, the stored run is checked against its signed records, and
    the head, key fingerprint and attestations go on the report. A log that does not
    verify, a store that differs from it, or a missing log for a run the store says was
    signed stops the report (exit 1). A run never signed gives a report marked NOT
    SIGNED on page 1, with the cause.
    config: the site file, for the seat layout of every room and its secrets.
    evidence_dir: where snapshot files named by results are (default: the store's folder).
    report_lang: which language leads on the page ("zh" or "en"); both are always
    there. Separate from `lang` (this command's messages): the page is read by the
    certificate body's inspector, not only by whoever runs the command.
    """
    from ..store import ResultsStore
    from ..store_checks import problem as store_problem

    store_path = Path(store_path)
    if not store_path.exists():
        return error(console, lang, Text(
            f"no results store at {store_path}: run `readiness check` first",
            f"{store_path} 没有结果库：请先运行 `readiness check`"))
    try:  # a foreign, damaged or unreadable store: a sentence, not a traceback
        store = ResultsStore(store_path)
        run = store.load_run(run_id) if run_id is not None else \
            store.latest_run() if latest else None
    except sqlite3.Error as err:
        return error(console, lang, store_problem(store_path, err))
    if run_id is not None:
        if run is None:
            return error(console, lang, Text(f"no run #{run_id} in {store_path}",
                                              f"{store_path} 中没有第 {run_id} 次检查"))
    elif latest:
        if run is None:
            return error(console, lang, Text(f"{store_path} holds no run yet",
                                              f"{store_path} 中还没有检查记录"))
    else:
        return error(console, lang, Text("say which run: --run ID or --latest",
                                          "请指定检查：--run 编号 或 --latest"))

    site: Site | None = None
    if config is not None:
        from ..config.load import load_site

        try:
            site = load_site(config, set(available_profiles()))
        except ConfigError as err:
            return error(console, lang, Text(
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
        from ..report.proof import NotProven, prove

        log = Path(evidence_log)
        if not log.exists():
            from ..evidence.run_trust import MISMATCH, run_trust

            trust = run_trust(run, log=log, key_dir=Path(key_dir or DEFAULT_KEY_DIR),
                              store=store_path)
            if trust.status == MISMATCH:  # the store says it was signed: the proof is gone
                console.print(say(lang, "[bold red]No report was made[/]: ",
                                   "[bold red]未生成报告[/]：") + escape(trust.why.get(lang)))
                return NOT_VERIFIED
            evidence = {"log": str(log), "trust": trust.to_dict(), "signed": False}
            _warn(console, lang, Text(
                f"{trust.why.en} The report is marked NOT SIGNED on its first page.",
                f"{trust.why.zh}报告首页将标注“未签名”。"))
        else:
            try:
                proof = prove(run, log, Path(key_dir or DEFAULT_KEY_DIR), store_path)
            except NotProven as err:
                if err.usage:
                    return error(console, lang, err.text)
                console.print(say(lang, "[bold red]No report was made[/]: ",
                                   "[bold red]未生成报告[/]：") + escape(err.text.get(lang)))
                return NOT_VERIFIED
            except OSError as err:
                return error(console, lang, Text(f"cannot read {log}: {err.strerror}",
                                                  f"无法读取 {log}：{err.strerror}"))
            evidence, attestations = proof.evidence, proof.attestations
            if not evidence["signed"]:
                why = Text(**evidence["trust"]["why"])
                _warn(console, lang, Text(
                    f"{why.en}. The report says NOT SIGNED on its first page.",
                    f"{why.zh}。报告首页标注“未签名”。"))

    secrets = list(site.secrets.values()) if site is not None else []
    files = write_report(
        run, Path(out_dir), profile=profile, site=site, store=store, evidence=evidence,
        attestations=attestations, lang_primary="en" if report_lang == "en" else "zh",
        secrets=secrets, evidence_dir=evidence_dir or store_path.parent, pdf=pdf)
    print_whole(console, say(lang, f"Report of run #{run.run_id}:",
                             f"第 {run.run_id} 次检查的报告："),
                files.html.resolve(), *([files.pdf.resolve()] if files.pdf else []))
    if files.pdf is None and pdf and files.pdf_problem is not None:
        _warn(console, lang, Text(
            f"no PDF was made ({files.pdf_problem.en}); the HTML page is complete. For the "
            "PDF: apt-get install chromium fonts-noto-cjk",
            f"未生成 PDF（{files.pdf_problem.zh}）；HTML 页面完整。如需 PDF，请安装："
            "apt-get install chromium fonts-noto-cjk"))
    if evidence is not None and evidence.get("head"):
        print_whole(console, say(lang, "Chain head:", "链头哈希："), evidence["head"])
        print_whole(console, say(lang, "Site key fingerprint:", "站点公钥指纹："),
                    evidence["fingerprint"])
    return OK


__all__ = ["report"]
