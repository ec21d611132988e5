"""`readiness agent`: the command line of the seat agent (part of the CLI layer)."""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import Any

from readiness.argtypes import port_number

from .messages import say, usage_error

SERVICE_HELP = r"""The short way: `readiness agent install --config SITE --bind ADDR --proctor ADDR`
(a start-up task or a systemd unit, and the port open to the proctor PC only; see
`readiness agent install --help`); `readiness agent uninstall` removes it. By hand:

Run it on every candidate PC and on the exam server, bound to that
machine's exam-LAN address. Every request must be signed with the site token
(agent.token in the site file: a random value of 128 bits or more), so the site file
and its secrets file must be on the machine (secrets file owned by the user the agent
runs as, readable by it only). A signed request is served once: a replay is refused,
also after the agent restarts (it refuses requests signed before it started).

As a systemd service (Linux):
  readiness example agent.service --out /etc/systemd/system/readiness-agent.service
  # edit ExecStart: the site file and this PC's address after --bind
  systemctl daemon-reload && systemctl enable --now readiness-agent
  journalctl -u readiness-agent        # one line per request (repeats summarised)

As a scheduled task at start-up (Windows, in an administrator PowerShell):
  $a = New-ScheduledTaskAction -Execute C:\readiness\venv\Scripts\readiness.exe -Argument `
    "agent --config C:\readiness\site.yaml --bind 192.168.10.107 --log-file C:\readiness\agent.log"
  # no 3-day time limit (the default), restart if it stops
  $s = New-ScheduledTaskSettingsSet -ExecutionTimeLimit ([TimeSpan]::Zero) `
    -RestartCount 999 -RestartInterval (New-TimeSpan -Minutes 1) -AllowStartIfOnBatteries
  Register-ScheduledTask -TaskName "readiness agent" -Action $a -Settings $s `
    -Trigger (New-ScheduledTaskTrigger -AtStartup) -User SYSTEM -RunLevel Highest
  New-NetFirewallRule -DisplayName "readiness agent" -Direction Inbound -Protocol TCP `
    -LocalPort 8765 -RemoteAddress 192.168.10.2 -Action Allow
  Start-ScheduledTask -TaskName "readiness agent"

Open the port to the proctor PC (the coordinator) only; the agent refuses unsigned
requests anyway, but a closed port is quieter.
"""


def add_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--config", required=required, metavar="SITE",
                        help="the site YAML file (its agent.token signs every request)")
    parser.add_argument("--bind", required=required, metavar="ADDR",
                        help="this machine's exam-LAN address to listen on, e.g. "
                             "192.168.10.107")
    parser.add_argument("--port", type=port_number, default=None,
                        help="TCP port (default: agent.port of the site file, 8765)")
    parser.add_argument("--listen-all", action="store_true",
                        help="allow --bind 0.0.0.0 (every network of this machine)")
    parser.add_argument("--log-file", metavar="FILE",
                        help="append the request log here instead of stderr (Windows tasks "
                             "have no console); rotated at 5 MB, 3 old files kept")


def add_agent_parser(subparsers: Any, parents: list[argparse.ArgumentParser],
                     ) -> argparse.ArgumentParser:
    """Add `readiness agent` to the main command's subparsers."""
    parser = subparsers.add_parser(
        "agent", parents=parents, help="run the seat agent on a candidate PC or exam server",
        description="Serve signed checks that only this machine can answer: its NIC speed, "
                    "static or DHCP address, inventory, and probes run from its seat.",
        epilog=SERVICE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    # required by hand in cmd_agent: `agent install` / `agent uninstall` have their own
    add_arguments(parser, required=False)
    parser.set_defaults(func=cmd_agent)
    actions = parser.add_subparsers(dest="agent_action", metavar="{install,uninstall}")
    install = actions.add_parser(
        "install", parents=parents, help="start the agent at boot, its port open to the "
        "proctor PC only", description=INSTALL_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    install.add_argument("--config", required=True, metavar="SITE",
                         help="the site YAML file the agent will read")
    install.add_argument("--bind", required=True, metavar="ADDR",
                         help="this machine's exam-LAN address the agent will listen on")
    install.add_argument("--port", type=port_number, default=None,
                         help="TCP port (default: agent.port of the site file, 8765)")
    install.add_argument("--proctor", required=True, metavar="ADDR",
                         help="the proctor PC's address: the only one the port opens to")
    _plan_options(install)
    install.set_defaults(func=cmd_install)
    uninstall = actions.add_parser(
        "uninstall", parents=parents, help="remove what `agent install` added",
        description=INSTALL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    _plan_options(uninstall)
    uninstall.set_defaults(func=cmd_uninstall)
    return parser


INSTALL_HELP = r"""`readiness agent install --config SITE --bind ADDR --proctor ADDR`

Linux: writes /etc/systemd/system/readiness-agent.service and
/etc/readiness/agent-firewall.nft (an nftables table of its own: the agent's port accepted
from the proctor's address, dropped from any other; loaded when the service starts,
deleted when it stops), then `systemctl daemon-reload` and `systemctl enable --now`.
Windows (an administrator prompt): `schtasks /Create /SC ONSTART /RU SYSTEM` for the
agent and `netsh advfirewall firewall add rule ... remoteip=PROCTOR` for its port.
`readiness agent uninstall` removes all of it. --dry-run shows each step without doing
it; --root DIR writes the files under DIR and runs no command (a throwaway tree).
"""


def _plan_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--system", choices=("linux", "windows"), default=None,
                        help="the plan of this system (default: this machine's)")
    parser.add_argument("--root", default="/", metavar="DIR",
                        help="write the files under DIR instead of / and run no command")
    parser.add_argument("--dry-run", action="store_true", help="show the steps, do nothing")


# A seat PC runs the agent for months unattended: the log file must not grow without end.
LOG_FILE_MAX_BYTES = 5 * 1024 * 1024
LOG_FILE_BACKUPS = 3


def _logging(log_file: str | None) -> None:
    logger = logging.getLogger("readiness.agent")
    logger.setLevel(logging.INFO)
    handler: logging.Handler = (
        logging.handlers.RotatingFileHandler(log_file, maxBytes=LOG_FILE_MAX_BYTES,
                                             backupCount=LOG_FILE_BACKUPS, encoding="utf-8")
        if log_file else logging.StreamHandler(sys.stderr))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    # our own handler: the root's (WARNING) must not print every request a second time
    logger.propagate = False


def cmd_agent(args: argparse.Namespace) -> int:
    from readiness.commands.messages import print_config_error
    from readiness.config.errors import ConfigError
    from readiness.config.load import load_site

    from ..agent.allow import AllowList
    from ..agent.server import BindRefused, check_bind, serve

    lang = getattr(args, "lang", "en")
    if not args.config or not args.bind:
        return usage_error(lang, "readiness agent needs --config SITE and --bind ADDR (or: "
                           "readiness agent install / uninstall)",
                           "readiness agent 需要 --config SITE 和 --bind ADDR（或："
                           "readiness agent install / uninstall）")
    try:
        check_bind(args.bind, args.listen_all)
    except BindRefused as exc:
        return usage_error(lang, str(exc), f"监听地址不可用：{exc}")
    try:
        site = load_site(args.config)
    except ConfigError as err:
        return print_config_error(err, lang)
    token = site.secret("agent.token")
    if token is None:
        return usage_error(lang, f"{args.config} has no agent.token: every agent request is signed "
                           "with it; add  agent: {token: secret:agent_token}  and the key to "
                           "the secrets file",
                     f"{args.config} 中没有 agent.token：代理的每个请求都用它签名；请添加 "
                     " agent: {token: secret:agent_token}  并在密钥文件中写入该键")
    port = args.port or site.model.agent.port
    try:
        _logging(args.log_file)
    except OSError as exc:
        return usage_error(lang, f"cannot write the log file {args.log_file}: {exc.strerror}",
                     f"无法写入日志文件 {args.log_file}：{exc.strerror}")
    try:
        serve(args.bind, port, token, AllowList.from_site_model(site.model),
              listen_all=args.listen_all)
    except BindRefused as exc:
        return usage_error(lang, str(exc), f"监听失败：{exc}")
    return 0


def _system(args: argparse.Namespace) -> str:
    return args.system or ("windows" if sys.platform == "win32" else "linux")


def _carry_out(args: argparse.Namespace, plan: object) -> int:
    from rich.console import Console
    from rich.markup import escape

    from ..agent.install import InstallError, apply

    lang = getattr(args, "lang", "en")
    console = Console(highlight=False)
    if args.dry_run:
        for line in plan.lines():  # type: ignore[attr-defined]
            console.print(escape(line), soft_wrap=True)  # paths stay whole to copy
        return 0
    real = args.root == "/" and _system(args) == ("windows" if sys.platform == "win32"
                                                  else "linux")
    if real and sys.platform != "win32" and os.geteuid() != 0:
        return usage_error(lang, "installing the agent writes to /etc and runs systemctl: run "
                           "it as root (or try it with --root DIR or --dry-run)",
                           "安装代理需写入 /etc 并运行 systemctl：请以 root 运行"
                           "（或先用 --root DIR 或 --dry-run 试运行）")
    try:
        for line in apply(plan, Path(args.root), run_commands=real):  # type: ignore[arg-type]
            console.print(escape(line), soft_wrap=True)
    except InstallError as exc:
        return usage_error(lang, exc.en, exc.zh)
    except OSError as exc:
        return usage_error(lang, f"cannot write under {args.root}: {exc.strerror}",
                           f"无法写入 {args.root}：{exc.strerror}")
    if not real:
        console.print(escape(say(lang, f"files written under {args.root}; no command run",
                                 f"文件已写入 {args.root}；未运行任何命令")), soft_wrap=True)
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    from readiness.commands.messages import print_config_error
    from readiness.config.errors import ConfigError
    from readiness.config.load import load_site

    from ..agent import install

    lang = getattr(args, "lang", "en")
    try:
        site = load_site(args.config)  # refused now, not at the next boot
    except ConfigError as err:
        return print_config_error(err, lang)
    port = args.port or site.model.agent.port
    config = str(Path(args.config).resolve())
    try:
        if _system(args) == "windows":
            log_file = str(Path(config).with_name("agent.log"))
            plan = install.windows_install(sys.executable, config, args.bind, port,
                                           args.proctor, log_file)
        else:
            plan = install.linux_install(sys.executable, config, args.bind, port,
                                         args.proctor)
    except install.InstallError as exc:
        return usage_error(lang, exc.en, exc.zh)
    return _carry_out(args, plan)


def cmd_uninstall(args: argparse.Namespace) -> int:
    from ..agent import install

    plan = (install.windows_uninstall() if _system(args) == "windows"
            else install.linux_uninstall())
    return _carry_out(args, plan)


def main(argv: list[str] | None = None) -> int:
    from readiness.commands.messages import default_lang

    parser = argparse.ArgumentParser(
        prog="python -m readiness.agent",
        description="The readiness seat agent (the same as `readiness agent`).",
        epilog=SERVICE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", choices=("zh", "en"), default=default_lang())
    add_arguments(parser)
    return cmd_agent(parser.parse_args(argv))
