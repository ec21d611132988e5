"""ONVIF WS-Discovery: building the Probe, reading ProbeMatches, judging what answered,
and (in the lab) finding a camera that the site file leaves out.

WS-Discovery is multicast: it is only ever sent inside lab namespaces here."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from probe_params import discovery as discovery_params

from probes import onvif_discovery as od
from readiness.config.load import load_site
from readiness.config.profile import load_profile
from readiness.judges.cameras import discovery
from readiness.lab import wsd_responder
from readiness.planning import PLANNERS, PlanContext, build_plan
from readiness.planning.cameras import plan_cam_discovery
from readiness.results import ProbeOutcome, Status, Text

REPO = Path(__file__).resolve().parent.parent
PREFIX = f"rdyt{os.getpid()}w"

VENDOR_REPLY = b"""<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"
  xmlns:wsadis="http://schemas.xmlsoap.org/ws/2004/08/addressing"
  xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
  xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
<env:Header><wsadis:MessageID>urn:uuid:1</wsadis:MessageID>
<wsadis:RelatesTo>urn:uuid:2</wsadis:RelatesTo></env:Header>
<env:Body><d:ProbeMatches><d:ProbeMatch>
<wsadis:EndpointReference><wsadis:Address>urn:uuid:cam-abc</wsadis:Address>
</wsadis:EndpointReference>
<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>
<d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/name/HIK%20Dome
 onvif://www.onvif.org/hardware/DS-2CD2143G0-I onvif://www.onvif.org/location/city/</d:Scopes>
<d:XAddrs>http://192.168.10.64/onvif/device_service http://[fe80::1]/onvif/device_service</d:XAddrs>
<d:MetadataVersion>10</d:MetadataVersion>
</d:ProbeMatch></d:ProbeMatches></env:Body></env:Envelope>"""


def test_probe_message_is_a_ws_discovery_probe_for_video_transmitters() -> None:
    message_id = od.new_message_id()
    assert message_id.startswith("urn:uuid:") and message_id != od.new_message_id()
    root = ET.fromstring(od.build_probe(message_id))
    assert root.tag == f"{{{od.NS_SOAP}}}Envelope"
    assert root.findtext(f".//{{{od.NS_WSA}}}MessageID") == message_id
    assert root.findtext(f".//{{{od.NS_WSA}}}Action") == od.PROBE_ACTION
    assert root.findtext(f".//{{{od.NS_WSA}}}To") == od.WSD_TO
    types = root.find(f".//{{{od.NS_WSD}}}Probe/{{{od.NS_WSD}}}Types")
    assert types is not None and types.text == "dn:NetworkVideoTransmitter"
    # the lab responder understands it
    assert wsd_responder.parse_probe(od.build_probe(message_id)) == (
        message_id, ["dn:NetworkVideoTransmitter"])


def test_vendor_probe_match_is_parsed() -> None:
    [match] = od.parse_probe_matches(VENDOR_REPLY)
    assert match["xaddrs"] == ["http://192.168.10.64/onvif/device_service",
                               "http://[fe80::1]/onvif/device_service"]
    assert match["name"] == "HIK Dome" and match["hardware"] == "DS-2CD2143G0-I"
    assert "onvif://www.onvif.org/location/city/" in match["scopes"]
    assert match["types"] == ["dn:NetworkVideoTransmitter", "tds:Device"]
    assert match["endpoint"] == "urn:uuid:cam-abc"


def test_lab_responder_reply_round_trips() -> None:
    reply = wsd_responder.build_match("urn:uuid:x", "198.18.10.202", "cam-2", "urn:uuid:e")
    [match] = od.parse_probe_matches(reply)
    assert match["xaddrs"] == ["http://198.18.10.202/onvif/device_service"]
    assert match["name"] == "cam-2"
    assert ET.fromstring(reply).findtext(f".//{{{od.NS_WSA}}}RelatesTo") == "urn:uuid:x"


def test_garbage_and_dtds_are_ignored() -> None:
    assert od.parse_probe_matches(b"not xml") == []
    assert od.parse_probe_matches(b"<a/>") == []
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
            b"<x><ProbeMatch><XAddrs>&a;</XAddrs></ProbeMatch></x>")
    assert od.parse_probe_matches(bomb) == []
    assert od.parse_probe_matches(b"<x>" + b" " * 70000 + b"</x>") == []
    assert wsd_responder.parse_probe(bomb) is None
    assert wsd_responder.parse_probe(VENDOR_REPLY) is None  # a ProbeMatch is not a Probe
    assert wsd_responder.wants_camera([]) and wsd_responder.wants_camera(
        ["dn:NetworkVideoTransmitter"])
    assert not wsd_responder.wants_camera(["tds:Device"])


def test_replies_from_one_address_merge() -> None:
    devices: dict = {}
    [match] = od.parse_probe_matches(VENDOR_REPLY)
    od._merge(devices, "192.168.10.64", match)
    od._merge(devices, "192.168.10.64", match)
    assert list(devices) == ["192.168.10.64"]
    assert len(devices["192.168.10.64"]["xaddrs"]) == 2


def _device(address: str, name: str) -> dict:
    return {"address": address, "xaddrs": [f"http://{address}/onvif/device_service"],
            "scopes": [f"onvif://www.onvif.org/name/{name}"], "name": name, "hardware": None}


def _judge(found: list, configured: list[str]) -> ProbeOutcome:
    """What the probe measured, through the check's judge."""
    return discovery(ProbeOutcome(Status.PASS, Text("", ""), {"found": found}),
                     {"configured_addresses": configured})


def test_judging_what_answered() -> None:
    none = _judge([], ["198.18.10.201"])
    assert none.status == Status.PASS
    assert "no ONVIF camera answered WS-Discovery (cameras may have it switched off)" \
        in none.message.en
    assert none.message.zh and none.measured == {"found": [], "unconfigured": [],
                                                 "not_proof": True}
    found = [_device("198.18.10.201", "cam-1"), _device("198.18.10.202", "cam-2")]
    ok = _judge(found, ["198.18.10.201", "198.18.10.202"])
    assert ok.status == Status.PASS and ok.measured["unconfigured"] == []
    warn = _judge(found, ["198.18.10.201"])
    assert warn.status == Status.WARN
    assert warn.measured["unconfigured"] == ["198.18.10.202"]
    assert "http://198.18.10.202/onvif/device_service" in warn.message.en
    assert "198.18.10.202" in warn.message.zh and "198.18.10.201" not in warn.message.en
    # configured by a host name that its XAddrs use
    named = {**_device("198.18.10.203", "x"), "xaddrs": ["http://cam3.lan/onvif/device_service"]}
    assert _judge([named], ["cam3.lan"]).status == Status.PASS


def test_no_address_in_the_subnet_is_an_error_and_sends_nothing() -> None:
    out = asyncio.run(od.run(discovery_params("198.18.99.0/24"), 5.0))
    assert out.status == Status.ERROR
    assert "run the check from a PC on the exam LAN" in out.message.en
    loop = asyncio.run(od.run(discovery_params("127.0.0.0/8"), 5.0))
    assert loop.status == Status.SKIP


def test_a_missing_or_unusable_parameter_is_an_error_naming_it() -> None:
    for name in ("subnet", "window_s"):
        params = {k: v for k, v in discovery_params("198.18.99.0/24").items() if k != name}
        out = asyncio.run(od.run(params, 5.0))
        assert out.status == Status.ERROR
        assert f"parameter '{name}' is missing" in out.message.en, out.message.en
    for name, bad in (("subnet", "198.18.99.0/33"), ("window_s", "soon")):
        out = asyncio.run(od.run({**discovery_params("198.18.99.0/24"), name: bad}, 5.0))
        assert out.status == Status.ERROR and f"'{name}'" in out.message.en, out.message.en


SITE = textwrap.dedent("""\
    site: {name: Test school, code: T-1}
    profile: cbec
    rooms:
      - id: r1
        subnet: SUBNET
        router: {address: PFX.1}
        exam_servers:
          primary: {address: PFX.10}
        proctor: {address: PFX.2}
        seats:
          A01-A02: PFX.101-102
        cameras:
          - {name: cam-1, url: "rtsp://PFX.201:554/stream"}
          - {name: cam-2, url: "rtsp://admin@PFX.202/stream"}
    """)


def _site(tmp_path: Path, subnet: str, prefix: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "site.yaml"
    path.write_text(SITE.replace("SUBNET", subnet).replace("PFX", prefix))
    return load_site(path)


def test_discovery_is_planned_under_cam_count(tmp_path: Path) -> None:
    assert plan_cam_discovery in PLANNERS["CAM-COUNT"]
    site = _site(tmp_path, "198.18.10.0/24", "198.18.10")
    plan = build_plan(PlanContext(site, load_profile("cbec")), only={"CAM-COUNT"})
    [check] = [c for c in plan.checks if c.probe == "onvif_discovery"]
    assert check.check_id == "CAM-COUNT/r1/discovery" and check.vantage == "coordinator"
    assert check.params["subnet"] == "198.18.10.0/24"
    assert check.judge == "cameras.discovery"
    assert check.judge_params["configured_addresses"] == ["198.18.10.201", "198.18.10.202"]
    assert check.deadline_s > check.params["window_s"]
    # a test room on loopback gets no discovery check (no multicast on loopback)
    loop = build_plan(PlanContext(_site(tmp_path, "127.0.0.0/24", "127.0.0"),
                                  load_profile("cbec")), only={"CAM-COUNT"})
    assert not [c for c in loop.checks if c.probe == "onvif_discovery"]


# --- in the lab -----------------------------------------------------------------------

DISCOVER = """
import asyncio, json, sys
from readiness.config.load import load_site
from readiness.config.profile import load_profile
from readiness.judges.registry import outcome_judges
from readiness.planning import PlanContext, build_plan
from probes import registry
plan = build_plan(PlanContext(load_site(sys.argv[1]), load_profile("cbec")), only={"CAM-COUNT"})
[check] = [c for c in plan.checks if c.probe == "onvif_discovery"]
measured = asyncio.run(registry()[check.probe](check.params, check.deadline_s))
out = outcome_judges()[check.judge](measured, check.judge_params)
print(json.dumps({"judged": check.judge_params, "status": out.status.value,
                  "en": out.message.en, "zh": out.message.zh, "measured": out.measured}))
"""


@pytest.fixture(scope="module")
def lab_room(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.skip("builds network namespaces: run as root")
    from readiness.lab import LabSpec, missing_prerequisites, running

    missing = missing_prerequisites()
    if missing:
        pytest.skip("lab prerequisites missing: " + "; ".join(w for w, _ in missing))
    spec = LabSpec(seats=2, cameras=[{"name": "cam-1"}, {"name": "cam-2"}], faults=[])
    with running(spec, PREFIX) as lab:
        site = yaml.safe_load(lab.site_file.read_text())
        room = site["rooms"][0]
        room["seats"] = {"A01-A02": "198.18.10.101-102"}
        room["cameras"] = [c for c in room["cameras"] if c["name"] == "cam-1"]
        path = tmp_path_factory.mktemp("onvif") / "site.yaml"
        path.write_text(yaml.safe_dump(site, allow_unicode=True))
        yield lab, path


@pytest.mark.lab
def test_discovery_in_the_lab_names_the_unconfigured_camera(lab_room) -> None:  # type: ignore[no-untyped-def]
    lab, site = lab_room
    proc = subprocess.run(lab.exec_argv("proctor", [sys.executable, "-c", DISCOVER, str(site)]),
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["judged"]["configured_addresses"] == ["198.18.10.201"]
    found = {d["address"]: d for d in out["measured"]["found"]}
    assert set(found) == {"198.18.10.201", "198.18.10.202"}
    assert found["198.18.10.202"]["xaddrs"] == ["http://198.18.10.202/onvif/device_service"]
    assert found["198.18.10.202"]["name"] == "cam-2"
    assert out["status"] == "warn"
    assert out["measured"]["unconfigured"] == ["198.18.10.202"]
    assert "198.18.10.202" in out["en"] and "198.18.10.202" in out["zh"]
    assert "198.18.10.201" not in out["en"]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))
