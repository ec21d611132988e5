"""Benchmark: CAM-RES on ten loopback cameras, next to ffprobe.

Run from the repository root:  python bench/camera.py [--cameras 10]

Starts ten lab cameras (readiness/lab/rtsp_camera.py under /usr/bin/python3,
1280x720, 10 fps, no audio) on 127.0.0.1, then in one run:
  1. per camera, one after the other: our verdict time (probes.camera_stream.run_picture,
     warm-up 1 s + measure 2 s included) next to
     `ffprobe -rtsp_transport tcp -show_entries stream=codec_type,width,height`;
  2. all ten checked concurrently, each in its own decoder process (wall time; goal
     <= 6 s and <= the slowest camera alone + 1 s), next to ten ffprobes at once;
  3. peak memory: this process (the coordinator) and the largest decoder child
     (resource.getrusage), and the sum of the children's RSS sampled during step 2.
Our probe does more than ffprobe (it decodes 3 s of frames to judge frozen/covered and
the frame rate); the ratio shows what that costs. The cameras are always stopped.

Exit status: 0 every camera passed within the goal, 1 a verdict was wrong or the goal
was missed, 2 cannot run here.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from probes.camera_stream import picture_budget, run_picture  # noqa: E402
from readiness.config.profile import CamResThresholds  # noqa: E402
from readiness.judges.cameras import picture  # noqa: E402
from readiness.lab.loopback_cameras import Camera, gi_available, running  # noqa: E402
from readiness.results import Status  # noqa: E402

# the eda rule: the verdict time includes judging, as in a run
RULE = CamResThresholds(min_width=1280, min_height=720, min_megapixels=0.9)

GOAL_S = 6.0


def children_rss_mib() -> float:
    """Sum of the resident memory of this process's decoder children (not the cameras,
    which are children too)."""
    me = str(os.getpid())
    total_kib = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if b"camera_worker.py" not in cmdline.read():
                    continue
            with open(f"/proc/{pid}/status", encoding="ascii") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == me and "VmRSS" in fields:
            total_kib += int(fields["VmRSS"].split()[0])
    return total_kib / 1024


async def sample_children(peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], children_rss_mib())
        await asyncio.sleep(0.2)


def params(url: str) -> dict[str, object]:
    return {"url": url, "min_width": 1280, "min_height": 720, "warmup_s": 1.0,
            "measure_s": 2.0, "open_timeout_s": 5.0, "read_timeout_s": 3.0}


def ffprobe(url: str) -> tuple[float, str]:
    t0 = time.monotonic()
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries",
         "stream=codec_type,width,height", "-of", "csv=p=0", url],
        capture_output=True, text=True, timeout=30)
    return time.monotonic() - t0, out.stdout.strip().replace("\n", " ")


async def ours(url: str) -> tuple[float, Status, str]:
    p = params(url)
    t0 = time.monotonic()
    outcome = picture(await run_picture(p, picture_budget(p)),
                      {"thresholds": RULE, "where": url, "measure_s": p["measure_s"]})
    m = outcome.measured
    return time.monotonic() - t0, outcome.status, f"{m.get('width')}x{m.get('height')} " \
        f"{m.get('fps')} fps open {m.get('open_s')} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cameras", type=int, default=10)
    args = ap.parse_args(argv)
    if not gi_available() or shutil.which("ffprobe") is None:
        print("needs /usr/bin/python3 with python3-gi and ffprobe", file=sys.stderr)
        return 2
    with running({f"bench-{i}": Camera() for i in range(args.cameras)}) as named:
        return measure_all(list(named.values()))


def measure_all(urls: list[str]) -> int:
    wrong = 0
    print(f"{len(urls)} cameras 1280x720 @10 fps on 127.0.0.1\n")
    print(f"{'camera':<34} {'ours s':>7} {'ffprobe s':>9} {'ratio':>6}  verdict / ffprobe")
    our_times, ff_times = [], []
    for url in urls:
        t_ours, status, what = asyncio.run(ours(url))
        t_ff, ff_out = ffprobe(url)
        our_times.append(t_ours)
        ff_times.append(t_ff)
        wrong += status != Status.PASS
        print(f"{url:<34} {t_ours:7.2f} {t_ff:9.2f} {t_ours / t_ff:6.2f}  "
              f"{status.value} {what} / {ff_out}")
    print(f"{'median':<34} {statistics.median(our_times):7.2f} "
          f"{statistics.median(ff_times):9.2f} "
          f"{statistics.median(our_times) / statistics.median(ff_times):6.2f}")

    children_peak = [0.0]

    async def together() -> list[tuple[float, Status, str]]:
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_children(children_peak, stop))
        try:
            return list(await asyncio.gather(*(ours(u) for u in urls)))
        finally:
            stop.set()
            await sampler

    t0 = time.monotonic()
    results = asyncio.run(together())
    wall = time.monotonic() - t0
    t0 = time.monotonic()
    ffprobes = [subprocess.Popen(
        ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries",
         "stream=codec_type,width,height", "-of", "csv=p=0", u],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for u in urls]
    for proc in ffprobes:
        proc.wait(timeout=60)
    ff_wall = time.monotonic() - t0
    wrong += sum(status != Status.PASS for _, status, _ in results)
    slowest = max(t for t, _, _ in results)
    for url, (_, status, what) in zip(urls, results, strict=True):
        if status != Status.PASS:
            print(f"  {url}: {status.value} {what}")
    slowest_alone = max(our_times)
    print(f"\nall {len(urls)} concurrently: wall {wall:.2f} s (goal <= {GOAL_S:g} s and "
          f"<= slowest alone {slowest_alone:.2f} s + 1 s; slowest in the batch "
          f"{slowest:.2f} s, sequential sum was {sum(our_times):.2f} s); "
          f"{sum(s == Status.PASS for _, s, _ in results)}/{len(urls)} pass")
    print(f"all {len(urls)} ffprobes concurrently: wall {ff_wall:.2f} s")
    if wall > min(GOAL_S, slowest_alone + 1.0):
        print("goal missed")
        wrong += 1
    self_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: coordinator {self_mib:.0f} MiB, largest child (decoder or ffprobe) "
          f"{child_mib:.0f} MiB, all decoders at once {children_peak[0]:.0f} MiB")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
