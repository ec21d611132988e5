"""What a recorder (NVR) or a camera with its own storage says over ONVIF Profile G, and
the disks' free space where the recorder publishes it.

ONVIF through `onvif-zeep-async` (maintained, asyncio, ships the ONVIF WSDLs in its
wheel, so nothing is fetched at run time; it signs every request with a WS-Security
UsernameToken digest, which recorders require): the device service's GetServices finds
the Search, Replay and Recording services; Search gives the summary (DataFrom, DataUntil)
and every recording (FindRecordings + GetRecordingSearchResults: token, source, tracks,
latest data); Replay gives each recording's RTSP replay URI; Recording gives the recording
jobs and their state (a job or track in Error says why it cannot write).

ONVIF has no free-space query. Most exam sites' recorders (Hikvision and its OEMs)
publish their disks at ISAPI /ISAPI/ContentMgmt/Storage (capacity and freeSpace in MB,
HTTP Digest): `read_isapi_storage` reads that.

Every failure is a `RecorderError` with words in both languages and a kind
(unreachable, auth, timeout, protocol); the password is never in a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

# the library logs every SOAP fault at warning level; the probe reports them itself
logging.getLogger("onvif").setLevel(logging.ERROR)
logging.getLogger("zeep").setLevel(logging.ERROR)

STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
# the services a session reads: their WSDLs are parsed once per process
SERVICES_USED = ("devicemgmt", "search", "replay", "recording")
_parsed = threading.Lock()
_parsed_done: list[bool] = []
# A thread of its own: the run's default executor (a handful of threads) also resolves
# names for SNMP and HTTP and reads the self-report; six checks waiting there for one
# parse left the UPS's SNMP request queued past its timeout.
_PARSER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="onvif-wsdl")


def parse_wsdls_once() -> None:
    """Parse the ONVIF WSDLs into the library's document cache, once per process, in the
    calling thread (run it in a worker thread). Why: parsing them takes ~0.4 s of CPU;
    done inside the run's event loop by several checks at once it starves every other
    probe, and a check cancelled at its deadline while the library sets a service up
    would leave that service's HTTP session unclosed. With the documents cached, setting
    a service up never waits, so a cancellation only meets calls of registered services,
    which closing the session closes. Uses the library's document cache (onvif.client,
    pinned below version 5)."""
    with _parsed:
        if _parsed_done:
            return
        from onvif import client
        from onvif.definition import SERVICES

        folder = Path(client._WSDL_PATH)

        async def load() -> None:
            for name in SERVICES_USED:
                await client._cached_document(str(folder / SERVICES[name]["wsdl"]))

        asyncio.run(load())
        _parsed_done.append(True)


class RecorderError(Exception):
    def __init__(self, kind: str, en: str, zh: str):
        super().__init__(en)
        self.kind, self.en, self.zh = kind, en, zh


@dataclass
class Recording:
    token: str
    name: str | None
    source: str | None  # the source's address (the camera's stream URI, as the recorder has it)
    latest: datetime | None  # LatestRecording, else the newest track's DataTo
    tracks: list[str] = field(default_factory=list)  # "Video", "Audio", "Metadata"
    status: str | None = None


@dataclass
class JobState:
    token: str
    recording: str
    state: str
    errors: list[str] = field(default_factory=list)


@dataclass
class RecorderView:
    data_from: datetime | None
    data_until: datetime | None
    recordings: list[Recording]
    jobs: list[JobState] | None  # None: the recorder has no Recording service


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _get(obj: Any, name: str) -> Any:
    try:
        return obj[name]
    except (KeyError, TypeError, IndexError):
        return getattr(obj, name, None)


def _recording(info: Any) -> Recording:
    tracks = _as_list(_get(info, "Track"))
    source = _get(info, "Source")
    latest = _get(info, "LatestRecording")
    if latest is None:
        ends = [t for t in (_get(tr, "DataTo") for tr in tracks) if t is not None]
        latest = max(ends) if ends else None
    return Recording(
        token=str(_get(info, "RecordingToken")),
        name=_get(source, "Name"),
        source=_get(source, "Address") or _get(source, "SourceId"),
        latest=latest,
        tracks=[str(_get(t, "TrackType")) for t in tracks if _get(t, "TrackType")],
        status=_get(info, "RecordingStatus"),
    )


def _translate(exc: BaseException, where: tuple[str, str]) -> RecorderError:
    """One error in words people act on, whatever layer raised it."""
    import aiohttp
    import zeep.exceptions

    text = str(exc)
    where, where_zh = where
    if isinstance(exc, RecorderError):
        return exc
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return RecorderError("timeout", f"{where} did not answer in time",
                             f"{where_zh} 未在规定时间内应答")
    if isinstance(exc, zeep.exceptions.Fault) and ("uthoriz" in text or "ssword" in text):
        return RecorderError("auth", f"{where} refused the user name or password",
                             f"{where_zh} 拒绝了用户名或密码")
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, aiohttp.ClientConnectorError) or isinstance(
            cause, aiohttp.ClientConnectorError | ConnectionError | OSError):
        return RecorderError("unreachable", f"cannot connect to {where} ({text[:120]})",
                             f"无法连接 {where_zh}（{text[:120]}）")
    if "Unknown error" in text or "Errno" in text or "Cannot connect" in text:
        return RecorderError("unreachable", f"cannot connect to {where} ({text[:120]})",
                             f"无法连接 {where_zh}（{text[:120]}）")
    return RecorderError("protocol", f"{where} gave an answer readiness cannot use: "
                         f"{type(exc).__name__}: {text[:160]}",
                         f"{where_zh} 的应答无法使用：{type(exc).__name__}：{text[:160]}")


class Recorder:
    """One ONVIF session with a recorder: `async with Recorder(...) as rec:`."""

    def __init__(self, host: str, port: int, user: str | None, password: str | None,
                 timeout_s: float):
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.where = (f"the recorder {host}:{port}", f"录像机 {host}:{port}")
        self._user, self._password = user, password
        self._camera: Any = None

    async def __aenter__(self) -> Recorder:
        # first, in a worker thread: importing the library (zeep, aiohttp, lxml) and
        # parsing its WSDLs takes a second of CPU that must not stall the run's loop
        await asyncio.get_running_loop().run_in_executor(_PARSER, parse_wsdls_once)
        from onvif import ONVIFCamera

        # no_cache: the library's WSDL cache is a sqlite file in the user's home
        self._camera = ONVIFCamera(self.host, self.port, self._user, self._password,
                                   no_cache=True)
        try:
            await self._call(self._camera.update_xaddrs())
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._camera is not None:
            with contextlib.suppress(Exception):
                await self._camera.close()

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await asyncio.wait_for(awaitable, self.timeout_s)
        except Exception as exc:  # every layer's error becomes one RecorderError
            raise _translate(exc, self.where) from None

    async def _service(self, name: str) -> Any:
        from onvif.exceptions import ONVIFError

        try:
            return await self._call(self._camera.create_onvif_service(name))
        except RecorderError as exc:
            if exc.kind == "protocol" and "support" in exc.en:
                raise RecorderError("no_service", f"{self.where[0]} has no ONVIF {name} "
                                    "service (Profile G)", f"{self.where[1]} 没有 ONVIF "
                                    f"{name} 服务（Profile G）") from None
            raise
        except ONVIFError as exc:  # pragma: no cover - _call translates it already
            raise _translate(exc, self.where) from None

    async def view(self, with_jobs: bool = True) -> RecorderView:
        search = await self._service("search")
        summary = await self._call(search.GetRecordingSummary())
        token = await self._call(search.FindRecordings(
            {"Scope": {}, "KeepAliveTime": "PT10S"}))
        recordings: list[Recording] = []
        # a recorder may hand its results over in several parts
        for _ in range(20):
            result = await self._call(search.GetRecordingSearchResults(
                {"SearchToken": token, "WaitTime": "PT1S"}))
            recordings += [_recording(i) for i in _as_list(_get(result, "RecordingInformation"))]
            if _get(result, "SearchState") == "Completed":
                break
        jobs = await self.jobs() if with_jobs else None
        return RecorderView(_get(summary, "DataFrom"), _get(summary, "DataUntil"), recordings,
                            jobs)

    async def jobs(self) -> list[JobState] | None:
        try:
            recording = await self._service("recording")
        except RecorderError as exc:
            if exc.kind == "no_service":
                return None
            raise
        out = []
        for item in _as_list(await self._call(recording.GetRecordingJobs())):
            job = str(_get(item, "JobToken"))
            state = await self._call(recording.GetRecordingJobState({"JobToken": job}))
            errors = [str(e) for src in _as_list(_get(state, "Sources"))
                      for tr in _as_list(_get(_get(src, "Tracks"), "Track"))
                      if (e := _get(tr, "Error"))]
            out.append(JobState(job, str(_get(state, "RecordingToken")),
                                str(_get(state, "State")), errors))
        return out

    async def replay_uri(self, recording_token: str) -> str:
        replay = await self._service("replay")
        return str(await self._call(replay.GetReplayUri(
            {"StreamSetup": STREAM_SETUP, "RecordingToken": recording_token})))


@dataclass
class Disk:
    name: str
    capacity_mb: int
    free_mb: int
    status: str


ISAPI_STORAGE = "/ISAPI/ContentMgmt/Storage"


def parse_isapi_storage(text: str) -> list[Disk]:
    """The disks of an ISAPI storage document (namespace-agnostic)."""
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise ValueError("a DTD in the answer")
    root = ET.fromstring(text)

    def child(node: ET.Element, name: str) -> str | None:
        return next(((c.text or "").strip() for c in node if c.tag.rsplit("}", 1)[-1] == name),
                    None)

    disks = []
    for node in root.iter():
        if node.tag.rsplit("}", 1)[-1] not in ("hdd", "nas"):
            continue
        capacity, free = child(node, "capacity"), child(node, "freeSpace")
        if capacity is None or free is None:
            continue
        disks.append(Disk(child(node, "hddName") or child(node, "id") or "?",
                          int(capacity), int(free), child(node, "status") or "unknown"))
    return disks


def read_isapi_storage(host: str, port: int, user: str | None, password: str | None,
                       timeout_s: float) -> list[Disk]:
    """Blocking (run it in a thread): the recorder's disks, or a RecorderError."""
    import requests
    from requests.auth import HTTPDigestAuth

    url = f"http://{host}:{port}{ISAPI_STORAGE}"
    where, where_zh = f"the recorder's disk page {url}", f"录像机硬盘信息页 {url}"
    try:
        reply = requests.get(f"http://{host}:{port}{ISAPI_STORAGE}", timeout=timeout_s,
                             auth=HTTPDigestAuth(user or "", password or ""))
    except requests.Timeout:
        raise RecorderError("timeout", f"{where} did not answer in time",
                            f"{where_zh} 未在规定时间内应答") from None
    except requests.RequestException as exc:
        raise RecorderError("unreachable", f"cannot read {where} ({type(exc).__name__})",
                            f"无法读取 {where_zh}（{type(exc).__name__}）") from None
    if reply.status_code == 401:
        raise RecorderError("auth", f"{where} refused the user name or password",
                            f"{where_zh} 拒绝了用户名或密码")
    if reply.status_code != 200:
        raise RecorderError("protocol", f"{where} answered HTTP {reply.status_code}",
                            f"{where_zh} 返回 HTTP {reply.status_code}")
    try:
        disks = parse_isapi_storage(reply.text)
    except (ET.ParseError, ValueError) as exc:
        raise RecorderError("protocol", f"{where} is not a storage document ({exc})",
                            f"{where_zh} 不是存储信息文档（{exc}）") from None
    if not disks:
        raise RecorderError("protocol", f"{where} lists no disk", f"{where_zh} 未列出任何硬盘")
    return disks
