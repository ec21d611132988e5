"""Reading the evidence log's lines with a bound on each.

The largest record readiness writes is one check's result: tens of kilobytes (an ARP
sweep of a full /16 room, the widest a site file allows, is a few megabytes). A line
far longer than that is not a record; reading it whole would only exhaust memory (a
1 GiB line held in Python costs several GB), so every reader stops at MAX_LINE_BYTES
and says which line of which file, and the writer refuses to write a longer record.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ..results import Text
from .errors import EvidenceError

MAX_LINE_BYTES = 32 * 1024 * 1024


class LineTooLong(EvidenceError):
    """A line of the log longer than any record; `line` is 1-based."""

    def __init__(self, path: Path, line: int, limit: int = MAX_LINE_BYTES):
        mib = limit // (1024 * 1024)
        super().__init__(Text(
            f"line {line} of {path} is longer than {mib} MiB, far longer than any record "
            "readiness writes: the file is damaged or is not an evidence log. Nothing from "
            f"that line on was read; keep the file for the inspector and run `readiness "
            f"verify {path}`",
            f"{path} 第 {line} 行超过 {mib} MiB，远长于 readiness 写入的任何记录：文件已损坏或不是"
            f"证据日志。该行及之后的内容未被读取；请保留该文件供检查，并运行 `readiness verify "
            f"{path}`"))
        self.path = path
        self.line = line


def read_line(f: BinaryIO, path: Path, line: int, limit: int = MAX_LINE_BYTES) -> bytes:
    """One line (with its line end, b"" at the end of the file); raises LineTooLong."""
    raw = f.readline(limit + 1)
    if len(raw) > limit:
        raise LineTooLong(path, line, limit)
    return raw


def bounded_lines(f: BinaryIO, path: Path, first_line: int = 1,
                  limit: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """`for raw in f`, each line at most `limit` bytes; raises LineTooLong naming the
    line (numbered from `first_line`)."""
    line = first_line
    while raw := read_line(f, path, line, limit):
        yield raw
        line += 1
