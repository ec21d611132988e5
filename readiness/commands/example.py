"""`readiness example`: the example files readiness ships, out of any installation.

In a checkout they are the files of config/; an installed package has no config/ to
copy from, so this command hands them out: printed for a pipe, or written to a new
file (the secrets template readable by its owner only, as readiness requires).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from .. import packaged
from ..results import Text
from .messages import say, usage_error

DESCRIPTIONS = {
    "site": Text("the annotated example site file", "带注释的示例站点文件"),
    "secrets": Text("the secrets template of the site file", "站点文件的密钥模板"),
    "agent.service": Text("systemd unit of the seat agent (readiness agent)",
                          "考位代理的 systemd 服务文件（readiness agent）"),
    "schedule.service": Text("systemd unit of the countdown checks (readiness schedule)",
                             "倒计时定时检查的 systemd 服务文件（readiness schedule）"),
    "serve.service": Text("systemd unit of the live page and metrics (readiness serve)",
                          "实时页面与指标的 systemd 服务文件（readiness serve）"),
    "lab-room": Text("the simulated exam room of readiness drill (a lab spec)",
                     "readiness drill 的模拟考场（实验环境描述）"),
}
# Only the secrets template must never be readable by others once filled in.
PRIVATE = {"secrets"}

EPILOG = """examples:
  readiness example site --out my-site.yaml
  readiness example secrets --out site.secrets.yaml
  readiness example agent.service --out /etc/systemd/system/readiness-agent.service
  readiness example lab-room > my-room.yaml     # then: readiness drill my-room.yaml
"""


def add_example_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "example", parents=parents,
        help="print or write a shipped example file (site, secrets, systemd units, lab room)",
        description="Print a file readiness ships (a checkout has them in config/), or "
                    "write it to a new file with --out. Without NAME: list them.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", choices=list(packaged.EXAMPLES), metavar="NAME",
                   help="one of: " + ", ".join(packaged.EXAMPLES))
    p.add_argument("--out", metavar="FILE",
                   help="write FILE instead of printing (never overwrites a file)")
    p.set_defaults(func=cmd_example)


def cmd_example(args: argparse.Namespace) -> int:
    lang = args.lang
    if args.name is None:
        return _list(Console(highlight=False), lang)
    source = packaged.example_file(args.name)
    try:
        content = source.read_bytes()
    except OSError as err:
        return usage_error(
            lang, f"{source}: the shipped file cannot be read ({err.strerror}); "
                  "reinstall readiness",
            f"{source}：无法读取随程序安装的文件（{err.strerror}），请重新安装 readiness")
    if args.name == "secrets":
        content = _fresh_tokens(content)
    if args.out is None:
        sys.stdout.buffer.write(content)  # byte for byte: a pipe gets the file itself
        sys.stdout.flush()
        return 0
    return _write(Path(args.out), content, args.name, lang)


# the tokens readiness itself asks for: made here, fresh each time (256 bits), so the
# template never carries a value validate refuses; a device's password stays a
# placeholder to replace with the device's own
_TOKENS = ("agent_token:", "run_now_token:")


def _fresh_tokens(content: bytes) -> bytes:
    lines = content.decode("utf-8").splitlines(keepends=True)
    return "".join(f"{line.split(':')[0]}: {secrets.token_urlsafe(32)}\n"
                   if line.startswith(_TOKENS) else line for line in lines).encode("utf-8")


def _list(console: Console, lang: str) -> int:
    for name, text in DESCRIPTIONS.items():
        private = say(lang, " (--out writes it mode 600)", "（--out 写出的文件仅本人可读）")
        console.print(f"{name:<17} {escape(text.get(lang))}{private if name in PRIVATE else ''}")
        # soft_wrap: a path copied from the terminal must not be cut in two
        console.print(f"{'':<17} {escape(packaged.shown(packaged.example_file(name)))}",
                      style="dim", soft_wrap=True)
    console.print(say(lang, "Print one: readiness example NAME; write it: --out FILE",
                      "输出：readiness example NAME；写入文件：--out FILE"))
    return 0


def _write(out: Path, content: bytes, name: str, lang: str) -> int:
    mode = 0o600 if name in PRIVATE else 0o644
    try:
        # O_EXCL: a filled-in site or secrets file is never replaced by the template
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return usage_error(lang, f"{out} already exists: not overwritten. Remove it or give "
                                 "another --out",
                           f"{out} 已存在，未覆盖。请删除它或换一个 --out")
    except OSError as err:
        return usage_error(lang, f"{out}: cannot create it ({err.strerror})",
                           f"{out}：无法创建（{err.strerror}）")
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    private = say(lang, " (readable by you only)", "（仅本人可读）") if name in PRIVATE else ""
    Console(highlight=False).print(escape(say(
        lang, f"wrote {out}{private}: {DESCRIPTIONS[name].en}",
        f"已写入 {out}{private}：{DESCRIPTIONS[name].zh}")))
    return 0
