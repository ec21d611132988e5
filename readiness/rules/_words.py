"""Small helpers the rules' figures share: numbers as people read them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..results import CheckResult, Text


def num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 100 or value == int(value) else f"{value:.1f}"


def both(en: str, zh: str | None = None) -> Text:
    return Text(en, en if zh is None else zh)


def as_list(value: Any) -> list[Any] | None:
    # long lists are cut from recorded fixtures ("(stripped ...)"): not a count
    return value if isinstance(value, list) else None


def count(key: str, total: str, en: str, zh: str) -> Callable[[CheckResult], Text | None]:
    def figure(r: CheckResult) -> Text | None:
        got, of = r.measured.get(key), r.measured.get(total)
        if not isinstance(got, int) or not isinstance(of, int):
            return None
        return Text(f"{got} of {of} {en}", f"{got}/{of} 个{zh}")
    return figure


def first(results: list[CheckResult], *keys: str) -> CheckResult | None:
    return next((r for r in results if all(num(r.measured.get(k)) is not None
                                            for k in keys)), None)


def needs(key: str, total: str, need: str, en: str, zh: str) -> Callable[
        [list[CheckResult]], Text | None]:
    def figure(results: list[CheckResult]) -> Text | None:
        r = first(results, key, total)
        if r is None:
            return None
        got, of, min_ = r.measured[key], r.measured[total], r.threshold.get(need)
        return Text(f"{got} of {of} {en} (needs {min_})", f"{got}/{of} 个{zh}（要求 {min_}）")
    return figure
