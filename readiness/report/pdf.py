"""Headless Chromium: the PDF of the report page (and, for tests, a screenshot).

Chromium is run as a separate process in its own session with a throw-away profile
folder, every network feature it has off, and a deadline. On every way out (done,
timeout, Ctrl-C, SIGTERM) the whole process group (Chromium forks a zygote and
renderers) is killed, and so is the crash handler that leaves the group; a PDF appears
only complete, its `.partial` file is removed. Nothing is left behind on the site machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..results import Text

BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DEFAULT_TIMEOUT_S = 90.0
INSTALL_HINT = Text(
    "the PDF needs Chromium and a Chinese font: apt-get install chromium fonts-noto-cjk",
    "生成 PDF 需要 Chromium 和中文字体：apt-get install chromium fonts-noto-cjk")

# Chromium's SingletonSocket lives in TMPDIR/org.chromium.Chromium.XXXXXX/ and a Unix
# socket path holds at most 107 bytes: past that the browser aborts (zygote "Broken pipe")
SOCKET_TAIL = "/org.chromium.Chromium.XXXXXX/SingletonSocket"
MAX_SOCKET_PATH = 107

# Flags that keep a headless run from reaching out (updates, sync, safe browsing,
# metrics) and from needing a desktop session. --no-sandbox: the site tool often runs
# as root, where Chromium refuses to start with its sandbox.
BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
    "--metrics-recording-only",
)


@dataclass(frozen=True)
class ChromiumResult:
    ok: bool
    problem: Text | None = None


def find_chromium() -> str | None:
    """Path of a Chromium or Chrome binary, or None. READINESS_CHROMIUM overrides."""
    chosen = os.environ.get("READINESS_CHROMIUM")
    if chosen:
        return shutil.which(chosen) or (chosen if Path(chosen).is_file() else None)
    for name in BINARIES:
        found = shutil.which(name)
        if found:
            return found
    return None


def run_chromium(page: Path, flags: list[str], *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 binary: str | None = None) -> ChromiumResult:
    """Open `page` (a local HTML file) in headless Chromium with extra `flags`
    (e.g. --print-to-pdf=FILE) and wait for it to exit."""
    binary = binary or find_chromium()
    if binary is None:
        return ChromiumResult(False, INSTALL_HINT)
    with tempfile.TemporaryDirectory(prefix="readiness-chromium-") as profile_dir:
        env = dict(os.environ)
        # Chromium writes caches and crash reports under HOME / XDG folders, and temp
        # folders (org.chromium.Chromium.*) under TMPDIR that a killed browser cannot
        # remove: keep all of them in the throw-away folder, which is always removed
        env.update(HOME=profile_dir, XDG_CONFIG_HOME=profile_dir, XDG_CACHE_HOME=profile_dir)
        if len(os.fsencode(profile_dir)) + len(SOCKET_TAIL) <= MAX_SOCKET_PATH:
            env["TMPDIR"] = profile_dir
        argv = [binary, *BASE_FLAGS, f"--user-data-dir={profile_dir}", *flags,
                page.resolve().as_uri()]
        try:
            # its own session and process group: Ctrl-C in the terminal does not reach it
            # half-way, and one killpg stops the browser with its zygote and renderers
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env, start_new_session=True)
        except OSError as err:
            return ChromiumResult(False, Text(f"cannot start {binary}: {err.strerror}",
                                              f"无法启动 {binary}：{err.strerror}"))
        try:
            _, err_bytes = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return ChromiumResult(False, Text(
                f"Chromium did not finish within {timeout_s:.0f} s",
                f"Chromium 未在 {timeout_s:.0f} 秒内完成"))
        finally:
            # every way out (done, timeout, Ctrl-C, SIGTERM raised as an exception): the
            # browser's helpers share its group; make sure none outlives it
            _kill_group(proc)
            _kill_strays(profile_dir)
    if proc.returncode != 0:
        tail = _last_line(err_bytes)
        return ChromiumResult(False, Text(
            f"Chromium exited with code {proc.returncode}: {tail}",
            f"Chromium 退出码 {proc.returncode}：{tail}"))
    return ChromiumResult(True)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.communicate(timeout=10)
    except (subprocess.TimeoutExpired, ValueError):
        pass
    except KeyboardInterrupt:  # a second Ctrl-C: the group is killed already, just reap
        proc.wait(timeout=10)
        raise


def _kill_strays(profile_dir: str) -> None:
    """Kill what escaped the group: Chromium's crash handler (chrome_crashpad_handler)
    calls setsid and is re-parented to init, so killpg misses it. Every such helper names
    the throw-away profile folder on its command line, and nothing else does."""
    proc_root = Path("/proc")
    if not proc_root.is_dir():  # not Linux: the group kill is all there is
        return
    marker, me = os.fsencode(profile_dir), os.getpid()
    for entry in proc_root.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            if marker in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except OSError:  # gone meanwhile, or not ours to read
            continue


def _last_line(data: bytes) -> str:
    lines = [ln for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "no message"


def print_pdf(page: Path, pdf: Path, *, timeout_s: float = DEFAULT_TIMEOUT_S,
              binary: str | None = None) -> ChromiumResult:
    """Print `page` to `pdf`; the file appears only once it is a complete PDF."""
    pdf.parent.mkdir(parents=True, exist_ok=True)
    partial = pdf.with_name(f".{pdf.name}.partial")
    partial.unlink(missing_ok=True)
    try:  # the finally also runs on Ctrl-C and SIGTERM: no half-written PDF is left
        result = run_chromium(page, [
            f"--print-to-pdf={partial}",
            "--no-pdf-header-footer",
            "--print-to-pdf-no-header",  # the same switch in Chromium before version 111
        ], timeout_s=timeout_s, binary=binary)
        if result.ok:
            with partial.open("rb") as f:
                if f.read(5) != b"%PDF-":
                    return ChromiumResult(False, Text("Chromium wrote no PDF",
                                                      "Chromium 未生成 PDF"))
            partial.replace(pdf)
        return result
    except OSError:
        return ChromiumResult(False, Text("Chromium wrote no PDF", "Chromium 未生成 PDF"))
    finally:
        partial.unlink(missing_ok=True)


def screenshot(page: Path, png: Path, *, width: int = 1280, height: int = 4000,
               timeout_s: float = DEFAULT_TIMEOUT_S,
               binary: str | None = None) -> ChromiumResult:
    """A PNG of the page as a screen shows it (tests look at it)."""
    result = run_chromium(page, [f"--screenshot={png}", f"--window-size={width},{height}"],
                          timeout_s=timeout_s, binary=binary)
    if result.ok and not png.is_file():
        return ChromiumResult(False, Text("Chromium wrote no screenshot",
                                          "Chromium 未生成截图"))
    return result
