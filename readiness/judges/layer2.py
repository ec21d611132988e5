"""Layer-2 verdicts: one ARP sweep and one DHCP discovery per room (probes/l2_sweep.py),
judged many ways. Pure functions: they send nothing.

Each is a derived-check judge (RESULTS_JUDGES): it finds the room's sweep among the
run's results by `params["sweep_id"]` and reads its measured data, so the room is swept
once however many checks judge it. The params are the Check's judge_params, JSON-able
but for the Subjects that say whom a finding is about:
  sweep_id        the check id of the room's sweep (readiness.planning.layer2)
  previous_macs   {address: mac} seen by an earlier run (filled in by
                  readiness.planning.layer2.with_previous_macs); a change warns
  strict          (layer2.host) the certificate's fixed-address rule names this host,
                  so a missing host or a foreign MAC fails instead of warning
  subjects        (layer2.duplicates) {address: Subject} of the site file's hosts
  hosts[].subject (layer2.broadcast_domain) each host's Subject

Without raw-socket rights the sweep says so (measured layer2 = False) and every judge
answers `warn: not verified`, never `pass`.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..results import NO_ACTION, CheckResult, Finding, ProbeOutcome, Status, Text
from ..subject import Subject
from . import OutcomeJudge, ResultsJudge


def _sweep_problem(sweep: CheckResult | None) -> ProbeOutcome | None:
    """Why the sweep cannot be judged, or None when it can."""
    if sweep is None:
        text = Text("internal: the ARP sweep of this room was not planned or did not run",
                    "内部错误：本考场的 ARP 扫描未计划或未运行")
        return ProbeOutcome(Status.ERROR, text, findings=[Finding(
            "l2.no_sweep", text, Text("report this as a bug", "请将此作为缺陷报告"))])
    measured = sweep.measured or {}
    # the sweep's own words say why it could not look (and, from its probe, what to do)
    said = Finding("l2.not_swept", sweep.message, NO_ACTION)
    if measured.get("layer2") is False:
        # the sweep's own "not verified: needs raw-socket rights" warning, kept a non-proof
        return ProbeOutcome(Status.WARN, sweep.message, dict(measured), findings=[said])
    if sweep.status == Status.SKIP:
        return ProbeOutcome(Status.SKIP, sweep.message, findings=[said])
    if sweep.status == Status.ERROR or "hosts" not in measured:
        return ProbeOutcome(Status.ERROR, Text(
            f"not verified: the ARP sweep could not run: {sweep.message.en}",
            f"未验证：ARP 扫描无法进行：{sweep.message.zh}"), findings=[said])
    return None


def _macs_at(measured: dict[str, Any], address: str) -> list[str]:
    """Every MAC that claims `address`; this computer's own address answers for itself."""
    macs = list(measured.get("hosts", {}).get(address, []))
    if address == measured.get("local_address"):
        macs = [measured["local_mac"], *(m for m in macs if m != measured["local_mac"])]
    return macs


def _where_is(measured: dict[str, Any], mac: str) -> list[str]:
    """Addresses (inside or outside the subnet) where `mac` was heard."""
    found = [ip for ip, macs in measured.get("hosts", {}).items() if mac in macs]
    found += [ip for ip, macs in measured.get("foreign", {}).items() if mac in macs]
    if mac == measured.get("local_mac"):
        found.insert(0, measured["local_address"])
    return found


def found_elsewhere(measured: dict[str, Any], macs: list[str],
                    typos: list[str]) -> tuple[str, str, Text] | None:
    """Where a host that does not answer at its own address is found on this LAN:
    (address, MAC, how we know it is this host), by one of its known MACs first (heard
    anywhere), then by the addresses a mistyped subnet would give it (asked by ARP
    probe: that exact address answering is the host with its subnet typed wrong)."""
    for mac in dict.fromkeys(m for m in macs if m):
        for ip in _where_is(measured, mac):
            return ip, mac, Text(f"its MAC {mac} answers there", f"其 MAC {mac} 在该地址应答")
    foreign = measured.get("foreign", {})
    for ip in typos:
        if foreign.get(ip):
            mac = foreign[ip][0]
            return ip, mac, Text(
                f"MAC {mac} answers ARP at the address a mistyped subnet gives it",
                f"MAC {mac} 在子网写错时它会得到的地址上应答 ARP")
    return None


def wrong_address(who_en: str, who_zh: str, address: str, subnet: str, ip: str,
                  how: Text, subject: Subject | None = None) -> tuple[Text, Finding]:
    """"seat A05 is on the exam LAN at 192.168.11.105: wrong subnet, set it to ...", and
    the finding (about `subject` when the check is someone else's)."""
    if ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(subnet):
        code, wrong = "l2.wrong_address", Text("wrong address", "地址错误")
    else:
        code, wrong = "l2.wrong_subnet", Text("wrong subnet", "子网错误")
    at = Text(f"on the exam LAN at {ip} ({how.en})",
              f"在考场局域网内，但地址为 {ip}（{how.zh}）")
    text = Text(f"{who_en} is {at.en}: {wrong.en}, set it to {address}",
                f"{who_zh} {at.zh}：{wrong.zh}，请改为 {address}")
    return text, Finding(code, Text(f"{at.en}: {wrong.en}", f"{at.zh}：{wrong.zh}"),
                         Text(f"set its address to {address}", f"请把其地址改为 {address}"),
                         subject)


def _subject(params: dict[str, Any], key: str, address: str) -> Subject | None:
    """The subject the plan gave `address` under params[key] (None: the plan gave none)."""
    found = (params.get(key) or {}).get(address)
    return found if isinstance(found, Subject) else None


def _join(items: list[str]) -> str:
    return ", ".join(items)


def conflict_words(macs: list[str], notes: Text | None = None) -> tuple[Text, Text]:
    """What an address conflict is and what to do, the same for the host's own check and
    the room's list of conflicts (so the fix list says them once)."""
    extra_en, extra_zh = (f"; {notes.en}", f"；{notes.zh}") if notes else ("", "")
    return (Text(f"{len(macs)} machines answer at its address ({_join(macs)}){extra_en}",
                 f"{len(macs)} 台机器在其地址应答（{_join(macs)}）{extra_zh}"),
            Text("find the machine that should not have this address (by its MAC, in the "
                 "switch's MAC table or on the PC) and give it its own",
                 "请按 MAC（交换机 MAC 表或电脑上）找出不该使用此地址的机器，并为其分配独立地址"))


# ---------------------------------------------------------------- one host


def judge_host(sweep: CheckResult | None, params: dict[str, Any]) -> ProbeOutcome:
    """LAN-FIXED-IP for one host: it answers ARP at its configured address, with its
    configured MAC (or the MAC a previous run saw), and nobody else answers there."""
    problem = _sweep_problem(sweep)
    if problem:
        return problem
    assert sweep is not None
    m = sweep.measured
    address = str(params["address"])
    who_en, who_zh = str(params["role_en"]), str(params["role_zh"])
    strict = bool(params.get("strict", False))
    configured = params.get("configured_mac")
    previous = (params.get("previous_macs") or {}).get(address)
    if ipaddress.IPv4Address(address) not in ipaddress.IPv4Network(m["subnet"]):
        # e.g. an eda exam server in its own subnet: reached through a router, by design
        outside = Text(f"its address is outside {m['subnet']}, so it cannot answer ARP on "
                       "this LAN", f"其地址不在 {m['subnet']} 内，不会在本局域网应答 ARP")
        return ProbeOutcome(Status.WARN if strict else Status.SKIP, Text(
            f"not verified by ARP: {who_en}'s address {address} is outside {m['subnet']}, "
            "so it cannot answer ARP on this LAN",
            f"无法用 ARP 验证：{who_zh}的地址 {address} 不在 {m['subnet']} 内，"
            "不会在本局域网应答 ARP"), {"address": address},
            findings=[Finding("l2.outside_subnet",
                              Text(f"not verified by ARP: {outside.en}",
                                   f"无法用 ARP 验证：{outside.zh}"),
                              Text("confirm its fixed address on the machine itself",
                                   "请在该设备上确认其固定地址"))])
    macs = _macs_at(m, address)
    this_pc = address == m.get("local_address")
    measured: dict[str, Any] = {
        "address": address, "macs": macs, "mac": macs[0] if len(macs) == 1 else None,
        "configured_mac": configured, "previous_mac": previous, "this_computer": this_pc,
    }
    missing = Status.FAIL if strict else Status.WARN
    if not macs:
        found = found_elsewhere(m, [configured, previous], list(params.get("typos") or []))
        if found:
            ip, mac, how = found
            measured.update(found_at=ip, found_mac=mac)
            text, finding = wrong_address(who_en, who_zh, address, m["subnet"], ip, how)
            return ProbeOutcome(missing, text, measured, findings=[finding])
        why = Text("it is switched off, unplugged, or set to another address",
                   "设备未开机、未接网线，或地址被改动")
        return ProbeOutcome(missing, Text(
            f"nothing answers ARP at {who_en}'s address {address}: {why.en}",
            f"{who_zh} 的地址 {address} 无 ARP 应答：{why.zh}"),
            measured, findings=[Finding(
                "l2.no_arp_answer", Text("nothing answers ARP at its address",
                                         "其地址无 ARP 应答"),
                Text("switch it on and cable it, or correct its address",
                     "请开机并接好网线，或改正其地址"), root_cause=True)])
    if len(macs) > 1:
        what, action = conflict_words(macs)
        return ProbeOutcome(Status.FAIL, Text(
            f"address conflict at {who_en}'s address {address}: {len(macs)} machines answer "
            f"({_join(macs)}). Find the machine that should not have this address and give "
            "it its own",
            f"{who_zh} 的地址 {address} 发生 IP 冲突：{len(macs)} 台机器应答（{_join(macs)}）。"
            "请找出不该使用此地址的机器并为其分配独立地址"), measured,
            findings=[Finding("l2.address_conflict", what, action)])
    mac = macs[0]
    itself_en = " (this computer)" if this_pc else ""
    itself_zh = "（即本机）" if this_pc else ""
    if configured and mac != configured:
        return ProbeOutcome(missing, Text(
            f"{address} answers with MAC {mac}, not {who_en}'s configured {configured}: "
            "another machine holds this address, or the machine or its network card was "
            "replaced (then write the new MAC into the site file)",
            f"{address} 以 MAC {mac} 应答，不是站点文件中 {who_zh} 的 {configured}："
            "另一台机器占用了此地址，或设备/网卡已更换（如是，请在站点文件中更新 mac）"),
            measured, findings=[Finding(
                "l2.foreign_mac",
                Text(f"its address answers with MAC {mac}, not the configured {configured}",
                     f"其地址以 MAC {mac} 应答，不是站点文件中的 {configured}"),
                Text("find the other machine holding the address; if the machine or its "
                     "network card was replaced, write the new MAC into the site file",
                     "请找出占用此地址的另一台机器；如设备或网卡已更换，请在站点文件中更新 mac"))])
    if not configured and previous and mac != previous:
        return ProbeOutcome(Status.WARN, Text(
            f"{address} answers with MAC {mac}; the last run saw {previous}: {who_en} or its "
            "network card was changed, or another machine took the address. If the change "
            "is expected, write the MAC into the site file",
            f"{address} 以 MAC {mac} 应答；上次检查为 {previous}：{who_zh} 或其网卡已更换，"
            "或地址被其他机器占用。如属预期，请把新 MAC 写入站点文件"), measured,
            findings=[Finding(
                "l2.mac_changed",
                Text(f"its address answers with MAC {mac}; the last run saw {previous}",
                     f"其地址以 MAC {mac} 应答；上次检查为 {previous}"),
                Text("if the machine or its network card was changed, write the MAC into "
                     "the site file; otherwise find the machine that took the address",
                     "如设备或网卡已更换，请把新 MAC 写入站点文件；否则请找出占用该地址的机器"))])
    return ProbeOutcome(Status.PASS, Text(
        f"{who_en} answers at {address} with MAC {mac}{itself_en}",
        f"{who_zh}在 {address} 以 MAC {mac} 应答{itself_zh}"), measured)


# ---------------------------------------------------------------- the room


def judge_duplicates(sweep: CheckResult | None, params: dict[str, Any]) -> ProbeOutcome:
    """No address on the exam LAN is answered by two MACs.

    params: names {address: [en, zh]} (whose address it is), mac_names {mac: [en, zh]}
    (whose configured MAC it is), expected {address: mac} (configured), previous_macs.
    """
    problem = _sweep_problem(sweep)
    if problem:
        return problem
    assert sweep is not None
    m = sweep.measured
    names: dict[str, list[str]] = params.get("names", {})
    mac_names: dict[str, list[str]] = params.get("mac_names", {})
    expected = {**(params.get("previous_macs") or {}), **params.get("expected", {})}
    router = params.get("router_address")
    router_macs = set(_macs_at(m, router)) if router else set()
    addresses = set(m.get("hosts", {})) | {m.get("local_address")}
    conflicts = {a: _macs_at(m, a) for a in sorted(addresses, key=ipaddress.IPv4Address)
                 if len(_macs_at(m, a)) > 1}
    if not conflicts:
        return ProbeOutcome(Status.PASS, Text(
            f"no address conflict: each of the {len(m.get('hosts', {}))} addresses that "
            "answered ARP is held by one machine",
            f"无 IP 冲突：应答 ARP 的 {len(m.get('hosts', {}))} 个地址均只由一台机器使用"),
            {"conflicts": {}})
    parts_en, parts_zh = [], []
    findings = []
    for address, macs in conflicts.items():
        label = names.get(address)
        whose = f" ({label[0]}'s address)" if label else ""
        whose_zh = f"（{label[1]}的地址）" if label else ""
        notes_en, notes_zh = [], []
        for mac in macs:
            if mac == expected.get(address):
                notes_en.append(f"{mac} is the expected one")
                notes_zh.append(f"{mac} 为应有的机器")
            elif mac in mac_names and mac_names[mac] != label:
                notes_en.append(f"{mac} is {mac_names[mac][0]}'s")
                notes_zh.append(f"{mac} 属于{mac_names[mac][1]}")
            elif mac in router_macs and address != router:
                notes_en.append(f"{mac} is the router's (turn off proxy ARP on its LAN port)")
                notes_zh.append(f"{mac} 为路由器的 MAC（请关闭其 LAN 口的代理 ARP）")
        note_en = f"; {'; '.join(notes_en)}" if notes_en else ""
        note_zh = f"；{'；'.join(notes_zh)}" if notes_zh else ""
        parts_en.append(f"{address}{whose} is answered by {' and '.join(macs)}{note_en}")
        parts_zh.append(f"{address}{whose_zh} 由 {' 和 '.join(macs)} 同时应答{note_zh}")
        # about the host whose address it is (the same words as its own LAN-FIXED-IP check);
        # an address nobody in the site file has is the room's
        owner = _subject(params, "subjects", address)
        what, action = conflict_words(
            macs, Text("; ".join(notes_en), "；".join(notes_zh)) if notes_en else None)
        if owner is None:
            what = Text(f"{address}: {what.en}", f"{address}：{what.zh}")
        findings.append(Finding("l2.address_conflict", what, action, owner))
    return ProbeOutcome(Status.FAIL, Text(
        f"address conflict: {'; '.join(parts_en)}. Two machines using one address take "
        "each other's connection away during the exam: find the one that should not have "
        "the address (by its MAC, in the switch's MAC table or on the PC) and give it its own",
        f"IP 冲突：{'；'.join(parts_zh)}。两台机器共用一个地址会在考试中互相抢断连接："
        "请按 MAC（交换机 MAC 表或电脑上）找出不该使用该地址的机器，并为其分配独立地址"),
        {"conflicts": conflicts}, findings=findings)


def judge_unknown(sweep: CheckResult | None, params: dict[str, Any]) -> ProbeOutcome:
    """Machines on the exam LAN that no part of the site file names.

    params: known [addresses], known_macs [macs] (configured and previous).
    """
    problem = _sweep_problem(sweep)
    if problem:
        return problem
    assert sweep is not None
    m = sweep.measured
    known = set(params.get("known", [])) | {m.get("local_address")}
    known_macs = set(params.get("known_macs", [])) | set(
        (params.get("previous_macs") or {}).values())
    unknown = {ip: macs for ip, macs in m.get("hosts", {}).items() if ip not in known}
    typo_of: dict[str, str] = params.get("typo_of") or {}
    foreign = {ip: macs for ip, macs in m.get("foreign", {}).items()
               if not set(macs) & known_macs and ip not in typo_of}
    measured = {"unknown": unknown, "foreign": foreign}
    if not unknown and not foreign:
        return ProbeOutcome(Status.PASS, Text(
            f"every machine that answered on {m['subnet']} is in the site file",
            f"{m['subnet']} 内应答的机器均已写入站点文件"), measured)
    parts: list[tuple[str, Text]] = []
    if unknown:
        listed = _join([f"{ip} ({'/'.join(macs)})" for ip, macs in unknown.items()])
        parts.append(("l2.unlisted_machines", Text(
            f"{len(unknown)} machine(s) on the exam LAN are not in the site file: {listed}",
            f"考场局域网内有 {len(unknown)} 台机器未写入站点文件：{listed}")))
    if foreign:
        listed = _join([f"{ip} (MAC {'/'.join(macs)})" for ip, macs in foreign.items()])
        parts.append(("l2.foreign_addresses", Text(
            f"machine(s) on the exam LAN use addresses outside {m['subnet']}: {listed}",
            f"考场局域网内有机器使用 {m['subnet']} 以外的地址：{listed}")))
    action = Text("identify each one: add the exam's own devices to the site file and take "
                  "anything else off the exam LAN",
                  "请逐一确认：考试用设备请写入站点文件，其他设备请移出考场局域网")
    return ProbeOutcome(Status.WARN, Text(
        "; ".join(t.en for _, t in parts) + ". Identify each one: add the exam's own devices "
        "to the site file and take anything else off the exam LAN",
        "；".join(t.zh for _, t in parts) + "。" + action.zh),
        measured, findings=[Finding(code, text, action) for code, text in parts])


def judge_broadcast_domain(sweep: CheckResult | None, results: list[CheckResult],
                           params: dict[str, Any]) -> ProbeOutcome:
    """LAN-SUBNET: the proctor, the exam server(s) and the seats answer ARP, so they share
    this computer's broadcast domain (no router between them).

    params: hosts [{label, address, mac (configured or None), reach_id}].
    A host that answers ping (or a TCP port) but not ARP is reached through a router;
    a host whose known MAC speaks from an address outside the subnet is mis-addressed.
    """
    problem = _sweep_problem(sweep)
    if problem:
        return problem
    assert sweep is not None
    m = sweep.measured
    by_id = {r.check_id: r for r in results}
    previous = params.get("previous_macs") or {}
    adjacent, routed, outside, silent = [], [], [], []
    for host in params.get("hosts", []):
        label, address = host["label"], host["address"]
        if _macs_at(m, address):
            adjacent.append(label)
            continue
        reach = by_id.get(host.get("reach_id", ""))
        rm = reach.measured if reach else {}
        if (rm.get("received") or 0) > 0 or "open" in (rm.get("ports") or {}).values():
            routed.append(label)
            continue
        found = found_elsewhere(m, [host.get("mac"), previous.get(address)],
                                list(host.get("typos") or []))
        if found and found[0] not in m.get("hosts", {}):
            outside.append((label, address, found[0], found[2]))
        else:
            silent.append(label)
    measured = {"adjacent": len(adjacent), "configured": len(params.get("hosts", [])),
                "routed": routed, "outside_subnet": [o[0] for o in outside], "silent": silent}
    subnet = m["subnet"]
    subject_of = {h["label"]: h.get("subject") for h in params.get("hosts", [])}
    issues_en, issues_zh = [], []
    findings: list[Finding] = []
    if routed:
        issues_en.append(f"{_join(routed)} answer ping but not ARP: they are reached through "
                         "a router, not on this LAN. Connect them to the exam switch (same "
                         "VLAN) as the proctor PC")
        issues_zh.append(f"{_join(routed)} 回应 ping 但不回应 ARP：它们经路由器转发，"
                         "不在本局域网内。请把它们接到与监考机相同的考场交换机（同一 VLAN）")
        for label in routed:
            findings.append(Finding(
                "l2.routed",
                Text("answers ping but not ARP: reached through a router, not on this LAN",
                     "回应 ping 但不回应 ARP：经路由器转发，不在本局域网内"),
                Text("connect it to the exam switch (same VLAN) as the proctor PC",
                     "请把它接到与监考机相同的考场交换机（同一 VLAN）"),
                _as_subject(subject_of.get(label))))
    for label, address, ip, how in outside:
        text, finding = wrong_address(label, label.replace("seat ", "考位 ", 1), address,
                                      subnet, ip, how, _as_subject(subject_of.get(label)))
        issues_en.append(text.en)
        issues_zh.append(text.zh)
        findings.append(finding)
    silent_en = (f"; {len(silent)} did not answer at all (see their reachability results)"
                 if silent else "")
    silent_zh = f"；{len(silent)} 台完全无应答（见其连通性结果）" if silent else ""
    if issues_en:
        return ProbeOutcome(Status.FAIL, Text("; ".join(issues_en) + silent_en,
                                              "；".join(issues_zh) + silent_zh), measured,
                            findings=findings)
    return ProbeOutcome(Status.PASS, Text(
        f"{len(adjacent)} of {len(params.get('hosts', []))} configured hosts answer ARP on "
        f"{subnet}: they share one LAN with this computer, no router between{silent_en}",
        f"{len(params.get('hosts', []))} 台已配置主机中 {len(adjacent)} 台在 {subnet} 内应答 ARP："
        f"与本机处于同一局域网，中间无路由器{silent_zh}"), measured)


def _as_subject(value: Any) -> Subject | None:
    return value if isinstance(value, Subject) else None


def judge_dhcp(sweep: CheckResult | None, params: dict[str, Any]) -> ProbeOutcome:
    """No DHCP server answers on the exam LAN except the room's own (params dhcp_server,
    None for a room with fixed addresses)."""
    problem = _sweep_problem(sweep)
    if problem:
        return problem
    assert sweep is not None
    m = sweep.measured
    if not m.get("dhcp_sent"):
        text = Text("DHCP discovery was switched off for this run", "本次检查未进行 DHCP 探测")
        return ProbeOutcome(Status.SKIP, text, findings=[Finding(
            "l2.dhcp_not_tried", text,
            Text("run the check with DHCP discovery to look for rogue DHCP servers",
                 "请在开启 DHCP 探测的情况下重新检查，以发现私设 DHCP 服务器"))])
    ours = params.get("dhcp_server")
    offers: list[dict[str, Any]] = m.get("dhcp_offers", [])
    window = m.get("dhcp_window_s")

    def server(o: dict[str, Any]) -> str:
        return str(o.get("server_id") or o.get("server_ip"))

    rogue = [o for o in offers if server(o) != ours and o.get("server_ip") != ours]
    measured = {"dhcp_server": ours, "servers": sorted({server(o) for o in offers}),
                "rogue": rogue}
    if rogue:
        parts_en, parts_zh = [], []
        expected_en = (f"the room's own is {ours}" if ours
                       else "this room uses fixed addresses and needs none")
        expected_zh = (f"本考场的 DHCP 服务器是 {ours}" if ours
                       else "本考场使用固定地址，不应有 DHCP 服务器")
        findings = []
        for o in rogue:
            mask = f"/{o['subnet_mask']}" if o.get("subnet_mask") else ""
            gw = _join(o.get("router") or []) or "none"
            parts_en.append(f"{server(o)} (MAC {o['server_mac']}) offers {o['offered']}{mask}, "
                            f"gateway {gw}")
            parts_zh.append(f"{server(o)}（MAC {o['server_mac']}）分配 {o['offered']}{mask}，"
                            f"网关 {gw}")
            findings.append(Finding(
                "l2.rogue_dhcp",
                Text(f"rogue DHCP server {parts_en[-1]} ({expected_en})",
                     f"私设 DHCP 服务器 {parts_zh[-1]}（{expected_zh}）"),
                Text(f"unplug the rogue DHCP server at {server(o)} or turn its DHCP off (find "
                     f"it by its MAC {o['server_mac']}: often a home router or a PC sharing "
                     "its connection)",
                     f"请拔掉 {server(o)} 上的私设 DHCP 服务器或关闭其 DHCP（按 MAC "
                     f"{o['server_mac']} 查找：常见为家用路由器或开启网络共享的电脑）")))
        return ProbeOutcome(Status.FAIL, Text(
            f"rogue DHCP server on the exam LAN ({expected_en}): {'; '.join(parts_en)}. A PC "
            "that takes such an address loses the exam network. Find the device by its MAC "
            "(often a home router or a PC sharing its connection), unplug it or turn its DHCP "
            "off",
            f"考场局域网内有私设 DHCP 服务器（{expected_zh}）：{'；'.join(parts_zh)}。"
            "电脑一旦获得此类地址即会断开考试网络。请按 MAC 找到该设备（常见为家用路由器或"
            "开启网络共享的电脑），拔掉它或关闭其 DHCP"), measured, findings=findings)
    if ours and not offers:
        what = Text(f"the room's own DHCP server {ours} did not answer within {window} s (it "
                    "may serve only known PCs)",
                    f"本考场的 DHCP 服务器 {ours} 在 {window} 秒内未应答"
                    "（可能只为已登记的电脑服务）")
        return ProbeOutcome(Status.WARN, Text(
            f"no other DHCP server answers, but the room's own DHCP server {ours} did not "
            f"answer either within {window} s (it may serve only known PCs): check it",
            f"没有其他 DHCP 服务器应答，但本考场的 DHCP 服务器 {ours} 在 {window} 秒内也未应答"
            "（可能只为已登记的电脑服务）：请检查"), measured, findings=[Finding(
                "l2.own_dhcp_silent", what,
                Text(f"check that the DHCP server at {ours} is running",
                     f"请确认 {ours} 上的 DHCP 服务器正在运行"))])
    if ours:
        return ProbeOutcome(Status.PASS, Text(
            f"only the room's DHCP server {ours} answers", f"只有本考场的 DHCP 服务器 {ours} 应答"),
            measured)
    return ProbeOutcome(Status.PASS, Text(
        f"no DHCP server answers on the exam LAN (waited {window} s): right for a room with "
        "fixed addresses",
        f"考场局域网内无 DHCP 服务器应答（等待 {window} 秒）：符合固定地址考场的要求"), measured)


# ---------------------------------------------------------------- derived checks


def _sweep_of(results: list[CheckResult], params: dict[str, Any]) -> CheckResult | None:
    return next((r for r in results if r.check_id == params["sweep_id"]), None)


def host(results: list[CheckResult], params: dict[str, Any]) -> ProbeOutcome:
    return judge_host(_sweep_of(results, params), params)


def duplicates(results: list[CheckResult], params: dict[str, Any]) -> ProbeOutcome:
    return judge_duplicates(_sweep_of(results, params), params)


def unknown(results: list[CheckResult], params: dict[str, Any]) -> ProbeOutcome:
    return judge_unknown(_sweep_of(results, params), params)


def broadcast_domain(results: list[CheckResult], params: dict[str, Any]) -> ProbeOutcome:
    return judge_broadcast_domain(_sweep_of(results, params), results, params)


def dhcp(results: list[CheckResult], params: dict[str, Any]) -> ProbeOutcome:
    return judge_dhcp(_sweep_of(results, params), params)


def sweep(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """The sweep itself: what answered is the evidence the room's layer-2 checks judge
    (layer2.host, .duplicates, .unknown, ...). It passes when it could look, and says
    so when it could not (no raw-socket rights: a warn that proves nothing)."""
    return outcome


OUTCOME_JUDGES: dict[str, OutcomeJudge] = {"layer2.sweep": sweep}
RESULTS_JUDGES: dict[str, ResultsJudge] = {
    "layer2.host": host,
    "layer2.duplicates": duplicates,
    "layer2.unknown": unknown,
    "layer2.broadcast_domain": broadcast_domain,
    "layer2.dhcp": dhcp,
}
