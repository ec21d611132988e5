"""Services on the room's own machines: the exam server, the UPS card, the cameras."""

from __future__ import annotations

import json
from pathlib import Path

from . import daemons
from . import topology as t
from .services import Listen, ServiceDef
from .shell import run_all
from .spec import MAX_SEATS, DropsPing, MtuBlackHole
from .topology import Topology

# The room load test gives every seat a port of its own on the exam server, from 5301
# (readiness.planning.throughput.LOAD_BASE_PORT): one per seat the lab can have.
LOAD_PORTS = range(5301, 5301 + MAX_SEATS)


def exam_server(topo: Topology, folder: Path) -> list[ServiceDef]:
    ns = topo.ns("srv")
    return [
        daemons.websrv("srv-web", ns, [(t.SERVER, 80, "examserver")]),
        # Seats' throughput to the exam server is measured against this stock server.
        daemons.iperf3("srv-iperf3", ns, t.SERVER, t.IPERF_PORT),
        # ... and the whole room's at once against ours, since stock iperf3 serves one
        # test at a time: the exam server's agent serves the load ports for that test;
        # a room without agents gets `readiness throughput-server --ports` by hand.
        *([] if topo.spec.agents else
          [daemons.throughput_server("srv-throughput", ns, t.SERVER, LOAD_PORTS)]),
    ]


# RFC 1628 UPS-MIB scalars, served by `override` (Debian's snmpd has no UPS-MIB of its own).
UPS_BATTERY_STATUS = ".1.3.6.1.2.1.33.1.2.1.0"
UPS_SECONDS_ON_BATTERY = ".1.3.6.1.2.1.33.1.2.2.0"
UPS_MINUTES_REMAINING = ".1.3.6.1.2.1.33.1.2.3.0"
UPS_OUTPUT_SOURCE = ".1.3.6.1.2.1.33.1.4.1.0"


def ups(topo: Topology, folder: Path, secrets: dict[str, str]) -> list[ServiceDef]:
    values = topo.spec.ups
    return [
        daemons.snmpd(
            "ups-snmpd",
            topo.ns("ups"),
            folder,
            t.UPS,
            [
                *daemons.snmp_access(secrets, t.LAN_NET),
                "sysName exam-room-ups",
                "sysDescr UPS network management card (readiness lab)",
                "sysObjectID .1.3.6.1.2.1.33",
                f"override {UPS_BATTERY_STATUS} integer {values.battery_status}",
                f"override {UPS_SECONDS_ON_BATTERY} integer {values.seconds_on_battery}",
                f"override {UPS_MINUTES_REMAINING} integer {values.minutes_remaining}",
                f"override {UPS_OUTPUT_SOURCE} integer {values.output_source}",
            ],
        )
    ]


def agents(topo: Topology, site_file: Path) -> list[ServiceDef]:
    """`readiness agent` on the exam server and on every seat that has one, each bound
    to the address its PC really has (a mis-addressed PC's agent is just as lost)."""
    out = []
    if topo.spec.agents:
        out.append(daemons.agent("srv-agent", topo.ns("srv"), t.SERVER, site_file))
    for host in topo.hosts:
        seat = host.role[len("seat-"):] if host.role.startswith("seat-") else None
        address = host.address.split("/")[0]
        if seat and topo.spec.agent_on(seat):
            out.append(daemons.agent(f"{host.role}-agent", topo.ns(host.role), address,
                                     site_file))
        elif seat and topo.spec.throughput_server_on(seat):
            # what a technician starts on a PC without the agent, on iperf3's port
            out.append(daemons.throughput_server(
                f"{host.role}-throughput", topo.ns(host.role), address,
                range(t.IPERF_PORT, t.IPERF_PORT + 1)))
    return out


def flapping_links(topo: Topology) -> list[ServiceDef]:
    """The flapping_link faults: the seat's switch port goes down and up, so the seat
    sees its carrier come and go (and counts it, as a real NIC does)."""
    ports = {h.role: h.port for h in topo.hosts}
    return [daemons.link_flapper(f"seat-{f.seat}-flap", topo.ns("sw"),
                                 ports[f"seat-{f.seat}"], f.down_s, f.up_s)
            for f in topo.spec.flapping() if f"seat-{f.seat}" in ports]


def rogue_dhcp(topo: Topology, folder: Path) -> list[ServiceDef]:
    """The rogue_dhcp fault: dnsmasq as a DHCP server only (port=0: no DNS), offering its
    pool with itself as the gateway, the way a home router plugged into the exam switch
    does."""
    fault = topo.spec.rogue_dhcp()
    if fault is None:
        return []
    own = str(fault.address.ip)
    svc = daemons.dnsmasq(
        "rogue-dhcp",
        topo.ns(t.ROGUE_DHCP),
        folder,
        own,
        [
            "port=0",
            f"dhcp-range={fault.pool_start},{fault.pool_end},{fault.address.netmask},10m",
            f"dhcp-option=option:router,{own}",
            f"dhcp-option=option:dns-server,{own}",
            # its own lease file: never the host's /var/lib/misc/dnsmasq.leases
            f"dhcp-leasefile={folder / 'run' / 'rogue-dhcp.leases'}",
            "log-dhcp",
        ],
    )
    # DHCP listens on the wildcard port 67, and with port=0 nothing listens on 53.
    svc.listens = [Listen("udp", "0.0.0.0", 67)]
    return [svc]


def cameras(topo: Topology, secrets: dict[str, str]) -> list[ServiceDef]:
    # each camera answers ONVIF WS-Discovery as well, as real IP cameras do
    discovery = [
        daemons.wsd_responder(f"{cam.name}-wsd", topo.ns(cam.name), t.camera_address(cam),
                              cam.name)
        for cam in topo.cameras
    ]
    return discovery + [
        daemons.camera(
            cam.name,
            topo.ns(cam.name),
            t.camera_address(cam),
            t.RTSP_PORT,
            t.RTSP_PATH,
            width=cam.width,
            height=cam.height,
            fps=cam.fps,
            audio=cam.audio,
            pattern=cam.pattern,
            password=secrets["camera_password"] if cam.auth == "digest" else None,
            stall_after_s=cam.stall_after_s,
        )
        for cam in topo.cameras
    ]


# nft in the seat's own namespace, the way Windows' firewall drops echo requests by default
DROP_PING_NFT = """table inet rdy_seat_fw {
  chain inbound {
    type filter hook input priority 0; policy accept;
    icmp type echo-request drop
  }
}
"""




def _mtu_black_hole_nft(mtu: int) -> str:
    """Every IPv4 packet over `mtu` bytes dropped both ways, without an ICMP error: what
    a switch port set below 1500 does to the PC behind it. nft in the seat's namespace
    rather than the switch port's MTU: a veth lets the kernel's GSO super-packets past
    its MTU check, while `ip length` sees every packet the seat's stack sends or gets."""
    return f"""table ip rdy_seat_mtu {{
  chain inbound {{
    type filter hook input priority 0; policy accept;
    ip length > {mtu} drop
  }}
  chain outbound {{
    type filter hook output priority 0; policy accept;
    ip length > {mtu} drop
  }}
}}
"""


def seat_firewalls(topo: Topology) -> None:
    """The drops_ping faults (the seat works, ARP and its agent, but ignores ping) and
    the mtu_black_hole ones (small packets pass, large ones vanish)."""
    jobs: list[tuple[list[str], str | None, str]] = []
    roles = {h.role for h in topo.hosts}
    for fault in topo.spec.faults_of(DropsPing):
        if f"seat-{fault.seat}" in roles:
            jobs.append((["ip", "netns", "exec", topo.ns(f"seat-{fault.seat}"), "nft", "-f",
                          "-"], DROP_PING_NFT, f"making {fault.seat} drop ping"))
    for fault in topo.spec.faults_of(MtuBlackHole):
        if f"seat-{fault.seat}" in roles:
            jobs.append((["ip", "netns", "exec", topo.ns(f"seat-{fault.seat}"), "nft", "-f",
                          "-"], _mtu_black_hole_nft(fault.mtu),
                         f"making {fault.seat}'s path drop packets over {fault.mtu} bytes"))
    if jobs:
        run_all(jobs)


def recording_token(camera_name: str) -> str:
    return f"rec-{camera_name}"


def recorder(topo: Topology, folder: Path, secrets: dict[str, str]) -> list[ServiceDef]:
    """The room's recorder (NVR): its ONVIF side and the replay of what it recorded."""
    spec = topo.spec.recorder
    if spec is None:
        return []
    ns = topo.ns("nvr")
    recorded = topo.spec.recorded_cameras()
    config = folder / "conf" / "nvr-recordings.json"
    config.write_text(json.dumps({
        "recordings": [{"token": recording_token(c.name), "camera": c.name,
                        "source": f"rtsp://{t.camera_address(c)}:{t.RTSP_PORT}{t.RTSP_PATH}",
                        "audio": c.audio} for c in recorded],
        "storage": {"capacity_mb": spec.capacity_gb * 1000,
                    "free_mb": topo.spec.recorder_free_gb() * 1000},
    }, indent=2) + "\n")
    records = [
        f"{recording_token(c.name)}=rtsp://{t.camera_address(c)}:{t.RTSP_PORT}{t.RTSP_PATH}"
        + (",audio" if c.audio else "") + (",auth" if c.auth == "digest" else "")
        for c in recorded]
    password = secrets["recorder_password"]
    return [
        daemons.recorder_onvif("nvr-onvif", ns, t.RECORDER, t.RECORDER_ONVIF_PORT,
                               t.RTSP_PORT, config, password),
        daemons.recorder_replay("nvr-replay", ns, t.RECORDER, t.RTSP_PORT,
                                folder / "run" / "nvr-clips", spec.clip_s, records, password,
                                secrets["camera_password"]),
    ]
