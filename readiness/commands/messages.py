"""What every command prints the same way: configuration mistakes, usage errors,
errors with their fix. Words for verdicts and statuses are in readiness/words.py."""

from __future__ import annotations

import os

from rich.console import Console
from rich.markup import escape

from ..config.errors import ConfigError
from ..results import EXIT_BAD_CONFIG, Text
from ..words import say

__all__ = ["default_lang", "error", "print_config_error", "print_whole", "say", "usage_error"]


def default_lang() -> str:
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def print_config_error(err: ConfigError, lang: str) -> int:
    console = Console(stderr=True, highlight=False)
    count = len(err.issues)
    console.print(say(lang, f"[bold red]The configuration has {count} mistake(s):[/]",
                      f"[bold red]配置有 {count} 处错误：[/]"))
    for issue in err.issues:
        console.print(f"  {issue.render(lang)}", markup=False)
    console.print(say(lang, "Fix them and run the command again. "
                            "An annotated example: readiness example site",
                      "请修改后重新运行。带注释的示例：readiness example site"))
    return EXIT_BAD_CONFIG


def usage_error(lang: str, en: str, zh: str) -> int:
    Console(stderr=True, highlight=False).print(
        f"[bold red]{say(lang, 'error', '错误')}:[/] {escape(say(lang, en, zh))}")
    return EXIT_BAD_CONFIG


def error(console: Console, lang: str, text: Text, code: int = EXIT_BAD_CONFIG) -> int:
    console.print(f"[bold red]{say(lang, 'error', '错误')}:[/] {escape(text.get(lang))}")
    return code


def print_whole(console: Console, heading: str, *values: object) -> None:
    """A heading, then each value (a path, a chain head, a key fingerprint) whole on a
    line of its own: never wrapped inside, so it can be copied from the terminal."""
    if heading:
        console.print(heading, soft_wrap=True, markup=False)
    for value in values:
        console.print(f"  {value}", soft_wrap=True, markup=False, highlight=False)
