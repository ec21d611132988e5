"""The lab recorder's (NVR's) ONVIF side: a real HTTP server answering the Profile G
operations readiness asks, and the recorder's disk page.

Standard library only (run as a script inside the recorder's namespace). It answers:

  /onvif/device_service   GetServices, GetSystemDateAndTime (where the other services are)
  /onvif/search           GetRecordingSummary, FindRecordings, GetRecordingSearchResults,
                          GetRecordingInformation, EndSearch
  /onvif/replay           GetReplayUri (rtsp://<address>:<rtsp_port>/replay/<token>, served
                          by readiness/lab/rtsp_replay.py from what the cameras sent)
  /onvif/recording        GetRecordingJobs, GetRecordingJobState
  /ISAPI/ContentMgmt/Storage  the disks' capacity and free space in MB, the way the
                          recorders most exam sites own (Hikvision and its OEMs) publish them:
                          ONVIF itself has no free-space query

Every SOAP request must carry a WS-Security UsernameToken with a PasswordDigest
(base64(SHA-1(nonce + created + password))) for the recorder's user; the disk page wants
HTTP Digest authentication (RFC 7616, MD5, qop=auth). The password comes from the
environment (READINESS_RECORDER_PASSWORD), never from the command line.

The configuration (--config, JSON) lists the recordings: token, camera name, the
camera's stream address, whether it has audio, and the disk's capacity and free space.
A recording's data runs from the recorder's start until now: the recorder records
continuously (its replay holds the clip it captured from the camera at start).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import os
import re
import secrets
import signal
import sys
import threading
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape

log = logging.getLogger("onvif_recorder")

PASSWORD_ENV = "READINESS_RECORDER_PASSWORD"
NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "tse": "http://www.onvif.org/ver10/search/wsdl",
    "trp": "http://www.onvif.org/ver10/replay/wsdl",
    "trc": "http://www.onvif.org/ver10/recording/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "ter": "http://www.onvif.org/ver10/error",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
}
SERVICES = (("devicemgmt", "tds", "device_service"), ("search", "tse", "search"),
            ("replay", "trp", "replay"), ("recording", "trc", "recording"))
# a WS-Security Created stamp further from our clock than this is refused (replay guard)
MAX_SKEW_S = 300
MAX_BODY = 1 << 20


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class Recorder:
    """What the recorder holds, and the answers built from it."""

    def __init__(self, config: dict[str, Any], address: str, rtsp_port: int, user: str,
                 password: str):
        self.recordings: list[dict[str, Any]] = list(config["recordings"])
        self.storage: dict[str, Any] = dict(config["storage"])
        self.address, self.rtsp_port = address, rtsp_port
        self.user, self.password = user, password
        self.started = datetime.now(UTC) - timedelta(seconds=int(config.get("history_s", 3600)))
        self.searches: dict[str, float] = {}
        self.http_port = 80
        self.lock = threading.Lock()

    # ---- authentication

    def token_ok(self, root: ET.Element) -> bool:
        """The request's UsernameToken names our user with the right PasswordDigest."""
        token = root.find(".//wsse:UsernameToken", NS)
        if token is None:
            return False
        user = token.findtext("wsse:Username", "", NS)
        digest = token.findtext("wsse:Password", "", NS)
        nonce = token.findtext("wsse:Nonce", "", NS)
        created = token.findtext("wsu:Created", "", NS)
        try:
            stamp = datetime.fromisoformat(created.replace("Z", "+00:00"))
            raw_nonce = base64.b64decode(nonce, validate=True)
        except ValueError:
            return False
        if stamp.tzinfo is None or abs((datetime.now(UTC) - stamp).total_seconds()) > MAX_SKEW_S:
            return False
        want = base64.b64encode(hashlib.sha1(
            raw_nonce + created.encode() + self.password.encode()).digest()).decode()
        return secrets.compare_digest(user, self.user) and secrets.compare_digest(digest, want)

    # ---- the answers (the body of each response)

    def recording_xml(self, rec: dict[str, Any], tag: str) -> str:
        now = _iso(datetime.now(UTC))
        since = _iso(self.started)
        tracks = [("VIDEO001", "Video")] + ([("AUDIO001", "Audio")] if rec.get("audio") else [])
        track_xml = "".join(
            f"<tt:Track><tt:TrackToken>{t}</tt:TrackToken><tt:TrackType>{kind}</tt:TrackType>"
            f"<tt:Description>{kind.lower()}</tt:Description><tt:DataFrom>{since}</tt:DataFrom>"
            f"<tt:DataTo>{now}</tt:DataTo></tt:Track>" for t, kind in tracks)
        return (
            f"<{tag}><tt:RecordingToken>{escape(rec['token'])}</tt:RecordingToken>"
            "<tt:Source>"
            f"<tt:SourceId>{escape(rec['source'])}</tt:SourceId>"
            f"<tt:Name>{escape(rec['camera'])}</tt:Name>"
            "<tt:Location>exam room</tt:Location><tt:Description>continuous</tt:Description>"
            f"<tt:Address>{escape(rec['source'])}</tt:Address></tt:Source>"
            f"<tt:EarliestRecording>{since}</tt:EarliestRecording>"
            f"<tt:LatestRecording>{now}</tt:LatestRecording>"
            f"<tt:Content>{escape(rec['camera'])}</tt:Content>{track_xml}"
            "<tt:RecordingStatus>Recording</tt:RecordingStatus>"
            f"</{tag}>")

    def answer(self, op: str, request: ET.Element) -> str | None:
        if op == "GetServices":
            items = "".join(
                f"<tds:Service><tds:Namespace>{NS[prefix]}</tds:Namespace>"
                f"<tds:XAddr>http://{self.address}:{self.http_port}/onvif/{path}</tds:XAddr>"
                "<tds:Version><tt:Major>2</tt:Major><tt:Minor>42</tt:Minor></tds:Version>"
                "</tds:Service>" for _, prefix, path in SERVICES)
            return f"<tds:GetServicesResponse>{items}</tds:GetServicesResponse>"
        if op == "GetSystemDateAndTime":
            now = datetime.now(UTC)
            return (
                "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
                "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false"
                "</tt:DaylightSavings><tt:UTCDateTime>"
                f"<tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute>"
                f"<tt:Second>{now.second}</tt:Second></tt:Time><tt:Date><tt:Year>{now.year}"
                f"</tt:Year><tt:Month>{now.month}</tt:Month><tt:Day>{now.day}</tt:Day>"
                "</tt:Date></tt:UTCDateTime></tds:SystemDateAndTime>"
                "</tds:GetSystemDateAndTimeResponse>")
        if op == "GetRecordingSummary":
            return (
                "<tse:GetRecordingSummaryResponse><tse:Summary>"
                f"<tt:DataFrom>{_iso(self.started)}</tt:DataFrom>"
                f"<tt:DataUntil>{_iso(datetime.now(UTC))}</tt:DataUntil>"
                f"<tt:NumberRecordings>{len(self.recordings)}</tt:NumberRecordings>"
                "</tse:Summary></tse:GetRecordingSummaryResponse>")
        if op == "FindRecordings":
            token = f"search-{secrets.token_hex(6)}"
            with self.lock:
                self.searches[token] = time.monotonic()
            return (f"<tse:FindRecordingsResponse><tse:SearchToken>{token}</tse:SearchToken>"
                    "</tse:FindRecordingsResponse>")
        if op == "GetRecordingSearchResults":
            token = request.findtext(".//tse:SearchToken", "", NS)
            with self.lock:
                known = self.searches.pop(token, None) is not None
            if not known:
                return None
            found = "".join(self.recording_xml(r, "tt:RecordingInformation")
                            for r in self.recordings)
            return ("<tse:GetRecordingSearchResultsResponse><tse:ResultList>"
                    f"<tt:SearchState>Completed</tt:SearchState>{found}</tse:ResultList>"
                    "</tse:GetRecordingSearchResultsResponse>")
        if op == "EndSearch":
            return ("<tse:EndSearchResponse><tse:Endpoint>"
                    f"{_iso(datetime.now(UTC))}</tse:Endpoint></tse:EndSearchResponse>")
        if op == "GetRecordingInformation":
            rec = self._recording(request.findtext(".//tse:RecordingToken", "", NS))
            if rec is None:
                return None
            return (f"<tse:GetRecordingInformationResponse>"
                    f"{self.recording_xml(rec, 'tse:RecordingInformation')}"
                    "</tse:GetRecordingInformationResponse>")
        if op == "GetReplayUri":
            rec = self._recording(request.findtext(".//trp:RecordingToken", "", NS))
            if rec is None:
                return None
            uri = f"rtsp://{self.address}:{self.rtsp_port}/replay/{rec['token']}"
            return f"<trp:GetReplayUriResponse><trp:Uri>{uri}</trp:Uri></trp:GetReplayUriResponse>"
        if op == "GetRecordingJobs":
            items = "".join(
                f"<trc:JobItem><tt:JobToken>job-{escape(r['token'])}</tt:JobToken>"
                "<tt:JobConfiguration>"
                f"<tt:RecordingToken>{escape(r['token'])}</tt:RecordingToken>"
                "<tt:Mode>Active</tt:Mode><tt:Priority>1</tt:Priority>"
                "</tt:JobConfiguration></trc:JobItem>" for r in self.recordings)
            return f"<trc:GetRecordingJobsResponse>{items}</trc:GetRecordingJobsResponse>"
        if op == "GetRecordingJobState":
            job = request.findtext(".//trc:JobToken", "", NS)
            rec = self._recording(job.removeprefix("job-"))
            if rec is None:
                return None
            full = int(self.storage.get("free_mb", 1)) <= 0
            # a full disk whose oldest footage may be overwritten still records
            state = "Active"
            error = ("<tt:Error>recording storage full: overwriting the oldest footage"
                     "</tt:Error>") if full else ""
            return (
                "<trc:GetRecordingJobStateResponse><trc:State>"
                f"<tt:RecordingToken>{escape(rec['token'])}</tt:RecordingToken>"
                f"<tt:State>{state}</tt:State><tt:Sources>"
                f"<tt:SourceToken><tt:Token>{escape(rec['camera'])}</tt:Token></tt:SourceToken>"
                f"<tt:State>{state}</tt:State><tt:Tracks><tt:Track><tt:SourceTag>video"
                "</tt:SourceTag><tt:Destination>VIDEO001</tt:Destination>"
                f"{error}<tt:State>{state}</tt:State></tt:Track></tt:Tracks></tt:Sources>"
                "</trc:State></trc:GetRecordingJobStateResponse>")
        return None

    def _recording(self, token: str) -> dict[str, Any] | None:
        return next((r for r in self.recordings if r["token"] == token), None)

    def storage_xml(self) -> str:
        disks = "".join(
            f"<hdd><id>{i + 1}</id><hddName>hdd{i + 1}</hddName><status>ok</status>"
            f"<capacity>{d['capacity_mb']}</capacity><freeSpace>{d['free_mb']}</freeSpace>"
            "<property>RW</property></hdd>" for i, d in enumerate([self.storage]))
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                '<storage version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">'
                f'<hddList size="1">{disks}</hddList></storage>')


def envelope(body: str) -> bytes:
    names = " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items() if k not in ("wsse", "wsu"))
    return (f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope {names}><s:Body>{body}'
            "</s:Body></s:Envelope>").encode()


def fault(code: str, reason: str) -> bytes:
    return envelope(
        f"<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>{code}</s:Value>"
        f"</s:Subcode></s:Code><s:Reason><s:Text xml:lang=\"en\">{escape(reason)}</s:Text>"
        "</s:Reason></s:Fault>")


class DigestGuard:
    """HTTP Digest (MD5, qop=auth) for the disk page, as such recorders ship it."""

    realm = "readiness-lab-nvr"

    def __init__(self, user: str, password: str):
        self.user, self.password = user, password
        self.nonces: set[str] = set()

    def challenge(self) -> str:
        nonce = secrets.token_hex(16)
        self.nonces.add(nonce)
        return f'Digest realm="{self.realm}", qop="auth", nonce="{nonce}", algorithm=MD5'

    def ok(self, header: str | None, method: str) -> bool:
        if not header or not header.startswith("Digest "):
            return False
        fields = {k: a or b for k, a, b in
                  re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', header[7:])}
        if fields.get("nonce") not in self.nonces or fields.get("username") != self.user:
            return False

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 (RFC 7616 MD5)

        ha1 = md5(f"{self.user}:{self.realm}:{self.password}")
        ha2 = md5(f"{method}:{fields.get('uri', '')}")
        want = md5(f"{ha1}:{fields['nonce']}:{fields.get('nc', '')}:{fields.get('cnonce', '')}"
                   f":auth:{ha2}")
        return secrets.compare_digest(fields.get("response", ""), want)


def handler_for(recorder: Recorder, guard: DigestGuard) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), fmt % args)

        def _send(self, code: int, body: bytes, ctype: str,
                  extra: dict[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path != "/ISAPI/ContentMgmt/Storage":
                self._send(404, b"not found\n", "text/plain")
                return
            if not guard.ok(self.headers.get("Authorization"), "GET"):
                self._send(401, b"unauthorized\n", "text/plain",
                           {"WWW-Authenticate": guard.challenge()})
                return
            self._send(200, recorder.storage_xml().encode(), "application/xml")

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(413, b"too large\n", "text/plain")
                return
            data = self.rfile.read(length)
            soap = "application/soap+xml; charset=utf-8"
            if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
                self._send(400, fault("ter:InvalidArgVal", "no DTDs"), soap)
                return
            try:
                root = ET.fromstring(data)
            except ET.ParseError:
                self._send(400, fault("ter:InvalidArgVal", "not XML"), soap)
                return
            body = root.find("s:Body", NS)
            op = _local(body[0].tag) if body is not None and len(body) else ""
            # the device service answers the time before authentication, as ONVIF asks
            if op != "GetSystemDateAndTime" and not recorder.token_ok(root):
                self._send(400, fault("ter:NotAuthorized", "Sender not Authorized"), soap)
                return
            answer = recorder.answer(op, root)
            if answer is None:
                self._send(400, fault("ter:InvalidArgVal", f"{op}: unknown token or operation"),
                           soap)
                return
            self._send(200, envelope(answer), soap)

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--rtsp-port", type=int, default=554)
    parser.add_argument("--user", default="admin")
    parser.add_argument("--config", required=True, help="the recordings and the disk (JSON)")
    parser.add_argument("--label", default="", help="the lab namespace (to find us in ps)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        log.error("the recorder's password must be in %s", PASSWORD_ENV)
        return 2
    with open(args.config, encoding="utf-8") as f:
        config = json.load(f)
    recorder = Recorder(config, args.address, args.rtsp_port, args.user, password)
    server = ThreadingHTTPServer((args.address, args.port),
                                 handler_for(recorder, DigestGuard(args.user, password)))
    recorder.http_port = server.server_address[1]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log.info("ONVIF recorder on http://%s:%d/onvif/device_service, %d recordings",
             args.address, recorder.http_port, len(recorder.recordings))
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
