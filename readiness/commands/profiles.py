"""Show certificate profiles on a terminal (`readiness profiles`).

Staff read these to see which rule a check proves and where the number comes from,
so every cell is built as rich `Text` (never markup): seed quotes may contain
brackets that rich would otherwise take for style tags.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text as RichText

from ..config.errors import ConfigError
from ..config.profile import (
    Profile,
    Requirement,
    available_profiles,
    load_profile,
    profiles_dir,
)
from ..results import Citation

_LABELS: dict[str, dict[str, str]] = {
    "profiles": {"en": "Certificate profiles", "zh": "证书规则配置"},
    "id": {"en": "ID", "zh": "编号"},
    "certificate": {"en": "Certificate", "zh": "证书"},
    "seed": {"en": "Seed", "zh": "依据文件"},
    "requirements": {"en": "Requirements", "zh": "要求"},
    "count": {"en": "{n} ({applies} apply, {required} required)",
              "zh": "{n} 项（适用 {applies}，必须证明 {required}）"},
    "attestations": {"en": "Attestations", "zh": "人工确认项"},
    "title": {"en": "Title", "zh": "名称"},
    "status": {"en": "Applies", "zh": "适用"},
    "thresholds": {"en": "Thresholds", "zh": "阈值"},
    "rule": {"en": "Rule", "zh": "判定规则"},
    "citation": {"en": "Citation", "zh": "出处"},
    "required": {"en": "yes, required", "zh": "适用，必须证明"},
    "optional": {"en": "yes, optional", "zh": "适用，可不证明"},
    "not_applies": {"en": "no (skip)", "zh": "不适用（跳过）"},
    "pass": {"en": "pass", "zh": "通过"},
    "warn": {"en": "warn", "zh": "警告"},
    "fail": {"en": "fail", "zh": "不通过"},
    "error": {"en": "cannot load", "zh": "无法加载"},
    "none": {"en": "no profiles in {dir}", "zh": "{dir} 中没有配置"},
}

_RULE_STYLES = {"pass": "green", "warn": "yellow", "fail": "red"}


def _label(key: str, lang: str, **values: Any) -> str:
    text = _LABELS[key]["zh" if lang == "zh" else "en"]
    return text.format(**values) if values else text


def render_profile_list(console: Console, lang: str = "en") -> None:
    """One row per profile file; a broken profile shows its error instead of hiding."""
    names = available_profiles()
    if not names:
        console.print(_label("none", lang, dir=profiles_dir()))
        return
    table = Table(title=_label("profiles", lang), show_lines=False)
    for key in ("id", "certificate", "seed", "requirements"):
        table.add_column(_label(key, lang), overflow="fold")
    for name in names:
        try:
            profile = load_profile(name)
        except ConfigError as exc:
            table.add_row(name, RichText(f"{_label('error', lang)}: {exc}", style="red"), "", "")
            continue
        applies = sum(r.applies for r in profile.requirements)
        required = len(profile.required_ids)
        table.add_row(
            profile.id,
            profile.certificate.get(lang),
            profile.seed,
            _label("count", lang, n=len(profile.requirements), applies=applies,
                   required=required),
        )
    console.print(table)


# Below this width six columns squeeze every cell to a few characters; one small
# two-column table per requirement reads better on an 80-column terminal.
WIDE_LAYOUT_MIN_WIDTH = 160


def render_profile(console: Console, profile: Profile, lang: str = "en") -> None:
    """Requirements with thresholds, rules and the seed's own words; then attestations."""
    console.print(RichText.assemble(
        (profile.id, "bold"), "  ", profile.certificate.get(lang), "  ",
        (f"{_label('seed', lang)}: {profile.seed}", "dim"),
    ))
    rows = [_requirement_cells(req, lang) for req in profile.requirements]
    if console.width >= WIDE_LAYOUT_MIN_WIDTH:
        table = Table(title=_label("requirements", lang), show_lines=True, expand=True)
        table.add_column(_label("id", lang), no_wrap=True, style="bold")
        table.add_column(_label("title", lang), overflow="fold", ratio=2)
        table.add_column(_label("status", lang), overflow="fold", ratio=1, min_width=8)
        table.add_column(_label("thresholds", lang), overflow="fold", ratio=3)
        table.add_column(_label("rule", lang), overflow="fold", ratio=5)
        table.add_column(_label("citation", lang), overflow="fold", ratio=4)
        for cells in rows:
            table.add_row(*cells)
        console.print(table)
    else:
        console.print(RichText(_label("requirements", lang), style="bold"))
        for req_id, title, status, thresholds, rule, cites in rows:
            block = Table(title=RichText.assemble((req_id, "bold"), "  ", title),
                          title_justify="left", show_header=False, show_lines=True,
                          expand=True)
            block.add_column(no_wrap=True, style="dim")
            block.add_column(overflow="fold", ratio=1)
            block.add_row(_label("status", lang), status)
            block.add_row(_label("thresholds", lang), thresholds)
            block.add_row(_label("rule", lang), rule)
            block.add_row(_label("citation", lang), cites)
            console.print(block)

    if profile.attestations:
        att_table = Table(title=_label("attestations", lang), show_lines=True, expand=True)
        att_table.add_column(_label("id", lang), no_wrap=True, style="bold")
        att_table.add_column(_label("title", lang), overflow="fold", ratio=2)
        att_table.add_column(_label("rule", lang), overflow="fold", ratio=5)
        att_table.add_column(_label("citation", lang), overflow="fold", ratio=4)
        for att in profile.attestations:
            cites = RichText()
            _append_citation(cites, att.citation)
            att_table.add_row(att.id, att.title.get(lang), att.rule.get(lang), cites)
        console.print(att_table)


def _requirement_cells(
    req: Requirement, lang: str
) -> tuple[str, str, RichText, RichText, RichText, RichText]:
    if not req.applies:
        status = RichText(_label("not_applies", lang), style="dim")
    elif req.required:
        status = RichText(_label("required", lang))
    else:
        status = RichText(_label("optional", lang), style="cyan")
    rule = RichText()
    for key in ("pass", "warn", "fail"):
        if key in req.rule:
            if rule:
                rule.append("\n")
            colon = "：" if lang == "zh" else ": "
            rule.append(f"{_label(key, lang)}{colon}", style=_RULE_STYLES[key])
            rule.append(req.rule[key].get(lang))
    if req.note is not None:
        if rule:
            rule.append("\n")
        rule.append(req.note.get(lang), style="italic")
    cites = RichText()
    for cite in ((req.citation,) if req.citation else ()) + req.see_also:
        _append_citation(cites, cite)
    return req.id, req.title.get(lang), status, RichText(format_thresholds(req.thresholds)), \
        rule, cites


def _append_citation(out: RichText, cite: Citation) -> None:
    if out:
        out.append("\n")
    out.append(cite.article, style="bold")
    out.append(f" “{cite.original}”")


def format_thresholds(thresholds: dict[str, Any]) -> str:
    """`key=value`, one per line; nested mappings flatten to `parent.key=value`."""
    lines: list[str] = []
    for key, value in thresholds.items():
        if isinstance(value, dict):
            nested = {k: v for k, v in value.items() if v is not None}
            if not nested:
                continue
            lines.extend(f"{key}.{line}" for line in format_thresholds(nested).splitlines())
        else:
            lines.append(f"{key}={_value(value)}")
    return "\n".join(lines)


def _value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        # ", " lets a long list wrap between items instead of inside a word.
        return ", ".join(str(v) for v in value) if value else "[]"
    return str(value)
