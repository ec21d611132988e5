"""A lab camera's ONVIF WS-Discovery side: answers a Probe with a ProbeMatch.

Standard library only (run as a script next to the lab's RTSP camera). Joins
239.255.255.250 on its own address, listens on UDP 3702 and answers a Probe for
NetworkVideoTransmitter (or for any type) with XAddrs http://<addr>/onvif/device_service
and the scope onvif://www.onvif.org/name/<name>.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import quote
from xml.sax.saxutils import escape

GROUP = "239.255.255.250"
PORT = 3702
NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
NS_WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
NS_DN = "http://www.onvif.org/ver10/network/wsdl"
MATCHES_ACTION = "http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

log = logging.getLogger("wsd_responder")


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def parse_probe(data: bytes) -> tuple[str, list[str]] | None:
    """(MessageID, Types) of a Probe; None if the datagram is not one."""
    if len(data) > 65535 or b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        return None
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    if not any(_local(e.tag) == "Probe" for e in root.iter()):
        return None
    message_id = next(((e.text or "").strip() for e in root.iter()
                       if _local(e.tag) == "MessageID"), "")
    types = next(((e.text or "").split() for e in root.iter() if _local(e.tag) == "Types"), [])
    return message_id, types


def wants_camera(types: list[str]) -> bool:
    return not types or any(_local(t.split(":")[-1]) == "NetworkVideoTransmitter"
                            for t in types)


def build_match(relates_to: str, address: str, name: str, endpoint: str) -> bytes:
    scopes = " ".join([
        f"onvif://www.onvif.org/name/{quote(name)}",
        "onvif://www.onvif.org/hardware/readiness-lab-camera",
        "onvif://www.onvif.org/type/video_encoder",
    ])
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<e:Envelope xmlns:e="{NS_SOAP}" xmlns:w="{NS_WSA}" xmlns:d="{NS_WSD}" '
        f'xmlns:dn="{NS_DN}">'
        "<e:Header>"
        f"<w:MessageID>urn:uuid:{uuid.uuid4()}</w:MessageID>"
        f"<w:RelatesTo>{escape(relates_to)}</w:RelatesTo>"
        f"<w:To>{ANONYMOUS}</w:To>"
        f"<w:Action>{MATCHES_ACTION}</w:Action>"
        "</e:Header>"
        "<e:Body><d:ProbeMatches><d:ProbeMatch>"
        f"<w:EndpointReference><w:Address>{endpoint}</w:Address></w:EndpointReference>"
        "<d:Types>dn:NetworkVideoTransmitter</d:Types>"
        f"<d:Scopes>{escape(scopes)}</d:Scopes>"
        f"<d:XAddrs>http://{address}/onvif/device_service</d:XAddrs>"
        "<d:MetadataVersion>1</d:MetadataVersion>"
        "</d:ProbeMatch></d:ProbeMatches></e:Body>"
        "</e:Envelope>"
    ).encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", required=True)
    parser.add_argument("--name", required=True, help="the camera's name (its name scope)")
    parser.add_argument("--label", default="", help="the lab namespace (to find us in ps)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    endpoint = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'readiness-lab/' + args.address)}"

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # The wildcard address: multicast datagrams carry the group as their destination.
    sock.bind(("", PORT))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                    socket.inet_aton(GROUP) + socket.inet_aton(args.address))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(args.address))
    log.info("WS-Discovery for %s on %s:%d", args.name, args.address, PORT)
    while True:
        data, peer = sock.recvfrom(65535)
        probe = parse_probe(data)
        if probe is None or not wants_camera(probe[1]):
            continue
        log.info("Probe %s from %s:%d", probe[0], *peer)
        sock.sendto(build_match(probe[0], args.address, args.name, endpoint), peer)


if __name__ == "__main__":
    sys.exit(main())
