"""HTTPS the way a browser reaches a blocked site (issue 19): both schemes, the leak named by
scheme, family and address, and each HTTPS stop told apart. Loopback only: real TLS servers
in the test, with certificates made here (readiness.lab.tls); the lab rooms are in
tests/test_truth_filtering.py."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import probe_params
import pytest

from probes import url_filter
from probes.engines import http_fetch
from readiness.judges.filter_evidence import features
from readiness.judges.filtering import audit as audit_judge
from readiness.lab.keyword_filter import client_hello_sni, names_blocked
from readiness.lab.tls import site_certificate
from readiness.results import ProbeOutcome, Status, Text

BLOCK = b"<html><head><title>Access denied</title></head><body>blocked by the router</body></html>"
SITE = b"<html><head><title>Games</title></head><body>play</body></html>"


def test_a_blocked_sample_is_tried_over_both_schemes_on_their_default_ports() -> None:
    t = url_filter.Target.parse("http://games.example/watch?x=1")
    assert [(x.scheme, x.port, x.url) for x in t.browser_schemes()] == [
        ("http", 80, "http://games.example/watch?x=1"),
        ("https", 443, "https://games.example/watch?x=1")]
    s = url_filter.Target.parse("https://games.example/")
    assert [x.scheme for x in s.browser_schemes()] == ["https", "http"]
    # a port of its own is no browser's default for the other scheme; tcp has none
    assert len(url_filter.Target.parse("http://games.example:8080/").browser_schemes()) == 1
    assert len(url_filter.Target.parse("tcp://games.example:25").browser_schemes()) == 1


def test_the_sni_of_a_real_client_hello_is_read() -> None:
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="www.games.example")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    hello = outgoing.read()
    assert client_hello_sni(hello) == "www.games.example"
    assert names_blocked("www.games.example", ["games.example"])
    assert not names_blocked("notgames.example", ["games.example"])
    assert client_hello_sni(b"GET / HTTP/1.1\r\n\r\n") is None
    assert client_hello_sni(hello[:20]) is None  # cut short


def test_a_certificate_names_its_host_or_not(tmp_path: Path) -> None:
    cert, _ = site_certificate(tmp_path, "games.example")
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    der = x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(
        serialization.Encoding.DER)
    facts = http_fetch.certificate_facts(der)
    assert facts["names"] == ["games.example"] and facts["issuer_cn"] == "games.example"
    assert len(facts["sha256"]) == 64
    assert http_fetch.certificate_names_host(facts, "games.example")
    assert not http_fetch.certificate_names_host(facts, "www.games.example")
    assert http_fetch.certificate_names_host({"names": ["*.games.example"]}, "m.games.example")
    assert not http_fetch.certificate_names_host({"names": ["*.games.example"]}, "games.example")


# -- real TLS servers on loopback -------------------------------------------------------------


def _tls_server(tmp_path: Path, cert_name: str, body: bytes | None,
                ) -> Iterator[int]:
    """A TLS server whose certificate is for `cert_name`, answering every request with
    `body`; body None: it accepts the connection and never answers the ClientHello."""
    cert, key = site_certificate(tmp_path, cert_name)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            if body is None:
                held.append(conn)  # silent: the ClientHello gets no answer
                continue
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(65536)
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
                                + body)
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        listener.close()


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[int]:
    yield from _tls_server(tmp_path, *request.param)


def _judged_fetch(port: int, host: str = "games.example") -> url_filter.Attempt:
    params = url_filter._Params.parse(probe_params.audit(
        blocked_urls=[f"https://{host}:{port}/"], connect_timeout_s=1, read_timeout_s=1))
    audit = url_filter._Audit(params, 10)
    target = url_filter.Target.parse(f"https://{host}:{port}/")

    async def go() -> Any:
        return await audit.fetch(f"https://127.0.0.1:{port}/", "127.0.0.1", host,
                                 past_warning=True)
    return audit.judge_blocked_fetch(asyncio.run(go()), target, "plain")


@pytest.mark.parametrize("server", [("exam-router", BLOCK)], indirect=True)
def test_the_routers_certificate_and_its_block_page_past_the_warning(server: int) -> None:
    att = _judged_fetch(server)
    assert att.blocked_by == "tls_block_page" and not att.leak
    assert "certificate warning" in att.result and "certificate for exam-router" in att.result


@pytest.mark.parametrize("server", [("exam-router", SITE)], indirect=True)
def test_the_routers_own_certificate_is_no_way_to_the_site_whatever_it_serves(
        server: int) -> None:
    att = _judged_fetch(server)
    assert att.blocked_by == "tls_router_cert" and not att.leak


@pytest.mark.parametrize("server", [("games.example", SITE)], indirect=True)
def test_the_sites_own_certificate_and_page_past_a_warning_is_a_leak(server: int) -> None:
    att = _judged_fetch(server)
    assert att.leak and att.title == "Games"
    assert "behind a certificate warning" in att.note


@pytest.mark.parametrize("server", [("games.example", None)], indirect=True)
def test_a_client_hello_without_answer_is_a_drop_naming_the_sni(server: int) -> None:
    att = _judged_fetch(server)
    assert att.blocked_by == "tls_sni_drop"
    assert att.result == "no answer to the TLS ClientHello (SNI games.example)"


# -- the verdict's words ------------------------------------------------------------------------


def _att(technique: str, scheme: str, blocked_by: str = "", leak: bool = False,
         **extra: Any) -> dict[str, Any]:
    return {"technique": technique, "target": "http://games.example/", "scheme": scheme,
            "family": "IPv4", "address": "198.51.100.20",
            "request": f"GET {scheme}://games.example/ (198.51.100.20)",
            "result": "200 (163 bytes)" if leak else "stopped", "leak": leak,
            "blocked_by": blocked_by, **extra}


def test_an_https_leak_beside_a_stopped_http_names_https_and_says_http_only() -> None:
    out = audit_judge(ProbeOutcome(Status.PASS, Text("m", "m"), {
        "attempts": [_att("plain", "http", "http_block_page"), _att("plain", "https", leak=True)],
        "vantage_is_seat": True, "exam": [], "blocked": []}), {})
    assert out.status == Status.FAIL
    assert "GET https://games.example/ (198.51.100.20) -> 200 (163 bytes) " \
        "[HTTPS, IPv4 198.51.100.20]" in out.message.en
    assert "the router filters HTTP only" in out.message.en
    assert "HTTPS" in out.message.zh


def test_a_name_without_aaaa_anywhere_is_no_dns_leak_of_its_a_answer() -> None:
    """A router that does not filter DNS: the A is answered, the AAAA is NXDOMAIN for
    the control resolver too. That is no half-filtered name."""
    a = {"technique": "dns", "target": "http://games.example/",
         "request": "DNS A games.example @198.18.10.1 (UDP)", "result": "NOERROR",
         "answered": ["198.51.100.20"]}
    aaaa = {"technique": "dns", "target": "http://games.example/",
            "request": "DNS AAAA games.example @198.18.10.1 (UDP)", "result": "NXDOMAIN",
            "blocked_by": "dns_nxdomain", "inconclusive": True}
    assert features({"attempts": [a, aaaa]})["dns"].result == "not_shown"
    aaaa.pop("inconclusive")  # the control resolver has a AAAA: filtered for one type
    assert features({"attempts": [a, aaaa]})["dns"].result == "fail"


def test_the_lab_routers_that_filter_http_by_host_only_or_tls_too() -> None:
    """The rooms' rules (no root needed): by Host, HTTP to the blocked sites goes to the
    router's filter and HTTPS is let through; with the SNI filter or the router's own
    certificate, HTTPS is redirected to the router instead; by address, neither."""
    from readiness.lab import LabSpec, router
    from readiness.lab.topology import plan

    def rules(by: str) -> str:
        return router.nft_ruleset(plan(LabSpec(seats=2, blocked_sites_filter=by), "rdyx"))

    host = rules("http_host")
    assert "tcp dport 443 accept" in host and "tcp dport 80 redirect to :3128" in host
    assert "dport 443 redirect" not in host
    assert "tcp dport 443 redirect to :3129" in rules("http_host_tls_sni")
    assert "tcp dport 443 redirect to :443" in rules("http_host_tls_router_cert")
    by_address = rules("address")
    assert "redirect" not in by_address and "dport 443 accept" not in by_address
