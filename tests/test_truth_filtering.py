"""No pass without proof for the filter features (issue 11, points 1 and 3).

A feature passes only on an attempt that isolates it: the lab tests build rooms whose
router has, or has not, a keyword filter and check what a seat's audit proves; the unit
tests judge recorded attempts (no traffic)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import probe_params
import pytest

from probes import url_filter
from readiness.judges import filtering as judges
from readiness.judges.filter_evidence import features
from readiness.results import NOT_PROOF, CheckResult, ProbeOutcome, Status, Text
from readiness.subject import Kind, Subject

REPO = Path(__file__).resolve().parents[1]


def _judged(measured: dict[str, Any]) -> ProbeOutcome:
    return judges.audit(ProbeOutcome(Status.PASS, Text("m", "m"), measured), {})


def _att(technique: str, blocked_by: str = "", leak: bool = False, **extra: Any) -> dict:
    return {"technique": technique, "target": "http://games.example/",
            "request": f"{technique} request", "result": "r", "leak": leak,
            "blocked_by": blocked_by, **extra}


# -- judged on recorded attempts ------------------------------------------------------------


def test_a_path_stopped_with_its_whole_address_proves_no_keyword_filter() -> None:
    # the case: path variants on an address the router drops entirely
    attempts = [_att("path_variant", "silent_drop", inconclusive=True),
                _att("path", "silent_drop", inconclusive=True)]
    ev = features({"attempts": attempts})
    assert ev["keyword"].result == "not_verified"
    proven = features({"attempts": [*attempts, _att("keyword", "http_block_page",
                                                    control="control GET / -> 200")]})
    assert proven["keyword"].result == "pass"
    assert "control GET / -> 200" in proven["keyword"].lines()[0]


def test_a_random_subdomain_nobody_registered_proves_no_wildcard() -> None:
    nx = _att("subdomain", "dns_nxdomain", inconclusive=True)
    assert features({"attempts": [nx]})["url_wildcard"].result == "not_verified"
    known = _att("subdomain", "dns_nxdomain", control="control resolver: www.games.example A")
    assert features({"attempts": [nx, known]})["url_wildcard"].result == "pass"


def test_a_real_aaaa_beside_a_filtered_a_is_a_dns_leak() -> None:
    a = _att("dns", "dns_nxdomain", request="DNS A games.example @198.18.10.1 (UDP)")
    aaaa = _att("dns", request="DNS AAAA games.example @198.18.10.1 (UDP)",
                answered=["2001:db8:100::20"])
    ev = features({"attempts": [a, aaaa]})
    assert ev["dns"].result == "fail"
    assert ev["dns"].dns_leaks == ["games.example AAAA 2001:db8:100::20"]


def test_an_ipv6_leak_is_named_as_ipv6() -> None:
    leak = _att("ipv6", leak=True, address="2001:db8:100::20",
                request="GET http://[2001:db8:100::20]/ Host: games.example")
    out = _judged({"attempts": [leak, _att("direct_ip", "silent_drop")], "ipv6_route": True,
                   "vantage_is_seat": True, "exam": [], "blocked": []})
    assert out.status == Status.FAIL
    assert ("the router filters IPv4 only; games.example answers over IPv6 at "
            "2001:db8:100::20") in out.message.en
    assert "IPv6" in out.message.zh
    assert out.measured["features"]["ipv6"] == "fail"
    assert out.measured["features"]["ip"] == "fail"


def test_every_feature_lists_the_attempts_that_decided_it() -> None:
    out = _judged({"attempts": [_att("direct_ip", "silent_drop")], "vantage_is_seat": True,
                   "exam": [], "blocked": []})
    assert out.measured["feature_attempts"]["ip"] == ["direct_ip request -> r"]
    assert out.measured["features"]["keyword"] == "not_verified"


def test_a_seat_without_agent_gets_no_leaks_and_the_room_uses_measured_seats() -> None:
    absent = judges.seat_audit(ProbeOutcome(Status.WARN, Text("x", "x"), {
        "agent": "absent", "reason": "connection refused"}), {"label": "A09"})
    assert absent.status == Status.WARN and absent.measured[NOT_PROOF]
    assert "leaks" not in absent.measured and "attempts" not in absent.measured


# -- in the lab -----------------------------------------------------------------------------


def _lab_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "builds network namespaces: run as root"
    from readiness.lab import missing_prerequisites

    missing = missing_prerequisites()
    return f"lab prerequisites missing: {missing}" if missing else None


RUN = """
import asyncio, json, sys
from probes import url_filter
from probes.engines import target_guard
from readiness.agent.allow import AllowList
params = json.loads(sys.argv[1])
if sys.argv[2] == "control":
    print(json.dumps(asyncio.run(url_filter.learn_control(params["names"], params["resolvers"]))))
elif sys.argv[2] == "agent":
    # as the seat agent runs it: only what the agent's site file names may be contacted
    with target_guard.enforced(AllowList.of(json.loads(sys.argv[3])).allows):
        o = asyncio.run(url_filter.run(params, 30))
    print(json.dumps({"status": o.status.value, "measured": o.measured}))
else:
    o = asyncio.run(url_filter.run(params, 30))
    print(json.dumps({"status": o.status.value, "measured": o.measured}))
"""

AUDIT = {
    "exam_urls": ["http://exam.example/"],
    "blocked_urls": ["http://games.example/", "http://video.example/watch/clip"],
    "sinkhole_addresses": ["198.18.10.1"],
    "local_networks": ["198.18.10.0/24"],
    "subdomain_label": "rdy-truth",
}


def _in_ns(lab: Any, role: str, params: dict[str, Any], what: str,
           *more: str) -> Any:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(lab.exec_argv(role, [sys.executable, "-c", RUN, json.dumps(params),
                                               what, *more]),
                          capture_output=True, text=True, timeout=60, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _seat_audit(lab: Any, extra: dict[str, Any], control: bool = True) -> ProbeOutcome:
    params = {**AUDIT, **extra}
    answers = _in_ns(lab, "proctor", {"names": url_filter.control_names(params),
                                      "resolvers": ["198.51.100.53"]}, "control") \
        if control else {}
    out = _in_ns(lab, "seat-A01", probe_params.audit(**params, control_answers=answers),
                 "audit")
    return _judged(out["measured"])


def _room(keyword_filter: list[str]) -> Any:
    from readiness.lab import LabSpec

    return LabSpec(name="truth-room", seats=1, cameras=[], keyword_filter=keyword_filter)


@pytest.mark.lab
def test_a_router_without_keyword_filter_never_passes_keyword_filtering() -> None:
    reason = _lab_unavailable()
    if reason:
        pytest.skip(reason)
    from readiness.lab import running

    with running(_room([]), f"rdyt{os.getpid()}k") as lab:
        silent = _seat_audit(lab, {})
        told = _seat_audit(lab, {"keywords": ["games"]})
        blind = _seat_audit(lab, {}, control=False)
    # video.example's path is stopped only because its whole address is dropped
    assert silent.measured["features"]["keyword"] == "not_verified"
    lines = silent.measured["feature_attempts"]["keyword"]
    assert lines and all("(inconclusive)" in x for x in lines)
    # asked to carry a keyword, the exam site serves it: the keyword is not filtered
    assert told.measured["features"]["keyword"] == "fail"
    # www.games.example exists for the control resolver and is stopped at the seat
    assert silent.measured["features"]["url_wildcard"] == "pass"
    assert any("www.games.example" in x
               for x in silent.measured["feature_attempts"]["url_wildcard"])
    # without a control resolver, an NXDOMAIN for a subdomain proves nothing
    assert blind.measured["features"]["url_wildcard"] == "not_verified"


@pytest.mark.lab
def test_a_router_with_a_keyword_filter_passes_with_a_block_notice() -> None:
    reason = _lab_unavailable()
    if reason:
        pytest.skip(reason)
    from readiness.lab import running

    with running(_room(["games"]), f"rdyt{os.getpid()}f") as lab:
        out = _seat_audit(lab, {"keywords": ["games"]})
    assert out.measured["features"]["keyword"] == "pass", out.measured["feature_attempts"]
    line = out.measured["feature_attempts"]["keyword"][0]
    assert "exam.example/games" in line and "control GET" in line and "-> 200" in line
    assert out.measured["features"]["block_notice"] == "pass"
    # the exam site itself still loads through the filter
    assert all(e["ok"] for e in out.measured["exam"])


# -- a router that filters IPv4 only while the LAN has IPv6 (issue 11), a page title that is
# a script (issue 13) ----------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"


@pytest.mark.lab
def test_an_ipv6_leak_through_an_ipv4_only_router_is_named_and_its_title_is_text(
        tmp_path: Path) -> None:
    reason = _lab_unavailable()
    if reason:
        pytest.skip(reason)
    from readiness.lab import LabSpec, running
    from readiness.report import write_report
    from readiness.results import CheckResult, RunRecord, Verdict

    spec = LabSpec(name="v6-room", seats=1, cameras=[], ipv4_only_router_with_ipv6=True,
                   hostile_title_site="games.example")
    with running(spec, f"rdyt{os.getpid()}6") as lab:
        out = _seat_audit(lab, {"blocked_urls": ["http://games.example/"]})
        # nothing of the lab's IPv6 reaches this machine's own namespace
        host6 = subprocess.run(["ip", "-6", "addr"], capture_output=True, text=True,
                               check=True).stdout + subprocess.run(
            ["ip", "-6", "route"], capture_output=True, text=True, check=True).stdout
        # "the internet" has no route beyond the lab: any other IPv6 address is a dead end
        dead = subprocess.run(lab.exec_argv("seat-A01", ["ip", "-6", "route", "get",
                                                         "2001:db8:ffff::1"]),
                              capture_output=True, text=True, check=False)
        inet_routes = subprocess.run(lab.exec_argv("inet", ["ip", "-6", "route"]),
                                     capture_output=True, text=True, check=True).stdout
    assert "2001:db8" not in host6
    assert dead.returncode == 0 and "2001:db8:10::1" in dead.stdout  # via the router ...
    assert "blackhole default" in inet_routes or "blackhole ::/0" in inet_routes  # ... to here
    # the leak is named as IPv6, with the site and its address, not as an IP-filter fault
    assert out.status == Status.FAIL
    assert ("the router filters IPv4 only; games.example answers over IPv6 at "
            "2001:db8:51::20") in out.message.en, out.message.en
    assert "IPv6" in out.message.zh
    assert out.measured["features"]["ipv6"] == "fail"
    # the router's DNS filters A only: the real AAAA is a DNS leak
    assert out.measured["features"]["dns"] == "fail"
    v6 = [a for a in out.measured["attempts"] if a["technique"] == "ipv6" and a["leak"]]
    assert v6 and v6[0]["title"] == SCRIPT  # the page that loaded, in its own words
    # the report shows the network's title as text: no markup from the network
    now = datetime.now(UTC)
    result = CheckResult("WAN-POLICY", Text("filter", "过滤"),
                         Subject(Kind.SEAT, "A01", "lab", "198.18.10.101"),
                         "agent A01", out.status, out.message, out.measured, {}, None, now,
                         1.0, "WAN-POLICY/lab/A01")
    run = RunRecord("v6 room", "LAB", "cbec", Text("cert", "证书"), now, now,
                    Verdict.NOT_READY, [result], {"WAN-POLICY"})
    page = write_report(run, tmp_path, profile=None, pdf=False).html.read_text("utf-8")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.lab
def test_the_seats_own_aaaa_answer_is_tried_by_its_agent_as_a_browser_would() -> None:
    """The room's DNS sinkholes a blocked name's A record and hands out its real AAAA, the
    router forwards IPv6 unfiltered: run by the seat's agent, whose site file lists the
    blocked sample by name only, the audit tries that AAAA address and names the leak."""
    reason = _lab_unavailable()
    if reason:
        pytest.skip(reason)
    from readiness.lab import LabSpec, running

    spec = LabSpec(name="v6-agent", seats=1, cameras=[], ipv4_only_router_with_ipv6=True)
    params = probe_params.audit(**{**AUDIT, "blocked_urls": ["http://games.example/"]})
    # what the agent's site file names: the room, the exam and blocked samples by name
    allow = ["198.18.10.0/24", "http://exam.example/", "http://games.example/"]
    with running(spec, f"rdyt{os.getpid()}a") as lab:
        out = _judged(_in_ns(lab, "seat-A01", params, "agent", json.dumps(allow))["measured"])
    v6 = [a for a in out.measured["attempts"] if a["technique"] == "ipv6"]
    assert v6 and v6[0]["address"] == "2001:db8:51::20", out.measured["attempts"]
    assert out.status == Status.FAIL
    assert "games.example answers over IPv6 at 2001:db8:51::20" in out.message.en
    assert "not tried" not in " ".join(a["result"] for a in v6)


@pytest.mark.lab
def test_a_seat_without_agent_has_no_leaks_in_a_check_of_the_room(tmp_path: Path) -> None:
    """`readiness check` of a small room whose A02 has no agent: the proctor may go out,
    so an audit from its address would show leaks; none may be put on A02."""
    reason = _lab_unavailable()
    if reason:
        pytest.skip(reason)
    import yaml

    from readiness.lab import LabSpec, running

    spec = LabSpec(name="no-agent-room", seats=2, cameras=[],
                   faults=[{"kind": "no_agent", "seat": "A02"},
                           {"kind": "blocked_site_open_by_ip", "site": "games.example"}])
    with running(spec, f"rdyt{os.getpid()}n") as lab:
        site = yaml.safe_load(lab.site_file.read_text())
        site["rooms"][0]["seats"] = {"A01-A02": "198.18.10.101-102"}
        site["rooms"][0]["cameras"] = []
        path = tmp_path / "site.yaml"
        path.write_text(yaml.safe_dump(site, allow_unicode=True))
        out = tmp_path / "r.json"
        proc = subprocess.run(
            lab.exec_argv("proctor", [sys.executable, "-m", "readiness", "check", str(path),
                                      "--only", "WAN-POLICY,FILTER-FEATURES", "--json",
                                      str(out), "--lang", "en", "-v"]),
            capture_output=True, text=True, timeout=240, cwd=REPO, check=False)
    assert out.exists(), proc.stderr[-2000:]
    rows = [r for r in json.loads(out.read_text())["results"]
            if r["requirement"] in ("WAN-POLICY", "FILTER-FEATURES")]
    a02 = [r for r in rows if r["subject"]["name"] == "A02"]
    assert a02, [r["target"] for r in rows]
    for row in a02:
        assert row["status"] in ("warn", "skip"), row
        assert "not verified from this seat" in row["message"], row["message"]
        assert not row["measured"].get("leaks") and not row["measured"].get("attempts")
    # the seat that was measured still shows the room's real leak (games.example by address)
    a01 = [r for r in rows if r["requirement"] == "WAN-POLICY" and r["subject"]["name"] == "A01"]
    assert a01 and a01[0]["status"] == "fail", a01
    assert "games.example" in a01[0]["message"]


# -- resolution is not reach (issue 19) -----------------------------------------------------

DOH = _att("doh", leak=True, request="DNS A games.example @https://198.51.100.53/dns-query (DoH)",
           result="198.51.100.20")
OPEN_RESOLVER = _att("resolver", leak=True, request="DNS A games.example @198.51.100.53 (UDP)",
                     result="198.51.100.20")
# the answered address, tried with the name: reset at the ClientHello, so no content
STOPPED_THERE = _att("direct_ip", "tls_reset", address="198.51.100.20",
                     request="GET https://198.51.100.20/ SNI: games.example")


def test_an_answer_from_a_doh_endpoint_or_open_resolver_is_a_dns_bypass_not_a_site_leak(
) -> None:
    out = _judged({"attempts": [DOH, OPEN_RESOLVER, STOPPED_THERE], "vantage_is_seat": True,
                   "exam": [], "blocked": [], "bypass_resolvers": ["198.51.100.53"],
                   "audit": "url_filter"})
    assert out.status == Status.WARN, out.message.en
    assert "must be blocked got through" not in out.message.en
    assert "no blocked site loads" in out.message.en
    assert "DNS filtering is bypassed: DoH endpoint: DNS A games.example @https://" \
        in out.message.en
    assert "open resolver: DNS A games.example @198.51.100.53" in out.message.en
    assert [f.code for f in out.findings] == ["filter.dns_bypass"]
    # FILTER-FEATURES names it as DNS filtering bypassed, never as A versus AAAA
    result = CheckResult("WAN-POLICY", Text("t", "t"), Subject(Kind.SEAT, "A01", "lab"),
                         "agent A01", out.status, out.message, out.measured, {}, None,
                         datetime.now(UTC), 1.0, "WAN-POLICY/lab/A01")
    dns = judges.feature([result], {"room_id": "lab", "feature": "dns", "reach_id": "x"})
    assert dns.status == Status.FAIL
    assert "DNS filtering is bypassed: DoH endpoint" in dns.message.en, dns.message.en
    assert "AAAA" not in dns.message.en + dns.message.zh


def test_the_site_leaks_when_it_then_loads_from_the_answered_address() -> None:
    loads = _att("direct_ip", leak=True, address="198.51.100.20",
                 request="GET http://198.51.100.20/ Host: games.example", result="200")
    out = _judged({"attempts": [DOH, loads], "vantage_is_seat": True, "exam": [],
                   "blocked": []})
    assert out.status == Status.FAIL
    assert "1 request(s) that must be blocked got through: GET http://198.51.100.20/" \
        in out.message.en


def test_a_aaaa_answer_in_a_room_without_ipv6_never_asks_to_filter_both_a_and_aaaa() -> None:
    a = _att("dns", "dns_nxdomain", request="DNS A games.example @198.18.10.1 (UDP)")
    aaaa = _att("dns", request="DNS AAAA games.example @198.18.10.1 (UDP)",
                answered=["2001:db8:51::20"])
    for v6, said in ((False, False), (True, True)):
        out = _judged({"attempts": [a, aaaa], "vantage_is_seat": True, "exam": [],
                       "blocked": [], "ipv6_route": v6, "audit": "url_filter"})
        result = CheckResult("WAN-POLICY", Text("t", "t"), Subject(Kind.SEAT, "A01", "lab"),
                             "agent A01", out.status, out.message, out.measured, {}, None,
                             datetime.now(UTC), 1.0, "WAN-POLICY/lab/A01")
        dns = judges.feature([result], {"room_id": "lab", "feature": "dns", "reach_id": "x"})
        assert dns.status == Status.FAIL
        words = dns.message.en + " ".join(f.action.en for f in dns.findings)
        assert ("A and AAAA" in words) is said, (v6, words)


# -- HTTPS and HTTP whatever the site file writes (issue 19) --------------------------------


@pytest.mark.lab
def test_a_router_that_filters_http_by_host_but_lets_https_through_fails_naming_https(
) -> None:
    """The site file writes the blocked sample http://games.example/; the router stops
    HTTP by its Host header with a block page and lets HTTPS through: a candidate's
    browser, which goes to https:// first, loads the site. The leak names the scheme,
    the address family and the address."""
    reason = _lab_unavailable()
    if reason:
        pytest.skip(reason)
    from readiness.lab import LabSpec, running

    spec = LabSpec(name="https-hole", seats=1, cameras=[], blocked_sites_filter="http_host")
    with running(spec, f"rdyt{os.getpid()}h") as lab:
        out = _seat_audit(lab, {"blocked_urls": ["http://games.example/"]})
    attempts = out.measured["attempts"]
    http = [a for a in attempts if a["technique"] == "plain" and a.get("scheme") == "http"]
    assert http and http[0]["blocked_by"] == "http_block_page", attempts
    assert out.status == Status.FAIL, out.message.en
    assert "GET https://games.example/ (198.51.100.20)" in out.message.en, out.message.en
    assert "[HTTPS, IPv4 198.51.100.20]" in out.message.en
    leak = next(a for a in attempts if a["leak"])
    assert (leak["scheme"], leak["family"], leak["address"]) == (
        "https", "IPv4", "198.51.100.20")
    assert leak["target"] == "http://games.example/"  # as the site file writes it


@pytest.mark.lab
def test_a_router_that_resets_tls_on_the_sni_passes_with_its_control() -> None:
    reason = _lab_unavailable()
    if reason:
        pytest.skip(reason)
    from readiness.lab import LabSpec, running

    spec = LabSpec(name="sni-reset", seats=1, cameras=[],
                   blocked_sites_filter="http_host_tls_sni")
    with running(spec, f"rdyt{os.getpid()}s") as lab:
        out = _seat_audit(lab, {"blocked_urls": ["http://games.example/"]})
    attempts = out.measured["attempts"]
    assert out.status in (Status.PASS, Status.WARN), out.message.en
    assert not [a for a in attempts if a["leak"]], attempts
    tls = [a for a in attempts if a.get("scheme") == "https" and a["technique"] == "plain"]
    assert tls and tls[0]["blocked_by"] == "tls_sni_reset", attempts
    assert "SNI games.example" in tls[0]["result"]
    # the control: the same handshake to the allowed exam site through the same router
    assert tls[0]["control"].startswith(
        "control TLS handshake to the allowed site exam.example (198.51.100.10:443) -> "
        "completed"), tls[0]
    assert not tls[0].get("inconclusive")
    assert "TLS reset on the SNI" in out.message.en


@pytest.mark.lab
def test_a_router_that_answers_https_with_its_own_certificate_shows_a_block_page() -> None:
    """HTTPS to a blocked site is answered by the router itself: its own certificate
    (for exam-router, not games.example), so the browser warns, and past the warning its
    block page. Stopped, and named as such, not as a leak."""
    reason = _lab_unavailable()
    if reason:
        pytest.skip(reason)
    from readiness.lab import LabSpec, running

    spec = LabSpec(name="router-cert", seats=1, cameras=[],
                   blocked_sites_filter="http_host_tls_router_cert")
    with running(spec, f"rdyt{os.getpid()}c") as lab:
        out = _seat_audit(lab, {"blocked_urls": ["http://games.example/"]})
    attempts = out.measured["attempts"]
    assert not [a for a in attempts if a["leak"]], attempts
    tls = [a for a in attempts if a.get("scheme") == "https" and a["technique"] == "plain"]
    assert tls and tls[0]["blocked_by"] == "tls_block_page", attempts
    assert "certificate for exam-router" in tls[0]["result"], tls[0]
    assert "completed" in tls[0]["control"]
    assert "block page after a certificate warning" in out.message.en
    assert out.measured["features"]["block_notice"] == "pass"
