"""SEAT-SPEC: what each candidate PC is."""

from __future__ import annotations

from ..results import CheckResult, Text
from . import Rule
from ._words import fmt, num


def _seat_spec(r: CheckResult) -> Text | None:
    m = r.measured
    parts: list[tuple[str, str]] = []
    disk, ram, cores = num(m.get("disk_gb")), num(m.get("ram_gib")), m.get("cpu_cores")
    if disk is not None:
        parts.append((f"disk {fmt(disk)} GB", f"硬盘 {fmt(disk)} GB"))
    if ram is not None:
        parts.append((f"RAM {fmt(ram)} GiB", f"内存 {fmt(ram)} GiB"))
    if isinstance(cores, int):
        parts.append((f"{cores} cores", f"{cores} 核"))
    items = m.get("items")
    if isinstance(items, list) and items:
        bad = sum(1 for i in items if isinstance(i, dict) and i.get("verdict") != "pass")
        parts.append((f"{len(items) - bad}/{len(items)} items meet the rule",
                      f"{len(items) - bad}/{len(items)} 项符合"))
    if not parts:
        return None
    return Text(" · ".join(p[0] for p in parts), " · ".join(p[1] for p in parts))


RULES = (Rule("SEAT-SPEC", _seat_spec),)
