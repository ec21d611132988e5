"""Output files that exist only whole: written beside their final name, then renamed.

A `check` or `report` stopped half-way (Ctrl-C, SIGTERM, a full disk) must leave neither a
truncated JSON/XML/HTML file that a dashboard or an inspector would take for a whole one,
nor a `.partial` file behind.
"""

from __future__ import annotations

import os
from pathlib import Path


def partial_name(path: Path) -> Path:
    """Where `path` is written first: hidden, beside it (same file system: rename is atomic)."""
    return path.with_name(f".{path.name}.partial")


def write_complete(path: Path, data: str | bytes) -> None:
    """Write `data` (text as UTF-8) to `path` all at once; on any failure or interrupt the
    old file, if any, stays as it was and the partial file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_name(path)
    try:
        partial.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


__all__ = ["partial_name", "write_complete"]
