"""One camera's decode, in a child process of its own (run as a script by
probes/camera_stream.py, never imported by the run).

Why a process: OpenCV's FFmpeg backend holds one process-wide lock while it opens a
stream, so cameras opened from threads of one process open one after another; and a
read that FFmpeg blocks in cannot be interrupted from a thread. A child per camera opens
at the same time as every other, and the parent kills it at its deadline.

Protocol: the parent writes one JSON line on stdin (the URL with its credentials, which
therefore never appears in a process list, and the timing knobs); the child writes one
JSON line of plain measurements on stdout (a private copy of it: whatever OpenCV or
FFmpeg print goes to stderr). cv2 is imported before stdin is read, so the import
overlaps the parent's RTSP DESCRIBE.

FFmpeg's stream analysis is kept short (half a second) so a healthy camera opens fast;
a camera whose first key frame comes later (a busy encoder) leaves FFmpeg without the
picture's size: the open or the first read fails. Such a stream is opened once more
with a patient analysis, when the parent's `budget_s` allows, and says so (`reopened`).

Measurements (judged in readiness/judges/cameras.py):
  fps            frames over the measuring window divided by the span of their stream
                 timestamps (CAP_PROP_POS_MSEC, i.e. the pts): what the camera sends,
                 whatever the decoding machine's load; fps_source says "pts" or, for a
                 stream without usable timestamps, "arrival"
  luma_mean/std  median over the window of the frame's mean and spread of luma
  dark_share     median share of pixels darker than DARK_LUMA
  detail         median variance of the Laplacian of a 320x180 grey copy: edges and
                 texture; a lens covered by any cloth, dark or light, has next to none
  motion         largest change of any block of a 64x36 grid of block means against the
                 first measured frame (a frozen picture stays under the judge's floor)
  window_s       how long the measuring lasted, a last read that waited for a frame
                 included; measured_frames is set against it and the frame rate
  longest_gap_s  the longest time without a frame from the open to the window's end;
                 gap_from_s when it began (seconds into the stream by its own
                 timestamps, else since the open: when a stream stopped),
                 gap_runnable_s how much of it the decoder's most held-back thread
                 waited for a CPU (a gap the decoder spent runnable is this computer's load,
                 one it spent asleep in a read is the camera sending nothing),
                 gap_queued_bytes what the camera had sent that this process had not yet
                 read when the gap ended (its TCP receive queues): a decoder behind a
                 camera that keeps sending leaves data waiting, one whose camera stopped
                 finds nothing; absent where the kernel's socket table cannot be read;
                 gap_to_end true when the stream did not come back from it: the window
                 ended, or the read that ended it waited out its timeout (FFmpeg then
                 hands over the frames still in its decoder: stale, not a resumed stream)
  declared_fps   the frame rate the stream declares (CAP_PROP_FPS): the rate measured
                 from its timestamps is set against it (a camera dropping frames)
  failed_read_s  how long the read that failed waited (about read_timeout_s: the
                 session stayed open and sent nothing; short: the stream ended)
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

# A healthy camera's stream is analysed in half a second; a camera whose first key
# frame comes later gets a second open that waits up to PATIENT for it.
QUICK_ANALYSIS = "rtsp_transport;tcp|analyzeduration;500000"
PATIENT_ANALYSIS = "rtsp_transport;tcp|analyzeduration;4000000"
GRID = (64, 36)
SMALL = (320, 180)
SNAPSHOT_WIDTH = 640
DARK_LUMA = 32
# a read that waited this share of its timeout or more waited it out
TIMED_OUT = 0.9


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _rate(stamps_ms: list[float], arrivals: list[float]) -> tuple[float | None, str]:
    """Frames per second from the stream's own timestamps when they advance, else from
    arrival times (which a busy decoder bunches up: a fallback only)."""
    if len(stamps_ms) >= 2 and stamps_ms[-1] > stamps_ms[0] \
            and all(b >= a for a, b in zip(stamps_ms, stamps_ms[1:], strict=False)):
        return (len(stamps_ms) - 1) * 1000.0 / (stamps_ms[-1] - stamps_ms[0]), "pts"
    if len(arrivals) >= 2 and arrivals[-1] > arrivals[0]:
        return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]), "arrival"
    return None, "none"


def _open(url: str, p: dict[str, Any], cv2: Any, out: dict[str, Any]) -> Any:
    open_ms = int(float(p["open_timeout_s"]) * 1000)
    read_ms = int(float(p["read_timeout_s"]) * 1000)
    t0 = time.monotonic()
    for attempt in range(2):
        cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, open_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, read_ms])
        # A quick refusal may be a camera still closing the previous viewer's session
        # (503, right after the DESCRIBE or CAM-AUDIO's): try once more.
        if cap.isOpened() or attempt or time.monotonic() - t0 > 1.0:
            break
        cap.release()
        out["open_retried"] = True
        time.sleep(0.3)
    out["open_s"] = round(time.monotonic() - t0, 3)
    if not cap.isOpened():
        cap.release()
        return None
    out["opened"] = True
    return cap


def capture(url: str, p: dict[str, Any], cv2: Any, np: Any) -> dict[str, Any]:
    started = time.monotonic()
    out: dict[str, Any] = {"opened": False, "frames": 0}
    first: dict[str, Any] | None = None
    for analysis in (QUICK_ANALYSIS, PATIENT_ANALYSIS):
        # read at each open: set before the VideoCapture, in this process only
        os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = analysis
        cap = _open(url, p, cv2, out)
        if cap is not None:
            try:
                _measure(cap, p, out, cv2, np)
            finally:
                cap.release()
        if first is not None:
            # the second open did no better: what the first one saw is the finding
            return out if out["frames"] or not first["opened"] else \
                {**first, "reopened": out["reopened"] + "; the second open did no better"}
        # Not one frame: the quick stream analysis may have ended before the camera's
        # first key frame (a busy encoder), so FFmpeg never learnt the picture's size.
        # Open once more and wait for it, when a whole second try fits the deadline.
        left = float(p["budget_s"]) - (time.monotonic() - started)
        # the second open takes about as long as the first did (a camera that opened in a
        # second will not need the whole open timeout): waiting for the worst case left no
        # room to retry after a first read that timed out
        reopen_s = min(float(p["open_timeout_s"]), 2 * float(out.get("open_s", 0.0)) + 1.0)
        need = reopen_s + sum(float(p[k]) for k in ("read_timeout_s", "warmup_s",
                                                    "measure_s"))
        if out["frames"] or left < need:
            return out
        first = out
        done = "opened without a frame" if out["opened"] else "did not open"
        out = {"opened": False, "frames": 0,
               "reopened": f"{done} in {out['open_s']:.1f} s with a quick stream analysis"}
    return out


def _run_delays() -> dict[str, int] | None:
    """Nanoseconds each of this process's threads has spent runnable but waiting for a
    CPU (/proc/self/task/*/schedstat, its second field), by thread id. None where the
    kernel does not say."""
    delays: dict[str, int] = {}
    try:
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/schedstat", encoding="ascii") as f:
                delays[task] = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return delays


def _held_back_s(before: dict[str, int] | None, after: dict[str, int] | None
                 ) -> float | None:
    """How long the most held-back thread waited for a CPU between two readings: how much
    a busy machine held the decoder back. The most, not the sum: FFmpeg's threads that
    wake to poll a silent socket each wait a little on a busy machine, and their sum
    could exceed a gap in which the camera simply sent nothing."""
    if before is None or after is None:
        return None
    return max((ns - before.get(tid, 0) for tid, ns in after.items()), default=0) / 1e9


def _socket_inodes() -> set[str]:
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def _queued_bytes() -> int | None:
    """Bytes waiting unread in this process's TCP receive queues (FFmpeg's RTSP-over-TCP
    connection is its only one), from /proc/self/net/tcp and tcp6 (rx_queue, by socket
    inode). None where they cannot be read."""
    try:
        inodes = _socket_inodes()
        total, found = 0, False
        for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
            with open(table, encoding="ascii") as f:
                next(f, None)
                for line in f:
                    fields = line.split()
                    if len(fields) > 9 and fields[9] in inodes:
                        total += int(fields[4].split(":")[1], 16)
                        found = True
    except (OSError, ValueError, IndexError):
        return None
    return total if found else None


class _Gaps:
    """The longest time without a frame since the stream opened, when it began, and
    how much of it the decoder spent waiting for a CPU rather than for the camera."""

    def __init__(self, start: float) -> None:
        self.start = self.last = start
        self.last_delays = _run_delays()
        self.longest = 0.0
        self.longest_from = 0.0
        self.longest_runnable: float | None = None
        self.longest_queued: int | None = None
        self.longest_to_end = False
        # stream time (the frames' own timestamps, ms): a decoder running behind reads
        # frames buffered before a stop late, the timestamps still say when they were made
        self.first_pts: float | None = None
        self.last_pts: float | None = None
        self.longest_from_pts: float | None = None

    def until(self, now: float, end: bool = False) -> None:
        """The gap up to `now`: a frame's arrival, or (`end`) the window's end."""
        gap = now - self.last
        if gap > self.longest:
            self.longest_to_end = end
            self.longest, self.longest_from = gap, self.last - self.start
            self.longest_from_pts = None if self.first_pts is None or self.last_pts is None \
                or self.last_pts < self.first_pts else (self.last_pts - self.first_pts) / 1000
            self.longest_runnable = _held_back_s(self.last_delays, _run_delays())
            self.longest_queued = _queued_bytes()

    def frame(self, now: float, pts_ms: float, timed_out: bool = False) -> None:
        self.until(now, end=timed_out)
        self.last = now
        self.last_delays = _run_delays()
        if self.first_pts is None:
            self.first_pts = pts_ms
        self.last_pts = pts_ms

    def report(self, out: dict[str, Any]) -> None:
        out["longest_gap_s"] = round(self.longest, 2)
        # when the gap began: by the stream's clock where its timestamps advance
        since = self.longest_from_pts if self.longest_from_pts else self.longest_from
        out["gap_from_s"] = round(since, 2)
        if self.longest_runnable is not None:
            out["gap_runnable_s"] = round(self.longest_runnable, 2)
        if self.longest_queued is not None:
            out["gap_queued_bytes"] = self.longest_queued
        out["gap_to_end"] = self.longest_to_end


def _measure(cap: Any, p: dict[str, Any], out: dict[str, Any], cv2: Any, np: Any) -> None:
    last = None
    gaps = _Gaps(time.monotonic())
    warm_end = gaps.start + float(p["warmup_s"])
    # warm-up: frames buffered during the open come out in a burst; let them go by
    while time.monotonic() < warm_end:
        asked = time.monotonic()
        ok, frame = cap.read()
        if not ok:
            out["read_failed"] = True
            out["failed_read_s"] = round(time.monotonic() - asked, 2)
            break
        gaps.frame(time.monotonic(), float(cap.get(cv2.CAP_PROP_POS_MSEC)))
        out["frames"] += 1
        last = frame
    stamps: list[float] = []
    arrivals: list[float] = []
    lumas: list[float] = []
    spreads: list[float] = []
    darks: list[float] = []
    details: list[float] = []
    grids: list[Any] = []
    measure_start = time.monotonic()
    measure_end = measure_start + float(p["measure_s"])
    read_timeout = float(p["read_timeout_s"])
    while not out.get("read_failed") and time.monotonic() < measure_end:
        asked = time.monotonic()
        ok, frame = cap.read()
        now = time.monotonic()
        if not ok:
            out["read_failed"] = True
            # a read that waited (nearly) its whole timeout: the session is there and
            # sends nothing; a quick failure is a stream that ended
            out["failed_read_s"] = round(now - asked, 2)
            break
        stamps.append(float(cap.get(cv2.CAP_PROP_POS_MSEC)))
        gaps.frame(now, stamps[-1], timed_out=now - asked >= TIMED_OUT * read_timeout)
        arrivals.append(now)
        out["frames"] += 1
        last = frame
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        small = cv2.resize(gray, SMALL, interpolation=cv2.INTER_AREA)
        lumas.append(float(small.mean()))
        spreads.append(float(small.std()))
        darks.append(float((small < DARK_LUMA).mean()))
        details.append(float(cv2.Laplacian(small, cv2.CV_64F).var()))
        grids.append(cv2.resize(gray, GRID, interpolation=cv2.INTER_AREA).astype(np.float32))
    ended = time.monotonic()
    gaps.until(ended, end=True)
    gaps.report(out)
    # the whole window, a blocked last read included
    out["window_s"] = round(ended - measure_start, 2)
    if last is not None:
        out["height"], out["width"] = int(last.shape[0]), int(last.shape[1])
    out["measured_frames"] = len(arrivals)
    declared = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    if 0 < declared <= 1000:
        out["declared_fps"] = round(declared, 2)
    fps, source = _rate(stamps, arrivals)
    if fps is not None:
        out["fps"], out["fps_source"] = round(fps, 2), source
    if lumas:
        out["luma_mean"] = round(_median(lumas), 2)
        out["luma_std"] = round(_median(spreads), 2)
        out["dark_share"] = round(_median(darks), 4)
        out["detail"] = round(_median(details), 2)
    if len(grids) >= 2:
        diffs = [np.abs(g - grids[0]) for g in grids[1:]]
        out["motion"] = round(float(max(d.max() for d in diffs)), 2)
        out["mean_abs_diff"] = round(float(max(d.mean() for d in diffs)), 3)
    snapshot = p.get("snapshot_path")
    if snapshot and last is not None:
        height, width = last.shape[:2]
        scale = min(1.0, SNAPSHOT_WIDTH / width)
        small = cv2.resize(last, (max(1, int(width * scale)), max(1, int(height * scale))),
                           interpolation=cv2.INTER_AREA)
        Path(snapshot).parent.mkdir(parents=True, exist_ok=True)
        if cv2.imwrite(str(snapshot), small, [cv2.IMWRITE_JPEG_QUALITY, 80]):
            out["snapshot"] = str(snapshot)


def _private_answer_channel() -> Any:
    """The parent's pipe, kept for our one answer line; what OpenCV or FFmpeg print on
    standard output (debug logging, a warning) goes to standard error instead and can
    never corrupt the answer."""
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return answer


def main() -> None:
    answer = _private_answer_channel()
    import cv2
    import numpy as np

    line = sys.stdin.readline()
    if not line.strip():
        return  # the parent gave up before asking (its DESCRIBE failed)
    request = json.loads(line)
    try:
        result = capture(request["url"], request["params"], cv2, np)
    except Exception as exc:  # say which, never the URL (it holds the password)
        result = {"opened": False, "frames": 0, "exception": type(exc).__name__}
    answer.write(json.dumps(result) + "\n")
    answer.flush()


if __name__ == "__main__":
    main()
