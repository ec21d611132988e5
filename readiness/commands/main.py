"""The `readiness` command. The only layer that prints or decides exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from .. import __version__
from ..argtypes import positive_int
from ..config.errors import ConfigError
from ..interrupts import terminate_as_interrupt
from ..results import EXIT_BAD_CONFIG, EXIT_CODES
from ..sitetime import DEFAULT_TZ, stamp
from .messages import default_lang, print_config_error, print_whole, say, usage_error

LAB_PREFIX = "rdy"
RUNS = Path("runs")
DEFAULT_LOG = RUNS / "evidence.jsonl"
DEFAULT_STORE = RUNS / "readiness.sqlite"
DEFAULT_KEYS = Path("keys")
# lines printed around a check's summary: the drill's (opening 2, closing 3), the saved
# run's (its line and its chain head; with the store and the log for a check of its own)
DRILL_OWN_LINES = 5
SAVED_LINES_BRIEF = 2
SAVED_LINES = 4
TZ_HELP = ("the site file: times are shown in its timezone (default Asia/Shanghai, the "
           "site file's own default)")
LAB_SPEC_HELP = ("lab spec (default: the shipped room, config/lab/room.yaml in a checkout; "
                 "readiness example lab-room prints it)")


def cmd_validate(args: argparse.Namespace) -> int:
    from ..config.load import load_site
    from ..config.profile import available_profiles

    try:
        site = load_site(args.config, set(available_profiles()))
    except ConfigError as err:
        return print_config_error(err, args.lang)
    seats = sum(len(s) for s in site.seats.values())
    console = Console(highlight=False)
    console.print(say(
        args.lang,
        f"[green]OK[/] {args.config}: site {site.name!r}, profile {site.profile}, "
        f"{len(site.model.rooms)} room(s), {seats} seat(s)",
        f"[green]通过[/] {args.config}：站点 {site.name!r}，证书 {site.profile}，"
        f"{len(site.model.rooms)} 个考场，{seats} 个考位"))
    for warning in site.warnings:
        console.print(f"[yellow]{say(args.lang, 'warning', '警告')}:[/] "
                      f"{escape(warning.render(args.lang))}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from ..check_run import SelectionError, execute, load, plan_run, select
    from ..output.json_writer import write_json
    from ..output.junit_writer import write_junit
    from ..run_context import run_context
    from .console import Heading, LiveProgress, render_summary

    lang = args.lang
    try:
        site, profile = load(args.config)
    except ConfigError as err:
        return print_config_error(err, lang)
    try:
        selection = select(site, profile, args.room.split(",") if args.room else None,
                           args.only.split(",") if args.only is not None else None)
    except SelectionError as err:
        return usage_error(lang, err.text.en, err.text.zh)
    evidence_dir = None
    if not args.no_store:
        # snapshots and other evidence files of this run, beside the store; named in the
        # site's time, with its offset
        evidence_dir = Path(args.store).parent / f"evidence-{stamp(datetime.now(UTC), site.tz)}"
    plan = plan_run(site, profile, selection, evidence_dir,
                    None if args.no_store else Path(args.store), serial=args.serial)
    secrets = list(site.secrets.values())
    console = Console(highlight=False)
    for warning in plan.warnings:
        console.print(f"[yellow]{say(lang, 'warning', '警告')}:[/] {escape(warning.get(lang))}")
    with LiveProgress(console, len(plan.checks), lang) as live:
        record = execute(site, profile, plan, concurrency=args.concurrency,
                         on_start=live.on_start, on_done=live.on_done, serial=args.serial)
    heading = Heading(run_context(record, site))
    # what shares the screen with the summary: the saved run's lines, and the drill's own
    after = DRILL_OWN_LINES + SAVED_LINES_BRIEF if args.drill else SAVED_LINES + 2
    after += len(plan.warnings)
    render_summary(console, record, lang, secrets, show_passing=args.verbose, heading=heading,
                   after=after)
    written = []
    for path, writer in ((args.json, write_json), (args.junit, write_junit)):
        if not path:
            continue
        try:
            writer(record, Path(path), lang, secrets)
        except OSError as err:
            console.print(f"[bold red]{say(lang, 'cannot write', '无法写入')} {path}: "
                          f"{err.strerror}[/]")
            continue
        written.append(Path(path).resolve())
    if written and not args.drill:
        print_whole(console, "", *written)
    if not args.no_store:
        _record(console, record, secrets, args, evidence_dir)
    return EXIT_CODES[record.verdict]


def _record(console: Console, record: object, secrets: list, args: argparse.Namespace,
            evidence_dir: Path | None) -> None:
    """Every run goes to the results store; it is signed into the evidence log when the
    site has a key. A failure here is reported but never changes the verdict's exit code."""
    import sqlite3

    from ..evidence.errors import EvidenceError
    from ..evidence.recording import record_run

    lang = args.lang
    key = Path(args.dir) / "site.key"
    log_path = Path(args.log) if key.exists() else None
    try:
        done = record_run(record, secrets, trigger="drill" if args.drill else "manual",
                          log_path=log_path,  # type: ignore[arg-type]
                          key_dir=Path(args.dir), store_path=Path(args.store),
                          evidence_dir=evidence_dir)
    except (EvidenceError, OSError, sqlite3.Error, RuntimeError) as err:
        text = getattr(err, "text", None)
        console.print("[yellow]" + say(lang, "not recorded: ", "未记录：") + (
            text.get(lang) if text else str(err)) + "[/]")
        return
    # the drill names its folder once; a check names the store and the log
    files = [] if args.drill else [Path(args.store).resolve()]
    if done.head and not args.drill:
        files.append(Path(args.log).resolve())
    saved_lines(console, lang, done.run_id, done.head, Path(args.dir), files)


def saved_lines(console: Console, lang: str, run_id: int, head: str | None, key_dir: Path,
                files: list[Path]) -> None:
    """Where the run went: its number, its chain head and files, each whole on a line."""
    if head:
        print_whole(console, say(lang, f"Run {run_id} saved and signed; chain head:",
                                 f"已保存并签名为第 {run_id} 次检查；链头："), head, *files)
    else:
        print_whole(console, say(
            lang, f"Run {run_id} saved, not signed: there is no site key in {key_dir} "
                  "(readiness keys init)",
            f"已保存为第 {run_id} 次检查，未签名：{key_dir} 中没有站点密钥"
            "（readiness keys init）"), *files)


def cmd_profiles(args: argparse.Namespace) -> int:
    from ..config.profile import available_profiles, load_profile
    from .profiles import render_profile, render_profile_list

    console = Console(highlight=False)
    if args.action == "show":
        if not args.name:
            return usage_error(args.lang, "say which profile: readiness profiles show cbec",
                                "请指定证书：readiness profiles show cbec")
        if args.name not in available_profiles() and not Path(args.name).is_file():
            return usage_error(
                args.lang, f"no profile {args.name!r}; known: {', '.join(available_profiles())}",
                f"没有证书配置 {args.name!r}；可选：{', '.join(available_profiles())}")
        try:
            render_profile(console, load_profile(args.name), args.lang)
        except ConfigError as err:
            return print_config_error(err, args.lang)
        return 0
    render_profile_list(console, args.lang)
    return 0


def _lab_prereqs_ok(lang: str) -> bool:
    from .. import lab

    missing = lab.missing_prerequisites()
    if not missing:
        return True
    console = Console(stderr=True, highlight=False)
    console.print(say(lang, "[bold red]The simulated exam room cannot be built here:[/]",
                       "[bold red]无法在本机搭建模拟考场：[/]"))
    for what, fix in missing:
        console.print(f"  - {what}\n    {say(lang, 'fix', '解决')}: {fix}", markup=False)
    return False


def _render_lab_status(console: Console, st: object, lang: str) -> int:
    from rich.table import Table

    from ..lab import LabStatus

    assert isinstance(st, LabStatus)
    if not st.exists:
        console.print(say(lang, f"lab {st.prefix}: not built (readiness lab up)",
                           f"实验环境 {st.prefix}：未搭建（readiness lab up）"))
        return 1
    state = say(lang, "up", "运行中") if st.up else say(lang, "BROKEN", "异常")
    console.print(f"lab {st.prefix}: {state}, {len(st.namespaces)} "
                  f"{say(lang, 'namespaces', '个命名空间')}, {st.state_dir}")
    for name in st.missing_namespaces:
        console.print(say(lang, f"  missing namespace {name}", f"  缺少命名空间 {name}"))
    table = Table(say(lang, "service", "服务"), say(lang, "namespace", "命名空间"), "pid",
                  say(lang, "alive", "存活"), say(lang, "listens", "监听"))
    for svc in st.services:
        table.add_row(svc.name, svc.namespace, str(svc.pid),
                      "[green]yes[/]" if svc.alive else f"[red]no[/] ({svc.log})",
                      " ".join(svc.listens))
    console.print(table)
    if not st.up:
        console.print(say(lang, "Rebuild it with: readiness lab down && readiness lab up",
                           "重建：readiness lab down && readiness lab up"))
    return 0 if st.up else 1


def cmd_lab(args: argparse.Namespace) -> int:
    from .. import lab

    console = Console(highlight=False)
    if args.action == "down":
        removed = lab.down(args.prefix)
        console.print(say(args.lang, f"lab {args.prefix}: removed {len(removed)} item(s)",
                           f"实验环境 {args.prefix}：已删除 {len(removed)} 项"))
        return 0
    if args.action == "status":
        return _render_lab_status(console, lab.status(args.prefix), args.lang)
    if not _lab_prereqs_ok(args.lang):
        return EXIT_BAD_CONFIG
    try:
        spec = lab.load_spec(Path(args.spec) if args.spec else None)
        built = lab.up(spec, args.prefix)
    except ConfigError as err:
        return print_config_error(err, args.lang)
    except lab.LabError as err:
        return usage_error(args.lang, str(err), str(err))
    # the site file is this lab's copy of config/lab/site.yaml, naming its own secrets
    down_prefix = "" if built.prefix == LAB_PREFIX else f" --prefix {built.prefix}"
    console.print(say(
        args.lang,
        f"lab {built.prefix} is up. Check it from the proctor PC:\n"
        f"  ip netns exec {built.ns('proctor')} readiness check {built.site_file}\n"
        f"Remove it with: readiness lab down{down_prefix}",
        f"实验环境 {built.prefix} 已启动。从监考机检查：\n"
        f"  ip netns exec {built.ns('proctor')} readiness check {built.site_file}\n"
        f"删除：readiness lab down{down_prefix}"))
    return 0


# builds of the simulated room before the drill gives up (each torn down whole if it fails)
BUILD_ATTEMPTS = 2


def cmd_drill(args: argparse.Namespace) -> int:
    import subprocess

    from .. import lab
    from ..evidence.keys import init_keys

    lang = args.lang
    console = Console(highlight=False)
    if not _lab_prereqs_ok(lang):
        return EXIT_BAD_CONFIG
    try:
        spec = lab.load_spec(Path(args.spec) if args.spec else None)
    except ConfigError as err:
        return print_config_error(err, lang)
    # named in the lab site's time zone (config/lab/site.yaml: the default), with its offset
    out = Path(args.out).resolve() / f"drill-{stamp(datetime.now(UTC), DEFAULT_TZ)}"
    out.mkdir(parents=True, exist_ok=True)
    # the drill signs its run with a key of its own, so its report shows the whole chain
    init_keys(out / "keys")
    drill_opening(console, lang)
    checked = False
    try:
        for attempt in range(1, BUILD_ATTEMPTS + 1):
            try:
                with lab.running(spec, args.prefix) as room:
                    checked = True
                    drill_checking(console, lang)
                    argv = room.exec_argv("proctor", [
                        sys.executable, "-m", "readiness", "check", str(room.site_file),
                        "--json", str(out / "result.json"), "--junit", str(out / "result.xml"),
                        "--store", str(out / "readiness.sqlite"),
                        "--log", str(out / "evidence.jsonl"),
                        "--dir", str(out / "keys"), "--lang", lang, "--drill"])
                    code = subprocess.call(argv, timeout=args.timeout)
                    # the report reads the lab's site file (seat layout, secrets): before
                    # it goes
                    _drill_report(args, console, out, room.site_file)
                break
            except lab.LabError as err:
                if checked or attempt == BUILD_ATTEMPTS:
                    raise
                # a room of 40 agents, cameras and daemons built on a busy machine can
                # miss a start-up deadline once; it is torn down whole and built again
                drill_rebuilding(console, lang, str(err))
    except lab.LabError as err:
        return usage_error(lang, str(err), str(err))
    except subprocess.TimeoutExpired:
        return usage_error(lang, f"the drill's check did not finish within {args.timeout} s",
                            f"演练检查未在 {args.timeout} 秒内完成")
    drill_closing(console, lang, out, code)
    return code


def drill_opening(console: Console, lang: str) -> None:
    console.print(say(lang, "Building the simulated exam room (network namespaces)",
                       "正在搭建模拟考场（网络命名空间）"))


def drill_rebuilding(console: Console, lang: str, why: str) -> None:
    console.print(say(lang, f"The simulated room could not be built ({why}); building it "
                            "once more",
                      f"模拟考场未能搭建（{why}）；正在重新搭建"), markup=False)


def drill_checking(console: Console, lang: str) -> None:
    console.print(say(lang, "Checking it from the proctor PC:", "从监考机检查："))


def drill_closing(console: Console, lang: str, out: Path, code: int) -> None:
    print_whole(console, say(lang, "Report, result.json and evidence are in:",
                             "报告、result.json 与证据均在："), out)
    console.print(say(lang, f"The simulated room has been removed; exit code {code}.",
                       f"模拟考场已删除；退出码 {code}。"))


def _drill_report(args: argparse.Namespace, console: Console, out: Path, site_file: Path
                  ) -> None:
    """The drill's report, in its folder; its lines are said only when it went wrong
    (the folder is named once at the end)."""
    import io

    if not args.no_report and (out / "readiness.sqlite").exists():
        from .report import report

        quiet = Console(file=io.StringIO(), width=console.width, highlight=False)
        code = report(quiet, out / "readiness.sqlite", out, latest=True,
                      evidence_log=out / "evidence.jsonl", key_dir=out / "keys",
                      lang=args.lang, pdf=True, report_lang=args.lang, config=site_file)
        said = quiet.file.getvalue()  # type: ignore[attr-defined]
        if code != 0 or not list(out.glob("report-*.pdf")):
            console.print(said, markup=False, end="")


def cmd_keys(args: argparse.Namespace) -> int:
    from .evidence import keys_init

    return keys_init(Console(highlight=False), Path(args.dir), args.force, args.lang)


def _site_tz(args: argparse.Namespace) -> object:
    """The site's time zone for times people read: from --config's `timezone` (only that
    key is read: no secrets are needed to tell the time), else the site file's default.
    A string: what is wrong, for a usage error."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    import yaml

    if not getattr(args, "config", None):
        return DEFAULT_TZ
    try:
        data = yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) or {}
        return ZoneInfo(str(data.get("timezone") or "Asia/Shanghai"))
    except (OSError, yaml.YAMLError, AttributeError) as err:
        return f"--config {args.config}: cannot read its timezone ({type(err).__name__})"
    except (ZoneInfoNotFoundError, ValueError):
        return f"--config {args.config}: timezone is not a name such as Asia/Shanghai"


def cmd_verify(args: argparse.Namespace) -> int:
    from .evidence import verify_log

    tz = _site_tz(args)
    if isinstance(tz, str):
        return usage_error(args.lang, tz, tz)
    return verify_log(Console(highlight=False), Path(args.log),
                      Path(args.pub) if args.pub else None, args.head,
                      key_dir=Path(args.dir), lang=args.lang, store_path=Path(args.store),
                      fingerprint=args.fingerprint, tz=tz)  # type: ignore[arg-type]


def cmd_attest(args: argparse.Namespace) -> int:
    from .evidence import attest, parse_items

    site = profile = None
    if args.config:
        from ..config.load import load_site
        from ..config.profile import available_profiles

        try:
            loaded = load_site(args.config, set(available_profiles()))
        except ConfigError as err:
            return print_config_error(err, args.lang)
        site, profile = loaded.name, loaded.profile
    try:
        items = parse_items(args.item or [])
    except ValueError as err:
        return usage_error(args.lang, str(err), str(err))
    return attest(Console(highlight=False), Path(args.log), args.name or "", args.role or "",
                  items, args.note or "", key_dir=Path(args.dir), site=site, profile=profile,
                  lang=args.lang)


def cmd_history(args: argparse.Namespace) -> int:
    from .evidence import history, parse_since

    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as err:
        return usage_error(args.lang, f"--since: {err}", f"--since：{err}")
    tz = _site_tz(args)
    if isinstance(tz, str):
        return usage_error(args.lang, tz, tz)
    return history(Console(highlight=False), Path(args.store), since, lang=args.lang,
                   evidence_log=Path(args.log), key_dir=Path(args.dir),
                   tz=tz)  # type: ignore[arg-type]


def cmd_report(args: argparse.Namespace) -> int:
    from .report import report

    return report(Console(highlight=False), Path(args.store), Path(args.out),
                  run_id=args.run, latest=args.run is None, evidence_log=Path(args.log),
                  key_dir=Path(args.dir), lang=args.lang,
                  config=Path(args.config) if args.config else None,
                  evidence_dir=Path(args.evidence_dir) if args.evidence_dir else None,
                  pdf=not args.no_pdf, report_lang=args.report_lang)


def build_parser() -> argparse.ArgumentParser:
    lang_default = default_lang()
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand must not reset a --lang given before it
    common.add_argument("--lang", choices=("zh", "en"), default=argparse.SUPPRESS,
                        help=f"language of messages (default from the locale: {lang_default})")
    parser = argparse.ArgumentParser(
        prog="readiness",
        description="Prove an exam room is ready for a 1+X computer-based exam: LAN, "
                    "filtering, uplink, cameras, power, measured from the network itself.",
        epilog="Exit codes of check and drill: 0 ready, 1 not ready (a requirement fails), "
               "2 bad configuration or usage, 3 could not verify (errors, or a required "
               "rule not proven).",
        parents=[common])
    parser.add_argument("--version", action="version", version=f"readiness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", parents=[common],
                       help="check a site file and list every mistake with file:line")
    p.add_argument("config", help="the site YAML file")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("check", parents=[common], help="run the checks of a site now")
    p.add_argument("config", help="the site YAML file")
    p.add_argument("--room", help="only these rooms (comma-separated room ids)")
    p.add_argument("--only", help="only these requirements, e.g. LAN-SUBNET,LAN-SEATS")
    p.add_argument("--json", metavar="FILE", help="write results as JSON (docs/result-schema.json)")
    p.add_argument("--junit", metavar="FILE", help="write results as JUnit XML")
    p.add_argument("--concurrency", type=positive_int, default=64,
                   help="checks run at once (default %(default)s)")
    p.add_argument("--serial", action="store_true",
                   help="the old schedule, for comparison: one throughput test at a time and "
                        "each seat against the exam server (no seat pairs)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="each rule's figure and the passing checks too")
    # run by `readiness drill`: recorded as a drill (its report says so on every page),
    # and the drill names its folder once instead of each file in it
    p.add_argument("--drill", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--store", default=str(DEFAULT_STORE),
                   help="results store every run is saved in (default %(default)s)")
    p.add_argument("--no-store", action="store_true", help="do not save this run")
    p.add_argument("--log", default=str(DEFAULT_LOG),
                   help="evidence log the run is signed into when a site key exists "
                        "(default %(default)s)")
    p.add_argument("--dir", default=str(DEFAULT_KEYS), help="key folder (default %(default)s)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("profiles", parents=[common],
                       help="list certificate profiles, or show one's rules")
    p.add_argument("action", nargs="?", choices=("list", "show"), default="list")
    p.add_argument("name", nargs="?", help="profile id (eda, cbec) for show")
    p.set_defaults(func=cmd_profiles)

    from .agent import add_agent_parser
    from .example import add_example_parser
    from .relay import add_relay_parser
    from .schedule import add_schedule_parser
    from .serve import add_serve_parser
    from .throughput_server import add_throughput_server_parser

    add_agent_parser(sub, [common])
    add_schedule_parser(sub, [common])
    add_serve_parser(sub, [common])
    add_throughput_server_parser(sub, [common])
    add_relay_parser(sub, [common])
    add_example_parser(sub, [common])

    p = sub.add_parser("keys", parents=[common],
                       help="create the site's signing key (for the evidence log)")
    p.add_argument("action", choices=("init",))
    p.add_argument("--dir", default=str(DEFAULT_KEYS),
                   help="key folder (default %(default)s); site.key is readable by you only")
    p.add_argument("--force", action="store_true", help="replace an existing key")
    p.set_defaults(func=cmd_keys)

    from .evidence import VERIFY_EXIT_CODES

    p = sub.add_parser("verify", parents=[common],
                       help="prove an evidence log was not edited: OK + chain head, its "
                            "signed head, whether the key was anchored (--pub/--fingerprint) "
                            "and each run's signed verdict, time and counts; or the first bad "
                            "record and why", epilog=VERIFY_EXIT_CODES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("log", nargs="?", default=str(DEFAULT_LOG),
                   help="evidence log (default %(default)s)")
    p.add_argument("--pub", help="public key file the inspector holds (default: the key "
                                 "pinned in --dir/site.pin or in the store, which sits beside the "
                                 "log and proves nothing on its own: said so; a site.pub that "
                                 "differs from the pin is refused)")
    p.add_argument("--fingerprint", metavar="SHA256",
                   help="the site key's fingerprint as printed on the site's paperwork: the "
                        "key used must have it (anchors the check like --pub)")
    p.add_argument("--store", default=str(DEFAULT_STORE),
                   help="results store holding the recorded head (default %(default)s)")
    p.add_argument("--head", help="expected chain head (as printed on the report): also "
                                  "catches records cut off the end")
    p.add_argument("--dir", default=str(DEFAULT_KEYS), help="key folder (default %(default)s)")
    p.add_argument("--config", help=TZ_HELP)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("attest", parents=[common],
                       help="sign a named person's attestation of what no probe can see "
                            "(staff, seat spacing, signage...) into the evidence log")
    p.add_argument("--name", required=True, help="who attests")
    p.add_argument("--role", required=True, help="their role, e.g. 考务组长")
    p.add_argument("--item", action="append", metavar="KEY=VALUE",
                   help="one item, e.g. --item staff=6 --item seat_spacing=yes (repeat)")
    p.add_argument("--note", help="free text")
    p.add_argument("--config", help="the site file (names the site and certificate)")
    p.add_argument("--log", default=str(DEFAULT_LOG), help="evidence log (default %(default)s)")
    p.add_argument("--dir", default=str(DEFAULT_KEYS), help="key folder (default %(default)s)")
    p.set_defaults(func=cmd_attest)

    p = sub.add_parser("history", parents=[common],
                       help="past runs and the trend of key figures; each run checked "
                            "against the signed log (NOT SIGNED when it is not in it; exit 1 "
                            "when the store differs from it or the log is gone)")
    p.add_argument("--since", help="e.g. 7d, 12h or 2026-12-01")
    p.add_argument("--log", default=str(DEFAULT_LOG), help="evidence log (default %(default)s)")
    p.add_argument("--dir", default=str(DEFAULT_KEYS), help="key folder (default %(default)s)")
    p.add_argument("--store", default=str(DEFAULT_STORE),
                   help="results store (default %(default)s)")
    p.add_argument("--config", help=TZ_HELP)
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("report", parents=[common],
                       help="write the proof-of-readiness report (HTML and PDF) of a run; "
                            "exit 1 (no report) when the store differs from the signed log or "
                            "the log is gone; a run not in the log says NOT SIGNED on page 1")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--run", type=int, metavar="ID", help="a run id from `readiness history`")
    which.add_argument("--latest", action="store_true", help="the latest run (the default)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the report files")
    p.add_argument("--store", default=str(DEFAULT_STORE),
                   help="results store (default %(default)s)")
    p.add_argument("--log", default=str(DEFAULT_LOG), help="evidence log (default %(default)s)")
    p.add_argument("--dir", default=str(DEFAULT_KEYS), help="key folder (default %(default)s)")
    p.add_argument("--config", metavar="SITE",
                   help="the site file: draws every seat on the seat map")
    p.add_argument("--evidence-dir", metavar="DIR",
                   help="where the run's snapshots are (default: beside the store)")
    p.add_argument("--no-pdf", action="store_true", help="write the HTML page only")
    p.add_argument("--report-lang", choices=("zh", "en"), default="zh",
                   help="the report's first language (both are always shown; default zh)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("lab", parents=[common],
                       help="build, inspect or remove the simulated exam room (root)")
    p.add_argument("action", choices=("up", "down", "status"))
    p.add_argument("spec", nargs="?", help=LAB_SPEC_HELP)
    p.add_argument("--prefix", default=LAB_PREFIX, help="namespace prefix (default %(default)s)")
    p.set_defaults(func=cmd_lab)

    p = sub.add_parser("drill", parents=[common],
                       help="build the simulated exam room, check it, remove it (root)")
    p.add_argument("spec", nargs="?", help=LAB_SPEC_HELP)
    p.add_argument("--prefix", default=LAB_PREFIX,
                   help="namespace prefix (default %(default)s); another prefix lets a "
                        "drill run beside a lab that is already up")
    p.add_argument("--out", default="runs", help="folder for results (default %(default)s)")
    p.add_argument("--timeout", type=int, default=900,
                   help="give up on the check after this many seconds (default %(default)s)")
    p.add_argument("--no-report", action="store_true",
                   help="skip the HTML/PDF proof-of-readiness report")
    p.set_defaults(func=cmd_drill)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if not hasattr(args, "lang"):
        args.lang = default_lang()
    try:
        with terminate_as_interrupt():  # SIGTERM unwinds like Ctrl-C: children are stopped
            return args.func(args)
    except KeyboardInterrupt as stop:
        return getattr(stop, "exit_code", 130)
    except Exception as exc:  # a bug must still end with a sentence, not a traceback
        logging.getLogger("readiness").debug("unexpected error", exc_info=True)
        Console(stderr=True, highlight=False).print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {exc}\n"
            "Please report it with the command you ran (add READINESS_DEBUG=1 for details).",
            markup=True)
        if os.environ.get("READINESS_DEBUG"):
            raise
        return EXIT_BAD_CONFIG


if __name__ == "__main__":
    sys.exit(main())
