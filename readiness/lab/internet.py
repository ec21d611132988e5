"""The room's "internet": the exam website, blocked sample sites, a speed-test server,
a public DNS resolver and an iperf3 server, all in one namespace behind the router."""

from __future__ import annotations

from pathlib import Path

from . import daemons
from . import topology as t
from .services import ServiceDef
from .topology import Topology

SITE_KINDS = {
    "exam.example": "exam",
    "games.example": "games",
    "video.example": "video",
    "speed.example": "speed",
}


def services(topo: Topology, folder: Path) -> list[ServiceDef]:
    ns = topo.ns("inet")
    records = [f"address=/{name}/{address}" for name, address in t.SITES.items()]
    return [
        daemons.websrv(
            "inet-web", ns, [(t.SITES[name], 80, kind) for name, kind in SITE_KINDS.items()]
        ),
        # Authoritative for the lab's names; every other name does not exist (NXDOMAIN),
        # as a public resolver would answer for a name nobody registered.
        daemons.dnsmasq(
            "inet-dns", ns, folder, t.PUBLIC_RESOLVER, [*records, "local=/#/", "cache-size=0"]
        ),
        daemons.iperf3("inet-iperf3", ns, t.SPEED_SITE, t.IPERF_PORT),
    ]
