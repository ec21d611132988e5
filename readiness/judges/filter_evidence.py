"""Which filter features one url_filter audit proves, from the attempts it recorded.

A feature passes only on an attempt that isolates it (the way OONI's web_connectivity
decides "blocked": a control measurement beside the test): a keyword stopped while the
same site's own URL loads, a subdomain stopped that the control resolver knows, a real
address refused when asked directly, a name the control resolver answers filtered for
both A and AAAA. An attempt the probe marked `inconclusive` (it cannot tell the filter
from the target's own absence) never makes a feature pass; a feature with only such
attempts is "not verified". Each feature lists the attempts that decided it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASS, FAIL, NOT_VERIFIED, NOT_SHOWN, NOT_APPLICABLE = (
    "pass", "fail", "not_verified", "not_shown", "not_applicable")

TECHNIQUES = {
    "ip": ("direct_ip", "plain", "icmp"),
    "dns": ("dns", "resolver", "doh"),
    "url_wildcard": ("subdomain",),
    "keyword": ("keyword", "path", "path_variant"),
    "ipv6": ("ipv6",),
}
NOTICE = ("http_block_page", "http_redirect", "tls_block_page")


@dataclass
class FeatureEvidence:
    result: str
    deciding: list[dict[str, Any]] = field(default_factory=list)
    dns_leaks: list[str] = field(default_factory=list)  # "name AAAA 2001:db8::20"

    def lines(self) -> list[str]:
        return [attempt_line(a) for a in self.deciding]


def attempt_line(att: dict[str, Any]) -> str:
    line = f"{att.get('request', '?')} -> {att.get('result', '?')}"
    if att.get("inconclusive"):
        line += " (inconclusive)"
    if att.get("control"):
        line += f" [{att['control']}]"
    return line


def _decide(atts: list[dict[str, Any]]) -> FeatureEvidence:
    leaks = [a for a in atts if a.get("leak")]
    if leaks:
        return FeatureEvidence(FAIL, leaks)
    stopped = [a for a in atts if a.get("blocked_by") and not a.get("inconclusive")]
    if stopped:
        return FeatureEvidence(PASS, stopped)
    return FeatureEvidence(NOT_VERIFIED, atts)


def _dns(atts: list[dict[str, Any]]) -> FeatureEvidence:
    bypass = [a for a in atts if a.get("technique") != "dns"]
    seat = [a for a in atts if a.get("technique") == "dns"]
    leaks = [a for a in bypass if a.get("leak")]
    # a name filtered for one record type and answered for the other: a DNS leak
    by_target: dict[str, list[dict[str, Any]]] = {}
    for a in seat:
        by_target.setdefault(str(a.get("target")), []).append(a)
    half: list[dict[str, Any]] = []
    for group in by_target.values():
        # filtered for certain: a name with no AAAA anywhere (inconclusive) is no filter
        if any(a.get("blocked_by") and not a.get("inconclusive") for a in group):
            half += [a for a in group if a.get("answered")]
    if leaks or half:
        ev = FeatureEvidence(FAIL, leaks + half)
        ev.dns_leaks = [f"{a['request'].split()[2]} {a['request'].split()[1]} "
                        f"{', '.join(a['answered'])}" for a in half]
        return ev
    if seat and not any(a.get("blocked_by") and not a.get("inconclusive") for a in seat):
        return FeatureEvidence(NOT_SHOWN, seat)  # names resolve: blocking by address only
    stopped = [a for a in seat if a.get("blocked_by") and not a.get("inconclusive")]
    if stopped:
        return FeatureEvidence(PASS, stopped + [a for a in bypass if a.get("blocked_by")])
    return FeatureEvidence(NOT_VERIFIED, seat + bypass)


def features(measured: dict[str, Any]) -> dict[str, FeatureEvidence]:
    """Every feature's result from one audit's measured figures."""
    attempts = [a for a in measured.get("attempts", []) if isinstance(a, dict)]
    by: dict[str, list[dict[str, Any]]] = {}
    for a in attempts:
        by.setdefault(str(a.get("technique")), []).append(a)

    def of(name: str) -> list[dict[str, Any]]:
        return [a for t in TECHNIQUES[name] for a in by.get(t, [])]

    out = {name: _decide(of(name)) for name in ("url_wildcard", "keyword")}
    # a blocked site reached over IPv6 is IP filtering that does not hold as well
    out["ip"] = _decide(of("ip") + [a for a in of("ipv6") if a.get("leak")])
    out["dns"] = _dns(of("dns"))
    out["ipv6"] = (_decide(of("ipv6")) if measured.get("ipv6_route")
                   else FeatureEvidence(NOT_APPLICABLE))
    notices = [a for a in attempts if a.get("blocked_by") in NOTICE
               and not a.get("inconclusive")]
    out["block_notice"] = FeatureEvidence(PASS, notices) if notices \
        else FeatureEvidence(NOT_SHOWN)
    return out


def ipv6_leak_text(att: dict[str, Any]) -> tuple[str, str]:
    """An IPv6 leak named as one: the router filters IPv4 only."""
    host = str(att.get("target", "")).split("//")[-1].split("/")[0] or "this site"
    address = att.get("address") or "?"
    scheme = str(att.get("scheme") or "").upper()
    over_en, over_zh = (f" over {scheme}", f"（{scheme}）") if scheme else ("", "")
    return (f"the router filters IPv4 only; {host} answers over IPv6 at {address}{over_en}",
            f"路由器只过滤 IPv4；{host} 可通过 IPv6 地址 {address} 访问{over_zh}")
