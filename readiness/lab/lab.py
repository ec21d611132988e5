"""Bringing the simulated exam room up, looking at it, and the `Lab` handle callers use."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import internet, lan, netns, router, services
from .errors import LabError
from .spec import LabSpec
from .state import (
    SECRETS,
    LabRecord,
    lock_path,
    locked,
    make_state_dir,
    new_secrets,
    read_secrets,
    state_dir,
    write_secrets,
)
from .teardown import down, remove
from .topology import Topology, check_prefix, plan
from .wiring import wire

log = logging.getLogger(__name__)

SERVICE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Lab:
    """A running lab. Roles: sw, rtr, inet, srv, proctor, ups, seat-A01..., cam-1..."""

    prefix: str
    spec: LabSpec
    state_dir: Path
    secrets_file: Path

    def ns(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def exec_argv(self, role: str, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns(role), *argv]

    @property
    def topology(self) -> Topology:
        return plan(self.spec, self.prefix)

    def address(self, role: str) -> str:
        """The LAN address of a host role (without prefix length), e.g. seat-A07."""
        return self.topology.host(role).address.split("/")[0]

    def roles(self) -> list[str]:
        return self.topology.roles()


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    namespace: str
    pid: int
    alive: bool
    log: Path
    listens: list[str]


@dataclass(frozen=True)
class LabStatus:
    prefix: str
    state_dir: Path
    namespaces: list[str]  # present now
    missing_namespaces: list[str] = field(default_factory=list)  # recorded at `up`, now gone
    services: list[ServiceStatus] = field(default_factory=list)
    recorded: bool = False  # the state dir holds a record of a completed `up`

    @property
    def exists(self) -> bool:
        return bool(self.namespaces) or self.state_dir.exists()

    @property
    def up(self) -> bool:
        return self.recorded and not self.missing_namespaces and all(s.alive for s in self.services)

    @property
    def dead_services(self) -> list[ServiceStatus]:
        return [s for s in self.services if not s.alive]

    def as_dict(self) -> dict[str, object]:
        """Plain data for `readiness lab status --json`."""
        return {
            "prefix": self.prefix,
            "up": self.up,
            "state_dir": str(self.state_dir),
            "namespaces": self.namespaces,
            "missing_namespaces": self.missing_namespaces,
            "services": [
                {
                    "name": s.name,
                    "namespace": s.namespace,
                    "pid": s.pid,
                    "alive": s.alive,
                    "log": str(s.log),
                    "listens": s.listens,
                }
                for s in self.services
            ],
        }


def status(prefix: str = "rdy") -> LabStatus:
    check_prefix(prefix)
    folder = state_dir(prefix)
    present = netns.list_netns(prefix)
    record = LabRecord.load(folder)
    if record is None:
        return LabStatus(prefix, folder, present)
    services_now = [
        ServiceStatus(
            s.name,
            s.namespace,
            s.pid,
            services.alive(s.pid) and netns.pid_in_netns(s.pid, s.namespace),
            Path(s.log),
            list(s.listens),
        )
        for s in record.services
    ]
    missing = [n for n in record.namespaces if n not in present]
    return LabStatus(prefix, folder, present, missing, services_now, recorded=True)


def _existing(spec: LabSpec, prefix: str) -> Lab | None:
    """The lab, if this very spec is already fully up under this prefix."""
    now = status(prefix)
    if not now.up:
        return None
    record = LabRecord.load(now.state_dir)
    if record is None or record.spec != spec.model_dump(mode="json"):
        return None
    read_secrets(now.state_dir)  # a lab without readable secrets is not usable: rebuild
    return Lab(prefix, spec, now.state_dir, now.state_dir / SECRETS)


def up(spec: LabSpec, prefix: str = "rdy") -> Lab:
    """Build the room; if this spec is already fully up, return it as is."""
    check_prefix(prefix)
    with locked(prefix):
        return _up(spec, prefix)


def _up(spec: LabSpec, prefix: str) -> Lab:
    try:
        existing = _existing(spec, prefix)
    except LabError:
        existing = None
    if existing:
        log.info("lab %s is already up", prefix)
        return existing
    if status(prefix).exists:
        log.info("lab %s is partly up or has another spec: rebuilding", prefix)
        remove(prefix)
    started_at = time.monotonic()
    try:
        lab = _build(spec, prefix)
    except BaseException:
        # Also on Ctrl-C: never leave half a lab behind.
        try:
            remove(prefix)
            lock_path(prefix).unlink(missing_ok=True)
        except LabError as cleanup:
            log.error("cleaning up after a failed `up` also failed: %s", cleanup)
        raise
    log.info("lab %s up in %.1f s", prefix, time.monotonic() - started_at)
    return lab


def _build(spec: LabSpec, prefix: str) -> Lab:
    topo = plan(spec, prefix)
    folder = make_state_dir(prefix)
    secrets = new_secrets()
    secrets_file = write_secrets(folder, secrets)
    nft_file = router.write_nft(topo, folder)
    wire(topo, nft_file)
    definitions = [
        *router.services(topo, folder, secrets),
        *internet.services(topo, folder),
        *lan.exam_server(topo, folder),
        *lan.ups(topo, folder, secrets),
        *lan.cameras(topo),
    ]
    started = [services.start(prefix, folder, d) for d in definitions]
    services.wait_ready(started, SERVICE_TIMEOUT_S)
    LabRecord(
        prefix, spec.model_dump(mode="json"), topo.namespaces(), [s.record() for s in started]
    ).save(folder)
    return Lab(prefix, spec, folder, secrets_file)


@contextmanager
def running(spec: LabSpec, prefix: str = "rdy") -> Iterator[Lab]:
    """`with running(spec, "rdyt1") as lab:` the lab exists inside the block, never after."""
    try:
        yield up(spec, prefix)
    finally:
        down(prefix)
