"""The room's "internet": the exam website, blocked sample sites, a speed-test server,
a public DNS resolver (with a DNS-over-HTTPS front end) and an iperf3 server, all in one
namespace behind the router."""

from __future__ import annotations

from pathlib import Path

from . import daemons
from . import topology as t
from .services import ServiceDef
from .tls import site_certificate
from .topology import Topology

SITE_KINDS = {
    "exam.example": "exam",
    "games.example": "games",
    "video.example": "video",
    "speed.example": "speed",
}

# The public resolver also answers DNS-over-HTTPS on its own address, as the big public
# resolvers do: the filter audit tries it as a bypass of the room's DNS filter.
DOH_NAME = "doh.example"
DOH_URL = f"http://{DOH_NAME}/dns-query"

# The sites a browser reaches over HTTPS too (each with a certificate for its own name):
# the exam site (the control of an HTTPS stop) and the blocked samples.
HTTPS_SITES = ("exam.example", *t.BLOCKED_SITES)

# More sites the room must block, for audits of many targets: names hosted on the
# video site's server (shared hosting: many names, one address). The router knows
# nothing of them, so they resolve for a seat and are stopped by address only.
EXTRA_BLOCKED = tuple(f"blocked{n}.example" for n in range(1, 19))
EXTRA_BLOCKED_ADDRESS = t.SITES["video.example"]


def zone() -> dict[str, str]:
    """Every name the public resolver answers, with its address."""
    names = dict(t.SITES)
    names[DOH_NAME] = t.PUBLIC_RESOLVER
    names.update({name: EXTRA_BLOCKED_ADDRESS for name in EXTRA_BLOCKED})
    return names


def services(topo: Topology, folder: Path) -> list[ServiceDef]:
    ns = topo.ns("inet")
    v6 = topo.spec.ipv4_only_router_with_ipv6
    records = [f"address=/{name}/{address}" for name, address in zone().items()]
    sites = [(t.SITES[name], 80, kind) for name, kind in SITE_KINDS.items()]
    sites.append((t.PUBLIC_RESOLVER, 80, "doh"))
    if v6:
        # the blocked sites answer on IPv6 too, and the public resolver says so (AAAA)
        records += [f"address=/{name}/{address}" for name, address in t.SITES6.items()]
        sites += [(address, 80, SITE_KINDS[name]) for name, address in t.SITES6.items()]
    tls_sites = [(t.SITES[name], 443, SITE_KINDS[name]) for name in HTTPS_SITES]
    if v6:
        tls_sites += [(address, 443, SITE_KINDS[name]) for name, address in t.SITES6.items()]
    # shared hosting: the video site's certificate names every site on its address
    hosted = {t.SITES[name]: tuple(n for n, a in zone().items() if a == t.SITES[name]
                                   and n != name) for name in HTTPS_SITES}
    certs = {SITE_KINDS[name]: site_certificate(folder, name, hosted[t.SITES[name]])[0]
             .with_suffix("") for name in HTTPS_SITES}
    hostile = topo.spec.hostile_title_site
    # the exam site is a server of its own, as on the internet: every seat's audit takes
    # its controls there, and one process serving it beside the blocked sites' HTTPS
    # left a seat's control unanswered under a whole room's audits
    exam = SITE_KINDS["exam.example"]
    return [
        daemons.websrv("inet-web-exam", ns, [s for s in sites if s[2] == exam],
                       tls_sites=[s for s in tls_sites if s[2] == exam],
                       certs={exam: certs[exam]}),
        daemons.websrv("inet-web", ns, [s for s in sites if s[2] != exam],
                       hostile_title_kinds=[SITE_KINDS[hostile]] if hostile else [],
                       tls_sites=[s for s in tls_sites if s[2] != exam],
                       certs={k: v for k, v in certs.items() if k != exam}),
        # Authoritative for the lab's names; every other name does not exist (NXDOMAIN),
        # as a public resolver would answer for a name nobody registered.
        daemons.dnsmasq(
            "inet-dns", ns, folder, t.PUBLIC_RESOLVER, [*records, "local=/#/", "cache-size=0"]
        ),
        daemons.iperf3("inet-iperf3", ns, t.SPEED_SITE, t.IPERF_PORT),
    ]
