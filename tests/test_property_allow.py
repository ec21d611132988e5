"""Property tests of the agent's allow-list (readiness/agent/allow.py).

Whatever target a caller sends, if the allow-list lets it through, every host a
consumer of that target could reach is inside the site file: read by the two URL
parsers the probes use (urllib's `urlsplit` for the asyncio probes, urllib3's for the
requests-based speed test), then by the system resolver's numeric forms (`getaddrinfo`
with AI_NUMERICHOST reads 127.1 and 0x7f000001 as addresses, without any lookup) and
by IDNA (a unicode host is mapped before it is resolved). Targets are built to be
tricky: user info, IPv6 literals and zones, percent-encoding, decimal/hex/octal and
short numeric hosts, trailing dots, unicode dots, stray characters at any place.

The oracle below is written from the site file independently of allow.py: the networks
and names the site holds, a name's subdomains included (by design, see allow.py).
Nothing is sent anywhere: AI_NUMERICHOST never asks a DNS server.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import textwrap
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import idna
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from urllib3.util import parse_url

from probes import wan_bandwidth
from readiness.agent.allow import AllowList, TargetRefused, check_targets
from readiness.config.load import load_site

SITE = textwrap.dedent("""\
    site: {name: Property school, code: P-1}
    profile: cbec
    secrets_file: secrets.yaml
    rooms:
      - id: r1
        subnet: 198.51.100.0/24
        router: {address: 198.51.100.1}
        exam_servers:
          primary: {address: 198.51.100.10}
          backup: {address: 203.0.113.10}
        proctor: {address: 198.51.100.2}
        seats:
          A01-A10: 198.51.100.101-110
        exam_urls: [https://exam.example.com/login]
        blocked_samples: [http://games.example.net/]
        wan_endpoints:
          - {name: lab speed, kind: librespeed, url: "http://[2001:db8::5]:8080/"}
          - {name: lab iperf3, kind: iperf3, host: speed.example.edu}
    """)

# what the site file above holds, written out by hand
SITE_NETWORKS = [ipaddress.ip_network(n) for n in
                 ("198.51.100.0/24", "198.51.100.10/32", "203.0.113.10/32", "2001:db8::5/128")]
SITE_NAMES = ("exam.example.com", "games.example.net", "speed.example.edu")

INSIDE_HOSTS = ["198.51.100.7", "198.51.100.254", "203.0.113.10", "[2001:db8::5]",
                "exam.example.com", "games.example.net", "speed.example.edu",
                "www.exam.example.com", "EXAM.Example.COM", "exam.example.com."]
OUTSIDE_HOSTS = ["198.51.101.7", "203.0.113.11", "198.18.0.1", "[2001:db8::6]",
                 "[::ffff:203.0.113.11]", "evil.example", "examexample.com",
                 "exam.example.com.evil.example", "example.com", "net", "edu"]


@pytest.fixture(scope="module")
def allow(tmp_path_factory: pytest.TempPathFactory) -> AllowList:
    folder = tmp_path_factory.mktemp("allow-site")
    (folder / "site.yaml").write_text(SITE)
    (folder / "secrets.yaml").write_text("unused: x\n")
    (folder / "secrets.yaml").chmod(0o600)
    return AllowList.from_site_model(load_site(folder / "site.yaml", {"cbec"}).model)


# ------------------------------------------------------------------------- the oracle


def _address_inside(text: str) -> bool:
    ip = ipaddress.ip_address(text.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # a dual-stack socket reaches the IPv4 host
    return any(ip in net for net in SITE_NETWORKS)


def _name_inside(name: str) -> bool:
    name = name.lower()
    name = name[:-1] if name.endswith(".") else name  # one final dot: the root
    if not name or "" in name.split("."):
        return True  # an empty label: no resolver looks it up, nothing is reached
    return any(name == n or name.endswith("." + n) for n in SITE_NAMES)


def _spellings(host: str) -> set[str]:
    """The host as the resolver may get it: as written, and IDNA-mapped (the socket
    module's IDNA 2003 codec; requests' UTS 46 mapping)."""
    found = {host, unquote(host)}  # a browser decodes %2e before it resolves
    for encode in (lambda h: h.encode("idna").decode("ascii"),
                   lambda h: idna.encode(h, uts46=True).decode("ascii")):
        for written in (host, unquote(host)):
            try:
                found.add(encode(written))
            except (UnicodeError, idna.IDNAError, ValueError):
                pass
    return found


def host_inside(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    address, zone, _ = host.partition("%")
    if zone and ":" in address:
        # an IPv6 literal with a zone: the zone only picks the interface (glibc answers
        # "no such name" for an unknown one, without asking a server); the address decides
        try:
            return _address_inside(str(ipaddress.IPv6Address(address)))
        except ValueError:
            pass
    for spelling in _spellings(host):
        try:
            infos = socket.getaddrinfo(spelling, None, flags=socket.AI_NUMERICHOST)
        except (socket.gaierror, UnicodeError, ValueError):
            if not _name_inside(spelling):
                return False
            continue
        if not all(_address_inside(str(info[4][0])) for info in infos):
            return False
    return True


def _other_readings(target: str) -> list[str]:
    """The host as parsers other than ours read it, should a target ever reach one (a
    browser showing the report's links, curl, a seat's own tools): a backslash ends the
    host like a slash (WHATWG), and user info ends at the first "@" or at the last."""
    authority = re.split(r"[/\\?#]", target.split("://", 1)[1], maxsplit=1)[0]
    hosts = []
    for at in (authority.find("@"), authority.rfind("@")):
        host_port = authority[at + 1:]
        if host_port.startswith("[") and "]" in host_port:
            hosts.append(host_port[:host_port.index("]") + 1])
        else:
            hosts.append(host_port.rsplit(":", 1)[0])
    return hosts


def hosts_reached(target: str) -> list[str]:
    """Every host a consumer of `target` could connect to."""
    if "://" not in target:
        return [target]  # a bare host or address parameter
    hosts = _other_readings(target)
    try:
        hosts.append(urlsplit(target).hostname or "")
    except ValueError:
        pass  # the asyncio probes cannot use it: they connect nowhere
    try:
        hosts.append(parse_url(target).host or "")
    except ValueError:  # urllib3's LocationParseError is a ValueError
        pass
    return [h for h in hosts if h]


# ------------------------------------------------------------------------- targets


def _numeric_forms(address: str) -> list[str]:
    """The spellings inet_aton accepts for one IPv4 address."""
    n = int(ipaddress.IPv4Address(address))
    a, b, c, d = (n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255
    return [str(n), hex(n), hex(n).upper().replace("0X", "0x"), f"0{n:o}",
            f"{a}.{(n & 0xFFFFFF)}", f"{a}.{b}.{(c << 8) | d}",
            f"0x{a:x}.0x{b:x}.0x{c:x}.0x{d:x}", f"0{a:o}.0{b:o}.0{c:o}.0{d:o}",
            f"{address}.", f"{address}..", f"0{address}"]


hosts = st.one_of(
    st.sampled_from(INSIDE_HOSTS + OUTSIDE_HOSTS),
    st.sampled_from(["198.51.100.7", "198.51.101.7", "8.8.8.8", "127.0.0.1"]).flatmap(
        lambda a: st.sampled_from(_numeric_forms(a))),
    st.sampled_from(["[2001:db8::5%25eth0]", "[2001:db8::5%eth0]", "[::198.51.100.7]",
                     "[2001:0db8:0000::0005]", "[2001:db8::5]evil.example",
                     "[2001:db8::6]exam.example.com", "exam.example.com%2eevil.example",
                     "evil.example%2eexam.example.com", "%65xam.example.com",
                     "exam.example.com%00.evil.example", "exam。example。com",
                     "evil.example\uff0eexam.example.com", "exam.example.com\u3002evil.example",
                     "ｅｘａｍ.example.com", "exam.example.com:80@evil.example",
                     "xn--exam-.example.com", "exam.example.com\u200b"]),
)
userinfo = st.sampled_from(["", "user@", "user:pw@", "exam.example.com@", "198.51.100.7@",
                            "@", "a%40b@", "x:y@z@"])
ports = st.sampled_from(["", ":80", ":8080", ":0", ":99999", ":", ":80:80", ":x"])
tails = st.sampled_from(["", "/", "/login", "?q=1", "#frag", "/@evil.example", "?@evil.example",
                         "#@evil.example", "/%2F%2Fevil.example", "\\@evil.example",
                         "/..//evil.example"])
schemes = st.sampled_from(["http://", "https://", "HTTP://", "rtsp://", "tcp://", "//", ""])
# characters parsers disagree about, to drop anywhere into a target
STRAY = ["@", ":", "/", "\\", "%", "%25", "%40", "%2e", "[", "]", ".", "..", "#", "?", " ",
         "\t", "\n", "\x00", "\x7f", "。", "．", "\uff20"]


def pieces(parts: list[str], most: int) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(parts), max_size=most).map("".join)


@st.composite
def targets(draw: st.DrawFn) -> str:
    target = (draw(schemes) + draw(userinfo) + draw(hosts) + draw(ports) + draw(tails))
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(target)))
        target = target[:at] + draw(st.sampled_from(STRAY)) + target[at:]
    return target


# ------------------------------------------------------------------------- properties


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=st.one_of(targets(), pieces(list("abcdefghijklmnopqrstuvwxyz0123456789") + STRAY
                                           + ["exam.example.com", "://"], 24)))
@example(target="http://127.1/")
@example(target="http://exam.example.com@evil.example/")
@example(target="http://[2001:db8::5]evil.example/")
@example(target="evil.example/.exam.example.com")
@example(target="h.ttp://198.51.100.7")  # urllib3 reads the host "h.ttp"
@example(target="http://198.51.100.7:80:80")
def test_whatever_is_allowed_reaches_only_the_site(allow: AllowList, target: str) -> None:
    if allow.allows(target):
        for host in hosts_reached(target):
            assert host_inside(host), f"{target!r} is allowed but reaches {host!r}"


@settings(max_examples=300, deadline=None)
@given(scheme=st.sampled_from(["http://", "https://", "rtsp://"]),
       host=st.sampled_from(INSIDE_HOSTS), port=st.sampled_from(["", ":80", ":8443"]),
       path=st.sampled_from(["", "/", "/login", "/a/b?c=d#e"]))
def test_the_sites_own_targets_are_allowed(allow: AllowList, scheme: str, host: str,
                                           port: str, path: str) -> None:
    # the other side: a list that refused everything would pass the property above
    assert allow.allows(scheme + host + port + path)
    if not host.startswith("["):
        assert allow.allows(host)


@settings(max_examples=800, deadline=None)
@given(base=st.sampled_from(["http://exam.example.com/", "http://[2001:db8::5]:8080/speed/",
                             "https://198.51.100.10/a/b"]),
       path=pieces(list("abc/.") + STRAY + ["evil.example", "http:", "//"], 16))
def test_a_path_parameter_never_leaves_the_server_of_url(allow: AllowList, base: str,
                                                         path: str) -> None:
    # the kind that declares a PATH on its `url` (librespeed's garbage_path)
    params = {"url": base, "garbage_path": path}
    assert allow.allows(base)  # so a refusal below is the path's doing
    try:
        check_targets(allow, wan_bandwidth.KIND, params)
    except TargetRefused:
        return
    joined = urljoin(base, path)
    assume("://" in joined)  # a bare relative path, used as is
    assert {h for h in hosts_reached(joined)} <= {h for h in hosts_reached(base)} | {
        h.lower() for h in hosts_reached(base)}, (path, joined)


def test_the_oracle_itself_tells_inside_from_outside() -> None:
    # a wrong oracle would let every target pass
    assert all(host_inside(h) for h in INSIDE_HOSTS)
    assert not any(host_inside(h) for h in OUTSIDE_HOSTS)
    assert not host_inside("127.1") and host_inside("0xc6336407")  # 198.51.100.7
    assert set(hosts_reached("http://a@b.example/")) == {"b.example"}
    assert "evil.example" in hosts_reached("http://evil.example\\@exam.example.com/")
    assert "evil.example@exam.example.com" in hosts_reached(
        "http://x@evil.example@exam.example.com/")


def test_site_fixture_is_the_site_file(tmp_path: Path) -> None:
    # SITE_NETWORKS and SITE_NAMES must describe the file the allow-list is built from
    (tmp_path / "site.yaml").write_text(SITE)
    (tmp_path / "secrets.yaml").write_text("unused: x\n")
    (tmp_path / "secrets.yaml").chmod(0o600)
    built = AllowList.from_site_model(load_site(tmp_path / "site.yaml", {"cbec"}).model)
    assert set(built.names) == set(SITE_NAMES)
    assert {n for n in built.networks if not any(n.subnet_of(s) for s in SITE_NETWORKS
                                                 if s.version == n.version)} == set()
