"""`readiness verify` reads the evidence log with a bound on each line.

Before, a log with one 1 GiB line (a damaged file, or one made to hurt) was read whole:
4.3 GB of memory for one line. Now every line is read at most 32 MiB at a time; a longer
one is named as the first bad line (file and line number) and the records before it
still verify. The log is real (keys made and records signed by the real commands); the
1 GiB line is a sparse run of bytes appended to it, so it costs no disk. The child
process runs under an address-space limit of 1 GiB: the old reader could not stay under
it (MemoryError), the bounded one stays far below.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
GIB = 1024 ** 3
ADDRESS_SPACE = 1 * GIB


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _readiness(*argv: str, limit: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "readiness", *argv, "--lang", "en"],
                          capture_output=True, text=True, timeout=120, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "300"},
                          preexec_fn=_limited if limit else None)


@pytest.fixture
def signed_log(tmp_path: Path) -> tuple[Path, Path]:
    keys, log = tmp_path / "keys", tmp_path / "evidence.jsonl"
    assert _readiness("keys", "init", "--dir", str(keys)).returncode == 0
    for who in ("张三", "李四"):
        done = _readiness("attest", "--name", who, "--role", "考务组长", "--item", "staff=6",
                          "--log", str(log), "--dir", str(keys))
        assert done.returncode == 0, done.stdout + done.stderr
    ok = _readiness("verify", str(log), "--dir", str(keys), "--store",
                    str(tmp_path / "none.sqlite"))
    assert ok.returncode == 0 and "2 record(s) verified" in ok.stdout, ok.stdout + ok.stderr
    return log, keys


def _append_long_line(log: Path, size: int) -> None:
    with log.open("r+b") as f:
        end = f.seek(0, os.SEEK_END)
        f.write(b'{"seq":2,"body":"')
        f.truncate(end + size)  # sparse: a GiB of NUL bytes that take no disk
        f.seek(0, os.SEEK_END)
        f.write(b'"}\n')


def test_a_one_gib_line_is_named_not_read(signed_log: tuple[Path, Path],
                                          tmp_path: Path) -> None:
    log, keys = signed_log
    _append_long_line(log, GIB)
    # the command's own peak memory (VmHWM of its process after exec), not
    # RUSAGE_CHILDREN, which is the largest child the whole test session waited for
    argv = ["readiness", "verify", str(log), "--dir", str(keys), "--store",
            str(tmp_path / "none.sqlite"), "--lang", "en"]
    wrapper = ("import runpy, sys\n"
               f"sys.argv = {argv!r}\n"
               "try:\n"
               "    runpy.run_module('readiness', run_name='__main__')\n"
               "except SystemExit as stop:\n"
               "    code = stop.code\n"
               "hwm = next(l.split()[1] for l in open('/proc/self/status')\n"
               "           if l.startswith('VmHWM:'))\n"
               "print('VmHWM', hwm, file=sys.stderr)\n"
               "sys.exit(code)\n")
    done = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True,
                          timeout=120, cwd=REPO, preexec_fn=_limited,
                          env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "300"})
    out = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 1, out  # "it does not verify", not an internal error
    assert f"FAILED {log}: line 3: not a log record" in out
    assert "longer than 32 MiB" in out
    assert "the 2 record(s) before it verify" in out
    # the child's peak memory, far below the line's size
    peak_kib = int(done.stderr.rsplit("VmHWM", 1)[1].split()[0])
    assert peak_kib * 1024 < 300 * 1024 ** 2, f"peak {peak_kib} KiB"


def test_the_writer_refuses_to_append_after_such_a_line(signed_log: tuple[Path, Path]) -> None:
    log, keys = signed_log
    _append_long_line(log, 64 * 1024 ** 2)
    done = _readiness("attest", "--name", "王五", "--role", "技术支持", "--item", "staff=6",
                      "--log", str(log), "--dir", str(keys), limit=True)
    out = " ".join((done.stdout + done.stderr).split())
    assert done.returncode != 0 and "internal error" not in out
    assert "longer than 32 MiB" in out and "nothing was appended" in out
