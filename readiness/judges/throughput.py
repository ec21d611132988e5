"""LAN-SPEED by measurement: a path's throughput, and the whole room's, against the
certificate's link classes.

A path is judged by the receiver's figure: at or above `gigabit_class_min_mbps` it is
a gigabit path, at or above `fast_ethernet_class_min_mbps` a 100M path, else below
even that. `required_class` says what the certificate needs: "gigabit" (eda: a 100M
path fails) or "fast_ethernet" (cbec: 100M is the minimum and warns).

judge_params:
  throughput.seat       thresholds (LanSpeedThresholds), seat (label), path
                        ("seat_to_server" / "server_to_seat")
  throughput.room_load  thresholds, load_base_port (named in the advice for a room
                        that could not be loaded at once)
  throughput.pair_seat  (derived) thresholds, seat, address, path ("upload" /
                        "download"), source (the seat pairs check's id), port
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config.profile import LanSpeedThresholds
from ..results import NO_ACTION, CheckResult, Finding, ProbeOutcome, Status, Text, worst

GIGABIT = "gigabit"
FAST_ETHERNET = "fast_ethernet"
BELOW = "below_fast_ethernet"
SLOWEST_NAMED = 3


def classify(mbps: float, gigabit_min: float, fast_min: float) -> str:
    if mbps >= gigabit_min:
        return GIGABIT
    if mbps >= fast_min:
        return FAST_ETHERNET
    return BELOW


# -- one path --------------------------------------------------------------------------------


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def path_verdict(mbps: float, th: LanSpeedThresholds, path_en: str, path_zh: str
                 ) -> tuple[str, Status, Text, list[Finding]]:
    """The link class of one path, its verdict, the words for it and (when it does not
    pass) the finding: the class, not the figure, so seats measured a few Mbit/s apart
    read the same in the fix list."""
    link = classify(mbps, th.gigabit_class_min_mbps, th.fast_ethernet_class_min_mbps)
    fig = f"{mbps:.0f} Mbit/s"
    g, f = f"{th.gigabit_class_min_mbps:g}", f"{th.fast_ethernet_class_min_mbps:g}"
    if link == GIGABIT:
        return link, Status.PASS, Text(
            f"{fig} {path_en}: gigabit class (>= {g} Mbit/s)",
            f"{path_zh} 实测 {fig}：达到千兆级（≥{g} Mbit/s）"), []
    if link == FAST_ETHERNET and th.required_class == FAST_ETHERNET:
        what = Text(f"100M class ({f}-{g} Mbit/s). The minimum 100M LAN is met; the "
                    "recommended gigabit LAN is not",
                    f"百兆级（{f}–{g} Mbit/s）。满足最低配置百兆局域网，未达到推荐的千兆局域网")
        action = Text("check for 100M switches, ports or cables",
                      "请检查是否有百兆交换机、端口或网线")
        return link, Status.WARN, Text(
            f"{fig} {path_en}: {what.en} ({action.en})",
            f"{path_zh} 实测 {fig}：{what.zh}（{action.zh}）"), [
                Finding("throughput.fast_ethernet", what, action)]
    if link == FAST_ETHERNET:
        what = Text(f"only 100M class, but this exam needs a gigabit LAN (>= {g} Mbit/s)",
                    f"仅为百兆级，本考试要求千兆局域网（≥{g} Mbit/s）")
        action = Text("look for a 100M switch, port, NIC or a cable that only links at "
                      "100 Mbit/s on this path",
                      "请检查该路径上是否有百兆交换机、端口、网卡，或只能以 100 Mbit/s 连接的网线")
        return link, Status.FAIL, Text(
            f"{fig} {path_en}: {what.en}. {_sentence(action.en)}",
            f"{path_zh} 实测 {fig}：{what.zh}。{action.zh}"), [
                Finding("throughput.not_gigabit", what, action)]
    what = Text(f"below even the 100M class (< {f} Mbit/s)", f"低于百兆级（<{f} Mbit/s）")
    action = Text("look for a duplex mismatch, a damaged cable or port, a 10 Mbit/s hop or "
                  "other heavy traffic",
                  "请检查双工不匹配、网线或端口损坏、10 Mbit/s 链路或其他大流量")
    return link, Status.FAIL, Text(
        f"{fig} {path_en}: {what.en}. {_sentence(action.en)}",
        f"{path_zh} 实测 {fig}：{what.zh}。{action.zh}"), [
            Finding("throughput.below_fast_ethernet", what, action)]


def _path_words(measured: dict[str, Any], here_en: str, here_zh: str) -> tuple[str, str]:
    host = str(measured.get("server", "")).rpartition(":")[0] or "the server"
    host_zh = host.replace("seat ", "考位 ", 1)  # the partner seat, said in Chinese too
    if measured.get("direction") == "reverse":
        return f"from {host} to {here_en}", f"{host_zh}→{here_zh}"
    return f"from {here_en} to {host}", f"{here_zh}→{host_zh}"


def mtu_black_hole(m: dict[str, Any], path_en: str, path_zh: str) -> tuple[Text, Finding] | None:
    """The words for a path that drops large packets (probes/throughput.py's DF echoes
    after a stalled test), or None when the probe found no such thing."""
    size = m.get("path_mtu")
    if not isinstance(size, dict) or not size.get("largest_ok"):
        return None
    ok, lost = size["largest_ok"], size["smallest_lost"]
    what = Text(f"an MTU black hole {path_en}: packets of up to {ok} bytes get through, of "
                f"{lost} bytes and more they are dropped without a word (DF echoes)",
                f"{path_zh} 存在 MTU 黑洞：不超过 {ok} 字节的数据包可以通过，"
                f"{lost} 字节及以上的被静默丢弃（DF 回显探测）")
    action = Text(f"find the hop with the smaller MTU on this path (a switch port, a VLAN or "
                  f"tunnel set below 1500) and set it to 1500, or set the PCs' MTU to {ok}",
                  f"请找出该路径上 MTU 较小的一跳（交换机端口、VLAN 或隧道低于 1500）并改为 1500，"
                  f"或把电脑的 MTU 设为 {ok}")
    return Text(f"{what.en}: {action.en}", f"{what.zh}：{action.zh}"), Finding(
        "throughput.mtu_black_hole", what, action, root_cause=True)


def judge_seat(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """One seat, one direction: measured by the seat's agent, or (`stand_in`, no agent)
    from the coordinator against the seat's own throughput server."""
    th: LanSpeedThresholds = params["thresholds"]
    label, path = str(params["seat"]), str(params["path"])
    m = outcome.measured
    stand_in = bool(m.get("stand_in"))
    measured = {**m, "seat": label, "path": path,
                "vantage": "coordinator" if stand_in else "agent"}
    # The probe speaks of "this computer"; a report is read elsewhere, so name it.
    here_en, here_zh = ("the coordinator", "协调机") if stand_in else (f"seat {label}",
                                                                    f"考位 {label}")
    prefix_en = (f"{label} has no agent; measured from the coordinator against its "
                 "throughput server: ") if stand_in else ""
    prefix_zh = f"{label} 无代理；改由协调机对其吞吐量测试服务器测量：" if stand_in else ""
    mbps = m.get("throughput_mbps")
    hole = mtu_black_hole(m, *_path_words(m, here_en, here_zh))
    if hole:
        # small packets pass, full-size ones vanish: the size is the cause, whatever the
        # figure or the test's failure says
        text, finding = hole
        return ProbeOutcome(Status.FAIL, Text(prefix_en + text.en, prefix_zh + text.zh),
                            measured, list(outcome.evidence), findings=[finding])
    if outcome.status in (Status.ERROR, Status.SKIP) or not isinstance(mbps, int | float):
        if stand_in and m.get("no_server"):
            start = Text("start `readiness agent` or `readiness throughput-server` on that PC",
                         "请在该电脑上启动 `readiness agent` 或 `readiness throughput-server`")
            return ProbeOutcome(Status.SKIP, Text(
                f"no agent and no throughput server on {label}: {start.en}",
                f"{label} 上既没有代理也没有吞吐量测试服务器：{start.zh}"),
                {**measured, "server": outcome.message.en}, list(outcome.evidence),
                findings=[Finding("agent.absent_no_server",
                                  Text("no agent and no throughput server",
                                       "既没有代理也没有吞吐量测试服务器"),
                                  start, root_cause=True)])
        said = Text(outcome.message.en.replace("this computer", here_en),
                    outcome.message.zh.replace("本机", here_zh))
        # an agent that did not answer says so in its findings; a test that could not be
        # made says why in its words, which already say what to do
        findings = outcome.findings or [Finding("throughput.not_measured", said, NO_ACTION)]
        return ProbeOutcome(outcome.status, Text(prefix_en + said.en, prefix_zh + said.zh),
                            measured, list(outcome.evidence), findings=list(findings))
    path_en, path_zh = _path_words(m, here_en, here_zh)
    link, status, text, findings = path_verdict(float(mbps), th, path_en, path_zh)
    measured["link_class"] = link
    return ProbeOutcome(status, Text(prefix_en + text.en, prefix_zh + text.zh), measured,
                        list(outcome.evidence), findings=findings)


# -- the whole room at once --------------------------------------------------------------------


@dataclass
class LoadFigures:
    """What the room load measured: Mbit/s per seat, the seats that could not be
    measured (and why), and how the seats were run."""

    per_seat: dict[str, float]
    not_measured: dict[str, str]
    aggregate_mbps: float  # the most the exam server carried at once
    concurrent: int  # seats that ran at the same moment (the server's ports)
    waves: int

    @classmethod
    def from_measured(cls, m: dict[str, Any]) -> LoadFigures:
        return cls({str(k): float(v) for k, v in (m.get("per_seat") or {}).items()},
                   {str(k): str(v) for k, v in (m.get("not_measured") or {}).items()},
                   float(m.get("aggregate_mbps") or 0.0), int(m.get("concurrent") or 0),
                   int(m.get("waves") or 0))


def _classify_words(link: str, agg: str, g: str, f: str) -> tuple[str, str]:
    if link == GIGABIT:
        return f"{agg} Mbit/s together, gigabit class (>= {g} Mbit/s)", \
            f"合计 {agg} Mbit/s，达到千兆级（≥{g} Mbit/s）"
    if link == FAST_ETHERNET:
        return f"{agg} Mbit/s together, only 100M class ({f}-{g} Mbit/s)", \
            f"合计 {agg} Mbit/s，仅为百兆级（{f}–{g} Mbit/s）"
    return f"{agg} Mbit/s together, below even the 100M class (< {f} Mbit/s)", \
        f"合计 {agg} Mbit/s，低于百兆级（<{f} Mbit/s）"


def judge_load(fig: LoadFigures, th: LanSpeedThresholds, server: str,
               load_base_port: int) -> ProbeOutcome:
    """The rule (documented with load_min_share_pct in the profiles): the aggregate is
    judged like one path, since it is what the exam server's link carried with the
    room pulling at once; a seat with less than load_min_share_pct of an even split
    is named and warns; seats not measured, or a room loaded in waves, warn."""
    g_min, f_min = th.gigabit_class_min_mbps, th.fast_ethernet_class_min_mbps
    share_pct = th.load_min_share_pct
    ranked = sorted(fig.per_seat.items(), key=lambda item: item[1])
    measured: dict[str, Any] = {
        "aggregate_mbps": round(fig.aggregate_mbps, 1),
        "seats": len(fig.per_seat),
        "slowest": [{"seat": s, "mbps": round(m, 1)} for s, m in ranked[:SLOWEST_NAMED]],
        "per_seat": {s: round(m, 1) for s, m in fig.per_seat.items()},
        "concurrent": fig.concurrent,
        "waves": fig.waves,
        "server": server,
    }
    if fig.not_measured:
        measured["not_measured"] = dict(fig.not_measured)
    if not fig.per_seat:
        names = ", ".join(fig.not_measured)
        first = next(iter(fig.not_measured.values()), "")
        text = Text(f"no seat could be measured under load ({names}): {first}",
                    f"负载测试中没有考位测得结果（{names}）：{first}")
        return ProbeOutcome(Status.ERROR, text, measured,
                            findings=[Finding("throughput.load_none", text, NO_ACTION)])
    link = classify(fig.aggregate_mbps, g_min, f_min)
    measured["link_class"] = link
    statuses = [Status.PASS if link == GIGABIT else
                Status.WARN if link == FAST_ETHERNET
                and th.required_class == FAST_ETHERNET else Status.FAIL]
    agg, g, f = f"{fig.aggregate_mbps:.0f}", f"{g_min:g}", f"{f_min:g}"
    words_en, words_zh = _classify_words(link, agg, g, f)
    n = len(fig.per_seat)
    at_once = fig.waves == 1
    findings: list[Finding] = []
    if at_once:
        how = Text(f"{n} seats sent to the exam server {server} at once",
                   f"{n} 个考位同时向考试服务器 {server} 发送")
    else:
        how = Text(f"{n} seats sent to the exam server {server}, {fig.concurrent} at a time",
                   f"{n} 个考位向考试服务器 {server} 发送，每次 {fig.concurrent} 个")
    en = [f"{how.en}: {words_en}"]
    zh = [f"{how.zh}：{words_zh}"]
    if link != GIGABIT:
        action = Text("look for a 100M port, NIC or cable on the exam server's path, or a slow "
                      "uplink between switches",
                      "请检查考试服务器路径上是否有百兆端口、网卡或网线，或交换机之间的级联链路过慢")
        en.append(action.en)
        zh.append(action.zh)
        findings.append(Finding(f"throughput.load_{link}",
                                Text(f"{how.en}: {words_en}", f"{how.zh}：{words_zh}"), action))
    slowest = ", ".join(f"{s} {m:.0f}" for s, m in ranked[:SLOWEST_NAMED])
    if at_once:
        fair = fig.aggregate_mbps / n
        measured["fair_share_mbps"] = round(fair, 1)
        en.append(f"an even share is {fair:.0f} Mbit/s; slowest: {slowest}")
        zh.append(f"平均每个考位 {fair:.0f} Mbit/s；最慢：{slowest}")
        starved = [s for s, m in ranked if n > 1 and m < fair * share_pct / 100]
        if starved:
            statuses.append(Status.WARN)
            measured["below_share"] = starved
            what = Text(f"starved under load, below {share_pct:g}% of an even share: "
                        f"{', '.join(starved)}",
                        f"负载下几乎无流量（低于平均份额的 {share_pct:g}%）：{', '.join(starved)}")
            action = Text("check that seat's cable and switch port",
                          "请检查该考位的网线和交换机端口")
            en.append(f"{what.en} ({action.en})")
            zh.append(f"{what.zh}（{action.zh}）")
            findings.append(Finding("throughput.starved", what, action))
    else:
        statuses.append(Status.WARN)
        last = load_base_port + n - 1
        action = Text(f"run `readiness throughput-server --ports {load_base_port}-{last}` on "
                      "the exam server so every seat has a port of its own",
                      f"请在考试服务器上运行 `readiness throughput-server --ports "
                      f"{load_base_port}-{last}`，使每个考位各有一个端口")
        en.append(f"slowest: {slowest}; the room was not loaded at once: {action.en}")
        zh.append(f"最慢：{slowest}；未能同时加载整个考场：{action.zh}")
        findings.append(Finding("throughput.load_in_waves",
                                Text("the room was not loaded at once",
                                     "未能同时加载整个考场"), action))
    if fig.not_measured:
        statuses.append(Status.WARN)
        names = ", ".join(fig.not_measured)
        en.append(f"not measured: {names}")
        zh.append(f"未测得：{names}")
        findings.append(Finding("throughput.load_not_measured",
                                Text(f"not measured under load: {names}",
                                     f"负载测试中未测得：{names}"),
                                Text("see those seats' own LAN-SPEED results",
                                     "请查看这些考位各自的 LAN-SPEED 结果")))
    status = worst(statuses)
    return ProbeOutcome(status, Text("; ".join(en), "；".join(zh)), measured,
                        findings=findings)


def judge_room_load(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """The room load probe's figures (readiness/agent/room_load.py) -> verdict; an
    outcome without figures (no agent answers, no token) is passed on as it is."""
    m = outcome.measured
    if "per_seat" not in m:
        return outcome
    judged = judge_load(LoadFigures.from_measured(m), params["thresholds"],
                        str(m.get("server", "")), int(params["load_base_port"]))
    if m.get("without_agent"):
        judged.measured["without_agent"] = list(m["without_agent"])
    if "served_by_agent" in m:
        judged.measured["served_by_agent"] = bool(m["served_by_agent"])
    judged.evidence = list(outcome.evidence)
    return judged


# -- seats in pairs (readiness/agent/seat_pairs.py) -------------------------------------------


def _pair_outcome(source: CheckResult, params: dict[str, Any]) -> ProbeOutcome:
    """What the pairs check measured for one seat and direction, in the shape of a
    single throughput test (so judge_seat words it and classes it the same way)."""
    label, upload = str(params["seat"]), params["path"] == "upload"
    fig = (source.measured.get("per_seat") or {}).get(label)
    if fig is None:
        if source.status in (Status.ERROR, Status.SKIP):
            return ProbeOutcome(source.status, source.message, {},
                                findings=list(source.findings))
        return ProbeOutcome(Status.ERROR, Text(
            f"the seat pairs test has no figure for {label}",
            f"考位互测没有 {label} 的结果"), {}, findings=[Finding(
                "throughput.pairs_no_figure",
                Text("the seat pairs test has no figure for it", "考位互测没有其结果"),
                Text("report this as a bug", "请将此作为缺陷报告"))])
    stand_in = fig.get("vantage") == "coordinator"
    mbps = fig.get("upload_mbps" if upload else "download_mbps")
    if stand_in:
        # from here against the seat's own server: the seat sends in a reverse test
        where = f"{params['address']}:{params['port']}"
        reverse = upload
    else:
        where = f"seat {fig.get('partner')}:{params['port']}"
        reverse = not upload
    measured: dict[str, Any] = {"server": where, "direction": "reverse" if reverse
                                else "forward", "partner": fig.get("partner"),
                                "retested": bool(fig.get("retested"))}
    if stand_in:
        measured["stand_in"] = True
    if fig.get("no_server"):
        measured["no_server"] = True
    if fig.get("path_mtu"):
        measured["path_mtu"] = fig["path_mtu"]
    if not isinstance(mbps, int | float):
        problem = str(fig.get("problem") or "not measured")
        return ProbeOutcome(Status.ERROR, Text(problem, problem), measured)
    measured["throughput_mbps"] = float(mbps)
    return ProbeOutcome(Status.PASS, Text("", ""), measured)


def judge_pairs(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """The pairs check itself: how the room was measured. Each seat's verdict is its own
    derived check; this one passes when the seats could be measured at all."""
    del params
    per_seat = outcome.measured.get("per_seat")
    if outcome.status in (Status.ERROR, Status.SKIP) or not isinstance(per_seat, dict):
        return outcome
    measured = [s for s, f in per_seat.items() if f.get("upload_mbps") is not None]
    if not measured:
        text = Text("no seat could be measured in pairs: " + outcome.message.en,
                    "考位互测没有测得任何考位：" + outcome.message.zh)
        return ProbeOutcome(Status.ERROR, text, outcome.measured, findings=[Finding(
            "throughput.pairs_none", text, NO_ACTION)])
    return outcome


def judge_pair_seat(results: list[CheckResult], params: dict[str, Any]) -> ProbeOutcome:
    """One seat, one direction, from the seat pairs check: classed like a test of its own
    (a seat tried again against a known-good seat is judged by that test)."""
    source = next((r for r in results if r.check_id == params["source"]), None)
    if source is None:
        text = Text(f"internal: no result of {params['source']}",
                    f"内部错误：缺少 {params['source']} 的结果")
        return ProbeOutcome(Status.ERROR, text, findings=[Finding(
            "throughput.pairs_missing", text, Text("report this as a bug", "请将此作为缺陷报告"))])
    outcome = _pair_outcome(source, params)
    judged = judge_seat(outcome, {"thresholds": params["thresholds"],
                                  "seat": params["seat"], "path": params["path"]})
    if not outcome.measured.get("stand_in") and "partner" in outcome.measured:
        judged.ran_from = f"agent {params['seat']}"
    return judged


OUTCOME_JUDGES = {
    "throughput.seat": judge_seat,
    "throughput.room_load": judge_room_load,
    "throughput.pairs": judge_pairs,
}
RESULTS_JUDGES: dict[str, Any] = {"throughput.pair_seat": judge_pair_seat}
