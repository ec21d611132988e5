"""Each probe's technical knobs, with their one default: how long to wait, how many at
once. A rule's numbers live in the profile's threshold models; these are the ways of
measuring that no certificate names. Planners start every check's params from here
(probes default nothing), and so do tests that call a probe directly."""

from __future__ import annotations

from typing import Any

# a web request: short enough for 40 seats at once, long enough for a busy router
_WEB = {"connect_timeout_s": 3.0, "read_timeout_s": 5.0, "verify_tls": True}
# an SNMP request is sent again every 2 s until the check's budget is spent: an answer
# that a busy coordinator read late is still an answer; a silent device is still silent
# at the end of the budget (probes/engines/snmp_client.py stops at it)
_SNMP = {"timeout_s": 2.0, "retries": 4}

KNOBS: dict[str, dict[str, Any]] = {
    # one echo may take a second before it counts as lost; one TCP port two to accept;
    # the echoes spread over four seconds, so a link going down and up every few seconds
    # shows in their pattern
    "reachability": {"reply_timeout_s": 1.0, "port_timeout_s": 2.0, "sample_window_s": 4.0},
    # as fast as the link takes; a /20 at most (a room is a /24)
    "l2_sweep": {"pace_pps": 0.0, "max_hosts": 4096},
    # a router's own page usually has a self-made certificate: reaching the page is what
    # is shown, not who signed it
    "router_web": {**_WEB, "verify_tls": False},
    "internet_reach": dict(_WEB),
    # AAAA and IPv6 paths are tried (a candidate's browser uses IPv6 when it can); 64
    # requests in flight at once from one seat
    "url_filter": {**_WEB, "dns_timeout_s": 2.0, "ipv6": True, "concurrency": 64},
    # four streams, settled over a sliding window (probes/engines/steady_rate.py), at most
    # five seconds a direction
    "wan_bandwidth": {"connect_timeout_s": 3.0, "verify_tls": True, "streams": 4,
                      "max_s": 5, "interval_s": 0.5, "settle_window": 4,
                      "tolerance_pct": 2.5, "ramp_s": 0.5, "latency_samples": 5},
    "throughput": {"parallel": 1, "connect_timeout_s": 2.0},
    # a camera: open, a second of warm-up (frames buffered during the open arrive in a
    # burst), four seconds measured (long enough to see a stream that stops after a good
    # start: its frame count is set against its frame rate); the RTSP DESCRIBE on its own
    "camera_picture": {"warmup_s": 1.0, "measure_s": 4.0, "open_timeout_s": 5.0,
                       "read_timeout_s": 3.0, "describe_timeout_s": 5.0},
    "camera_audio": {"timeout_s": 5.0},
    # a recorder: each ONVIF call within timeout_s; its replay decoded like a camera, but
    # briefly: a decoded picture proves the recording plays (CAM-RES judges the picture)
    "camera_recording": {"timeout_s": 5.0, "warmup_s": 0.5, "measure_s": 1.0,
                         "open_timeout_s": 5.0, "read_timeout_s": 3.0,
                         "describe_timeout_s": 5.0},
    "recorder_storage": {"timeout_s": 5.0},
    # WS-Discovery: a camera answers within the spec's APP_MAX_DELAY (500 ms); two seconds
    # leave room for a slow one and for the probe sent again
    "onvif_discovery": {"window_s": 2.0},
    "snmp_device": {**_SNMP, "reboot_tolerance_s": 60.0},
    "snmp_interfaces": {**_SNMP, "interval_s": 2.0},
    "snmp_port_speed": dict(_SNMP),
    "snmp_ups": dict(_SNMP),
}


def knobs(probe: str) -> dict[str, Any]:
    """A fresh copy of the probe's knobs (empty when it has none)."""
    return dict(KNOBS.get(probe, {}))
