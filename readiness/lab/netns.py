"""Network namespaces: list, create, delete, and find the processes inside them.

Everything goes through `ip -batch` / `ip -n NS` / `tc -n NS`, a handful of processes
for the whole room, instead of one `ip netns exec` per setting.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .shell import resolve, run

NETNS_DIR = Path("/run/netns")
ETC_NETNS = Path("/etc/netns")


def list_netns(prefix: str) -> list[str]:
    """Namespaces whose name starts with `<prefix>-`, the only ones the lab may touch."""
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.startswith(f"{prefix}-"))


def add_all(names: list[str]) -> None:
    run(
        ["ip", "-batch", "-"],
        stdin="".join(f"netns add {n}\n" for n in names),
        what="creating the lab's network namespaces",
    )


def delete_all(names: list[str]) -> None:
    # -force: keep going past a namespace that vanished in the meantime.
    run(
        ["ip", "-force", "-batch", "-"],
        stdin="".join(f"netns del {n}\n" for n in names),
        what="deleting the lab's network namespaces",
        timeout=30,
    )


def pids_in(names: list[str]) -> dict[int, str]:
    """pid -> namespace for every process inside one of `names` (what `ip netns pids` does,
    in one pass over /proc for all namespaces)."""
    wanted: dict[tuple[int, int], str] = {}
    for name in names:
        try:
            st = os.stat(NETNS_DIR / name)
        except OSError:
            continue
        wanted[(st.st_dev, st.st_ino)] = name
    found: dict[int, str] = {}
    if not wanted:
        return found
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:  # gone, or a zombie without namespaces
            continue
        name = wanted.get((st.st_dev, st.st_ino))
        if name:
            found[int(entry)] = name
    return found


def pid_in_netns(pid: int, name: str) -> bool:
    try:
        a, b = os.stat(f"/proc/{pid}/ns/net"), os.stat(NETNS_DIR / name)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def write_resolv_conf(name: str, nameserver: str) -> None:
    """`ip netns exec` bind-mounts /etc/netns/NAME/resolv.conf over /etc/resolv.conf, so
    a lab host asks the lab's DNS and never the host's resolver."""
    folder = ETC_NETNS / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "resolv.conf").write_text(f"# readiness lab\nnameserver {nameserver}\n")


def remove_etc_dirs(prefix: str) -> list[str]:
    removed = []
    if ETC_NETNS.is_dir():
        for folder in sorted(ETC_NETNS.iterdir()):
            if folder.name.startswith(f"{prefix}-"):
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(str(folder))
    return removed


def exec_argv(name: str, argv: list[str]) -> list[str]:
    return [resolve("ip"), "netns", "exec", name, *argv]
