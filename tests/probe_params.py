"""Whole params for a probe called directly in a test: the planners' knob table
(readiness/planning/knobs.py) plus what the test is about. Probes default nothing, so a
test that leaves a knob out is told which one, as a planner would be."""

from __future__ import annotations

from typing import Any

from readiness.config.profile import LanSubnetThresholds
from readiness.planning.knobs import knobs


def audit(**given: Any) -> dict[str, Any]:
    """url_filter params: nothing to try but what the test gives."""
    return {"mode": "exam_sites_only", "exam_urls": [], "blocked_urls": [],
            "bypass_resolver_addresses": [], "doh_urls": [], "keywords": [],
            "block_page_patterns": [], "block_hosts": [], "sinkhole_addresses": [],
            "local_networks": [], "subdomain_label": "rdy-test000000", "exam_windows": [],
            "vantage_is_seat": True, **knobs("url_filter"), "icmp": False, **given}


def speed(**given: Any) -> dict[str, Any]:
    """wan_bandwidth params for a speed-test server (`url`, or `host` for iperf3)."""
    return {"kind": "librespeed", "floor_mbps": 1,
            "overhead_allowance_pct": 0, "port": 5201, **knobs("wan_bandwidth"), **given}


def reach(address: str, **given: Any) -> dict[str, Any]:
    """reachability params as LAN-SUBNET plans them, but the echoes sent as one burst:
    tests of loss and timing stay short; the sample window's own tests give it."""
    return {"address": address, "count": 10, "interval_s": 0.1, "ports": [],
            **knobs("reachability"), "sample_window_s": None, **given}


def internet(urls: list[str], **given: Any) -> dict[str, Any]:
    return {"urls": urls, "require": "all", **knobs("internet_reach"), **given}


def router_page(url: str, **given: Any) -> dict[str, Any]:
    """router_web params for the router's management page."""
    return {"url": url, **knobs("router_web"), **given}


def throughput(host: str, port: int, **given: Any) -> dict[str, Any]:
    return {"host": host, "port": port, "duration_s": 1, "omit_s": 0, "reverse": False,
            **knobs("throughput"), **given}


def sweep(subnet: str, **given: Any) -> dict[str, Any]:
    """l2_sweep params as LAN-SUBNET plans them: the ARP and DHCP windows are the profile's
    (LanSubnetThresholds' one default each), the rest from the knob table."""
    rule = {name: LanSubnetThresholds.model_fields[name].default
            for name in ("arp_window_s", "arp_retries", "dhcp_window_s")}
    return {"subnet": subnet, **rule, "dhcp": True, "outside": [], **knobs("l2_sweep"),
            **given}


def discovery(subnet: str, **given: Any) -> dict[str, Any]:
    """onvif_discovery params as CAM-COUNT plans them."""
    return {"subnet": subnet, **knobs("onvif_discovery"), **given}


def snmp(probe: str, **given: Any) -> dict[str, Any]:
    """An SNMP probe's params (probes/snmp_device.py): the standard UDP port and the
    probe's knobs, then the device, its name and the SNMP version the test gives."""
    return {"port": 161, **knobs(probe), **given}
