"""What an agent may be asked to reach: the site's own networks, hosts and URLs only.

A leaked token must not turn every seat PC into a scanner or a traffic generator
aimed anywhere: a probe parameter that its kind's declaration marks as a target
(readiness/checkkind.py: TARGET, TARGETS, the keys of NAMES) is checked against the
allow-list built from the site file before the probe runs, and a parameter the kind
does not declare is refused (it could carry a target no mark names).

A URL is judged by its host: a probe may need other paths of an allowed server
(e.g. a speed test's download path), never another server. So a PATH parameter
must be a path: an absolute URL there (`urljoin` would let it replace the server) is
refused. URLs a parser could read two ways (user info, backslashes, blanks) and
host names that a resolver would read as an address ("127.1", "0x7f000001") are
refused rather than guessed at.

Targets that only appear while a probe runs (redirects, the addresses the caller says
a control resolver gave) are checked inside the probe, against the same list, through
probes/target_guard.py: the agent installs `AllowList.allows` there for every run.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from readiness.checkkind import CheckKind
from readiness.config.site import SiteFile

# characters no legitimate target holds and that parsers disagree about
_AMBIGUOUS = re.compile(r"[\\\s\x00-\x1f\x7f]")
# a URL scheme every parser reads as one: RFC 3986 allows "." in it, urllib3 does not
# (it reads "h.ttp://198.51.100.7" as the host "h.ttp"), so a dot makes it ambiguous
_PLAIN_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+-]*://")
# a last label a resolver (inet_aton) would take for a number: 127.1, 0x7f000001, 017
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


class TargetRefused(Exception):
    def __init__(self, target: str, message: str | None = None):
        super().__init__(target)
        self.target = target
        self.message = message or f"target {target} is not in the site configuration"


def _host_of(value: str) -> str:
    """The host a target names: a URL's host, or the value itself ("" when it cannot be
    told for sure, which no allow-list allows)."""
    if _AMBIGUOUS.search(value):
        return ""
    if "://" in value:
        if not _PLAIN_SCHEME.match(value):
            return ""
        try:
            parts = urlsplit(value)
            host = parts.hostname or ""
            parts.port  # noqa: B018 - raises for "host:80:80", which parsers split apart
        except ValueError:  # e.g. a malformed IPv6 literal, a port that is no number
            return ""
        # user info ("http://exam.example@other/") is where parsers disagree
        return "" if "@" in parts.netloc else host
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
            entry = entry.strip()
            # the site file's own entries are trusted to mean their host (a camera URL
            # may carry user info); only what a caller sends is read strictly
            try:
                host = (urlsplit(entry).hostname or "") if "://" in entry else entry
            except ValueError:
                continue
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
            if _NUMERIC_LABEL.match(labels[-1]):
                return False  # not an address to us, but one to getaddrinfo
            return any(".".join(labels[i:]) in self.names for i in range(len(labels) - 1))
        return any(address in net for net in self.networks)

    def describe(self) -> str:
        parts = [str(n) for n in self.networks] + sorted(self.names)
        return ", ".join(parts) or "(nothing)"


def _path_target(key: str, path: Any, params: dict[str, Any]) -> str:
    """The URL a `*_path` parameter makes a probe fetch (joined to `url`, as the probe
    does); raises TargetRefused for anything but a path on that server."""
    if not isinstance(path, str):
        raise TargetRefused(repr(path), f"{key} must be a path (e.g. backend/garbage.php), "
                                        f"not {type(path).__name__}")
    try:
        parts = urlsplit(path) if not _AMBIGUOUS.search(path) else None
    except ValueError:  # e.g. "//[": unparseable, so no path either
        parts = None
    if parts is None or parts.scheme or parts.netloc or path.startswith("//"):
        raise TargetRefused(path, f"{key} {path[:200]!r} is not a path on the server of "
                                  "'url': give a path such as backend/garbage.php; another "
                                  "server is never reached through it")
    base = params.get("url")
    return urljoin(base, path) if isinstance(base, str) else path


def check_targets(allow: AllowList, kind: CheckKind, params: dict[str, Any]) -> None:
    """Raise TargetRefused for the first target outside the allow-list: the kind's
    declaration marks which parameters name targets (readiness/checkkind.py)."""
    for target in kind.targets_in(params):
        if not allow.allows(target):
            raise TargetRefused(target)
    for key, value in kind.paths_in(params).items():
        target = _path_target(key, value, params)
        if "://" in target and not allow.allows(target):
            raise TargetRefused(target)
