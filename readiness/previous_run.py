"""What a check run takes from the site's previous stored run, read defensively.

Two checks compare with the previous run: a host answering with another MAC than last
time (a swapped PC) and a device whose uptime went back (a reboot in between). The
store is a plain SQLite file anyone can edit, so the previous run may hold anything: one
edited cell must cost the comparison, never the check. Every value used is checked for
its shape first; a run that does not have the shape readiness writes is skipped as a
whole, with a warning naming it and what was wrong.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .results import CheckResult, RunRecord, Text

MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$", re.IGNORECASE)


@dataclass
class PreviousFacts:
    macs: dict[str, str] = field(default_factory=dict)  # address -> the one MAC seen
    # check id -> (uptime_s, checked_at) of a device the previous run asked by SNMP
    uptimes: dict[str, tuple[float, str | None]] = field(default_factory=dict)


class MalformedRun(ValueError):
    """A stored run whose measurements readiness did not write: `what` says where."""

    def __init__(self, result: CheckResult, field: str, en: str, zh: str):
        where = f"result {result.check_id}: measured{field}"
        super().__init__(f"{where} {en}")
        self.what = Text(f"{where} {en}", f"结果 {result.check_id} 的 measured{field} {zh}")


_KINDS: dict[type, tuple[str, str]] = {
    dict: ("a mapping", "映射"), list: ("a list", "列表"), str: ("text", "文本"),
    bool: ("true/false", "布尔值"), type(None): ("null", "空值"), int: ("a number", "数字"),
    float: ("a number", "数字")}


def _wrong(result: CheckResult, field: str, value: Any, wanted: tuple[str, str]) -> MalformedRun:
    en, zh = _KINDS.get(type(value), (type(value).__name__, type(value).__name__))
    return MalformedRun(result, field, f"is {en}, not {wanted[0]}",
                        f"是{zh}，而不是{wanted[1]}")


def _check_sweep(result: CheckResult) -> None:
    """The fields of an ARP sweep's measurements that observed_macs() reads."""
    m = result.measured
    hosts = m.get("hosts", {})
    if not isinstance(hosts, dict):
        raise _wrong(result, ".hosts", hosts, ("a mapping of addresses to MACs",
                                               "地址到 MAC 的映射"))
    for address, macs in hosts.items():
        if not isinstance(macs, list) or not all(isinstance(x, str) and MAC.match(x)
                                                 for x in macs):
            raise MalformedRun(result, f".hosts[{str(address)[:40]!r}]",
                               "is not a list of MAC addresses", "不是 MAC 地址列表")
    local_address, local_mac = m.get("local_address"), m.get("local_mac")
    if (local_address or local_mac) and not (
            isinstance(local_address, str) and isinstance(local_mac, str)
            and MAC.match(local_mac)):
        raise MalformedRun(result, ".local_address/local_mac", "are not an address and a MAC",
                           "不是地址和 MAC")


def _uptime(result: CheckResult) -> tuple[float, str | None] | None:
    m = result.measured
    uptime, at = m.get("uptime_s"), m.get("checked_at")
    if uptime is None:
        return None
    if isinstance(uptime, bool) or not isinstance(uptime, int | float) \
            or not math.isfinite(uptime) or uptime < 0:
        raise _wrong(result, ".uptime_s", uptime, ("a number of seconds", "秒数"))
    if at is not None and not isinstance(at, str):
        raise _wrong(result, ".checked_at", at, ("a time", "时间"))
    return float(uptime), at


def previous_facts(results: list[CheckResult]) -> PreviousFacts:
    """What the comparisons need from a previous run's results; raises MalformedRun."""
    from .planning.layer2 import observed_macs

    uptimes = {}
    for result in results:
        if not isinstance(result.measured, dict):
            raise _wrong(result, "", result.measured, ("a mapping", "映射"))
        if result.aspect == "arp_sweep" and result.measured.get("layer2"):
            _check_sweep(result)
        uptime = _uptime(result)
        if uptime is not None:
            uptimes[result.check_id] = uptime
    return PreviousFacts(observed_macs(results), uptimes)


def skipped(run_id: int | None, store_path: Path, what: Text) -> Text:
    """The warning a check run gives when it cannot use the previous run."""
    run = f"run {run_id}" if run_id is not None else "the latest run"
    run_zh = f"第 {run_id} 次检查" if run_id is not None else "最近一次检查"
    return Text(
        f"the previous {run} in {store_path} is skipped: {what.en}. It was not written so by "
        "readiness (edited by hand, or damaged); this run goes on without comparing a seat's "
        "MAC or a device's uptime with it. Run `readiness verify` to see whether the "
        "signed record of that run is intact",
        f"已跳过 {store_path} 中的上一次检查（{run_zh}）：{what.zh}。该记录不是 readiness 写入的"
        "样子（被手工修改或已损坏）；本次检查照常进行，但不与其比较考位 MAC 和设备运行时间。"
        "请运行 `readiness verify` 查看该次检查的签名记录是否完好")


def load_previous(store_path: Path, site_code: str) -> tuple[PreviousFacts | None, Text | None]:
    """(facts, None), (None, None) without a previous run, or (None, warning)."""
    from .store import ResultsStore

    store = ResultsStore(store_path)
    run_id: int | None = None
    try:
        run_id = store.latest_run_id(site_code)
        run: RunRecord | None = store.load_run(run_id) if run_id is not None else None
    except Exception as exc:  # noqa: BLE001 - an unreadable store must not stop tonight's check
        detail = f"{type(exc).__name__}: {str(exc)[:200]}"
        return None, skipped(run_id, store_path, Text(f"it cannot be read ({detail})",
                                                      f"无法读取（{detail}）"))
    if run is None:
        return None, None
    try:
        return previous_facts(run.results), None
    except MalformedRun as exc:
        return None, skipped(run_id, store_path, exc.what)
