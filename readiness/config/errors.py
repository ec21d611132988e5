"""Configuration mistakes, each pinned to a file, a line and a field path."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigIssue:
    file: str
    line: int | None
    path: str
    message: str
    # the same message in Chinese, where the code that found the mistake has one
    message_zh: str = ""

    def render(self, lang: str = "en") -> str:
        message = self.message_zh if lang == "zh" and self.message_zh else self.message
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where} {self.path}: {message}" if self.path else f"{where}: {message}"

    def __str__(self) -> str:
        return self.render("en")


class ConfigError(Exception):
    """Raised with every mistake found, so a user fixes them all in one pass."""

    def __init__(self, issues: list[ConfigIssue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))
