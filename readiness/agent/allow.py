"""What an agent may be asked to reach: the site's own networks, hosts and URLs only.

A leaked token must not turn every seat PC into a scanner or a traffic generator
aimed anywhere: a probe parameter that names a target (`host`, `address`, `url`,
`*_host`, `*_address`, `*_url`, and their plurals holding lists) is checked against
the allow-list built from the site file before the probe runs.

A URL is judged by its host: a probe may need other paths of an allowed server
(e.g. a speed test's download path), never another server.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from readiness.config.site import SiteFile

TARGET_KEYS = frozenset({"host", "address", "url", "target", "server"})
TARGET_SUFFIXES = ("_host", "_address", "_url")
PLURAL_KEYS = frozenset({"hosts", "addresses", "urls", "targets", "servers"})
PLURAL_SUFFIXES = ("_hosts", "_addresses", "_urls")


class TargetRefused(Exception):
    def __init__(self, target: str):
        super().__init__(target)
        self.target = target
        self.message = f"target {target} is not in the site configuration"


def _host_of(value: str) -> str:
    """The host a target names: a URL's host, or the value itself."""
    if "://" in value:
        try:
            host = urlsplit(value).hostname or ""
        except ValueError:  # e.g. a malformed IPv6 literal
            return value
        return host
    return value


def _norm_name(name: str) -> str:
    return name.strip().rstrip(".").lower()


@dataclass(frozen=True)
class AllowList:
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    names: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, entries: Iterable[str]) -> AllowList:
        """From networks ("198.18.10.0/24"), addresses, host names and URLs."""
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        names: set[str] = set()
        for entry in entries:
            host = _host_of(entry.strip())
            if not host:
                continue
            try:
                networks.append(ipaddress.ip_network(host, strict=False))
            except ValueError:
                names.add(_norm_name(host))
        return cls(tuple(dict.fromkeys(networks)), frozenset(names))

    @classmethod
    def from_site_model(cls, model: SiteFile) -> AllowList:
        """Every room subnet, every configured host (an exam server may sit outside the
        room's subnet), every WAN endpoint, exam URL, blocked sample and camera."""
        entries: list[str] = []
        for room in model.rooms:
            entries.append(room.subnet)
            entries += [room.router.address, room.proctor.address,
                        room.exam_servers.primary.address]
            if room.exam_servers.backup:
                entries.append(room.exam_servers.backup.address)
            if room.router.web_url:
                entries.append(room.router.web_url)
            for part in (room.switch, room.ups):
                if part:
                    entries.append(part.address)
            entries += [c.url for c in room.cameras]
            entries += room.exam_urls + room.blocked_samples
            for wan in room.wan_endpoints:
                entries += [x for x in (wan.url, wan.host) if x]
            audit = room.filter_audit
            if audit:
                entries += audit.control_resolvers + audit.bypass_resolvers + audit.doh_urls
                entries += [a for addrs in audit.blocked_addresses.values() for a in addrs]
                if audit.remote_management_url:
                    entries.append(audit.remote_management_url)
        return cls.of(entries)

    def allows(self, target: str) -> bool:
        host = _host_of(target)
        if not host:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            # a subdomain of a site's name is that site (the audit tries random
            # subdomains of a blocked name to test wildcard rules)
            name = _norm_name(host)
            labels = name.split(".")
            return any(".".join(labels[i:]) in self.names for i in range(len(labels) - 1))
        return any(address in net for net in self.networks)

    def describe(self) -> str:
        parts = [str(n) for n in self.networks] + sorted(self.names)
        return ", ".join(parts) or "(nothing)"


def targets_in(params: dict[str, Any]) -> list[str]:
    """Every value of `params` that names a target, by the key conventions above."""
    found: list[str] = []
    for key, value in params.items():
        single = key in TARGET_KEYS or key.endswith(TARGET_SUFFIXES)
        plural = key in PLURAL_KEYS or key.endswith(PLURAL_SUFFIXES)
        if value is None:
            continue
        if single and isinstance(value, str):
            found.append(value)
        elif (single or plural) and isinstance(value, list | tuple):
            found += [str(v) for v in value]
        elif single or plural:
            # a target in an unexpected shape cannot be judged, so it is refused as is
            found.append(repr(value))
    return found


def check_targets(allow: AllowList, params: dict[str, Any]) -> None:
    """Raise TargetRefused for the first target outside the allow-list."""
    for target in targets_in(params):
        if not allow.allows(target):
            raise TargetRefused(target)
    # The filter audit hands a seat the addresses a control resolver gave for each blocked
    # name, to try them directly. The names must be the site's; the addresses are what
    # the site's own resolver said those names are, which no file can list in advance.
    answers = params.get("control_answers")
    if answers is not None:
        if not isinstance(answers, dict):
            raise TargetRefused(repr(answers))
        for name in answers:
            if not allow.allows(str(name)):
                raise TargetRefused(str(name))
