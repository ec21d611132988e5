"""Cabling the room: namespaces, veth pairs, the switch's bridge, addresses, routes, shaping.

Each veth pair is created from inside the switch (or router) namespace with its peer
placed straight into the host's namespace, so no lab interface ever appears in the
host's root namespace, not even for a moment.
"""

from __future__ import annotations

import logging
from pathlib import Path

from . import topology as t
from .netns import add_all, exec_argv, write_resolv_conf
from .shell import resolve, run, run_all
from .topology import Topology

log = logging.getLogger(__name__)


def _tbf(dev: str, mbit: int) -> str:
    # 256 kB of burst keeps a 1 Gbit/s link at ~957 Mbit/s with one TCP stream (lab notes).
    return f"qdisc add dev {dev} root tbf rate {mbit}mbit burst 256kb latency 20ms\n"


def _switch_script(topo: Topology) -> str:
    lines = [
        "link set lo up",
        f"link add {t.BRIDGE} address 02:52:44:59:00:03 type bridge stp_state 0 mcast_snooping 0",
    ]
    lines.append(
        f"link add p-rtr type veth peer name {t.ROUTER_LAN_NIC} "
        f"address 02:52:44:59:00:01 netns {topo.ns('rtr')}"
    )
    for host in topo.hosts:
        lines.append(
            f"link add {host.port} type veth peer name {t.HOST_NIC} "
            f"address {host.mac} netns {topo.ns(host.role)}"
        )
    for port in ["p-rtr", *(h.port for h in topo.hosts)]:
        lines.append(f"link set {port} master {t.BRIDGE} up")
    lines += [f"addr add {t.SWITCH}/{t.LAN_PREFIXLEN} dev {t.BRIDGE}", f"link set {t.BRIDGE} up"]
    return "\n".join(lines) + "\n"


def _router_script(topo: Topology) -> str:
    inet = topo.ns("inet")
    lines = [
        "link set lo up",
        f"link add {t.ROUTER_WAN_NIC} type veth peer name {t.ISP_NIC} netns {inet}",
        f"addr add {t.ROUTER_LAN}/{t.LAN_PREFIXLEN} dev {t.ROUTER_LAN_NIC}",
        f"addr add {t.ROUTER_WAN}/{t.WAN_PREFIXLEN} dev {t.ROUTER_WAN_NIC}",
        f"link set {t.ROUTER_LAN_NIC} up",
        f"link set {t.ROUTER_WAN_NIC} up",
        f"route add default via {t.ISP}",
    ]
    if topo.spec.ipv4_only_router_with_ipv6:
        # nodad: the addresses are ours alone, and a tentative address would not route yet
        lines += [
            f"addr add {t.ROUTER_LAN6}/{t.LAN6_PREFIXLEN} dev {t.ROUTER_LAN_NIC} nodad",
            f"addr add {t.ROUTER_WAN6}/{t.LAN6_PREFIXLEN} dev {t.ROUTER_WAN_NIC} nodad",
            f"route add default via {t.ISP6}",
        ]
    return "\n".join(lines) + "\n"


def _internet_script(topo: Topology) -> str:
    lines = ["link set lo up", f"addr add {t.ISP}/{t.WAN_PREFIXLEN} dev {t.ISP_NIC}"]
    for address in sorted({*t.SITES.values(), t.PUBLIC_RESOLVER}):
        lines.append(f"addr add {address}/32 dev lo")
    lines += [
        f"link set {t.ISP_NIC} up",
        # Like the real internet, an address nobody serves just times out.
        "route add blackhole default",
        # IPv6 the same way, whether or not the room has it: nothing leaves the lab
        "route add blackhole ::/0",
    ]
    if topo.spec.ipv4_only_router_with_ipv6:
        lines.append(f"addr add {t.ISP6}/{t.LAN6_PREFIXLEN} dev {t.ISP_NIC} nodad")
        lines += [f"addr add {a}/128 dev lo" for a in sorted(t.SITES6.values())]
        lines.append(f"route add {t.LAN6_NET} via {t.ROUTER_WAN6}")
    return "\n".join(lines) + "\n"


def _host_script(host: t.LanHost) -> str:
    # a lease: the lifetime a DHCP client gives the address it was offered
    lease = f" valid_lft {host.lease_s} preferred_lft {host.lease_s}" if host.lease_s else ""
    lines = [
        "link set lo up",
        f"addr add {host.address} dev {t.HOST_NIC}{lease}",
        f"link set {t.HOST_NIC} up",
    ]
    if host.gateway:
        lines.append(f"route add default via {host.gateway}")
    if host.address6:
        lines += [f"addr add {host.address6} dev {t.HOST_NIC} nodad",
                  f"route add default via {t.ROUTER_LAN6}"]
    return "\n".join(lines) + "\n"


def _ip_batch(ns: str, script: str, what: str) -> tuple[list[str], str, str]:
    return (["ip", "-n", ns, "-batch", "-"], script, what)


def wire(topo: Topology, nft_file: Path) -> None:
    """Build the whole network of the room (no services yet)."""
    add_all(topo.namespaces())
    # The switch creates every LAN veth, so it goes first; the router then its WAN veth.
    for argv, script, what in (
        _ip_batch(topo.ns("sw"), _switch_script(topo), "cabling the switch"),
        _ip_batch(topo.ns("rtr"), _router_script(topo), "configuring the router's interfaces"),
    ):
        run(argv, stdin=script, what=what, timeout=30)
    jobs = [_ip_batch(topo.ns("inet"), _internet_script(topo),
                      "configuring the internet namespace")]
    jobs += [
        _ip_batch(topo.ns(h.role), _host_script(h), f"configuring {h.role}") for h in topo.hosts
    ]
    run_all(jobs)
    _shape(topo)
    _router_settings(topo, nft_file)
    _resolvers(topo)


def _shape(topo: Topology) -> None:
    switch_ports = "".join(_tbf(h.port, h.link_mbit) for h in topo.hosts if h.link_mbit)
    jobs: list[tuple[list[str], str | None, str]] = []
    if switch_ports:
        jobs.append(
            (["tc", "-n", topo.ns("sw"), "-batch", "-"], switch_ports, "shaping the switch ports")
        )
    for host in topo.hosts:
        if host.link_mbit:
            jobs.append(
                (
                    ["tc", "-n", topo.ns(host.role), "-batch", "-"],
                    _tbf(t.HOST_NIC, host.link_mbit),
                    f"shaping {host.role}'s link",
                )
            )
    jobs.append(
        (
            ["tc", "-n", topo.ns("rtr"), "-batch", "-"],
            _tbf(t.ROUTER_WAN_NIC, topo.uplink_mbit),
            "shaping the uplink (router side)",
        )
    )
    jobs.append(
        (
            ["tc", "-n", topo.ns("inet"), "-batch", "-"],
            _tbf(t.ISP_NIC, topo.uplink_mbit),
            "shaping the uplink (internet side)",
        )
    )
    run_all(jobs)


def _router_settings(topo: Topology, nft_file: Path) -> None:
    rtr, sw = topo.ns("rtr"), topo.ns("sw")
    run(
        exec_argv(rtr, [resolve("sysctl"), "-qw", "net.ipv4.ip_forward=1",
                        f"net.ipv6.conf.all.forwarding={int(topo.spec.ipv4_only_router_with_ipv6)}"]),
        what="turning on forwarding in the router",
    )
    run(
        exec_argv(rtr, [resolve("nft"), "-f", str(nft_file)]),
        what=f"loading the router's rules {nft_file}",
    )
    # A plain switch: bridged frames must not be handed to netfilter (br_netfilter may be
    # loaded on the host); -e because the keys are absent when it is not.
    run(
        exec_argv(
            sw,
            [
                resolve("sysctl"),
                "-qew",
                "net.bridge.bridge-nf-call-iptables=0",
                "net.bridge.bridge-nf-call-ip6tables=0",
                "net.bridge.bridge-nf-call-arptables=0",
            ],
        ),
        what="making the switch a plain bridge",
    )


def _resolvers(topo: Topology) -> None:
    for role in topo.roles():
        server = t.PUBLIC_RESOLVER if role in ("rtr", "inet") else t.ROUTER_LAN
        write_resolv_conf(topo.ns(role), server)
