"""Load a site file: shape (pydantic), then meaning (addresses, seats, secrets).

Every mistake is collected before anything is raised, so `readiness validate`
shows them all at once, each with its file, line and field path.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from ..redact import SHORT_SECRET
from .errors import ConfigError, ConfigIssue
from .secrets import ENV_REF, FILE_REF, REF_HELP, Secret, SecretsFile, is_reference
from .site import Room, SeatSpec, SiteFile
from .tokens import MAKE_ONE, MIN_BITS, token_weakness
from .yamlsource import PathKey, YamlSource, dotted, load_yaml


@dataclass(frozen=True)
class Seat:
    label: str
    address: str
    mac: str | None = None


@dataclass
class Site:
    path: Path
    model: SiteFile
    seats: dict[str, list[Seat]]  # room id -> seats in order
    secrets: dict[str, Secret] = field(default_factory=dict)  # dotted field path -> secret
    # what is allowed but worth changing (a short SNMP community...), shown by validate
    warnings: list[ConfigIssue] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.model.site.name

    @property
    def profile(self) -> str:
        return self.model.profile

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.model.timezone)

    def room(self, room_id: str) -> Room | None:
        return next((r for r in self.model.rooms if r.id == room_id), None)

    def secret(self, path: str) -> Secret | None:
        return self.secrets.get(path)

    def session_windows(self) -> list[tuple[datetime, datetime]]:
        from datetime import timedelta

        out = []
        for s in self.model.exam_sessions:
            start = s.start if s.start.tzinfo else s.start.replace(tzinfo=self.tz)
            out.append((start, start + timedelta(minutes=s.duration_min)))
        return out


_PYDANTIC_HINTS = {
    "extra_forbidden": "unknown key (check the spelling; see readiness example site)",
    "missing": "required field is missing",
}


def _pydantic_issues(exc: ValidationError, src: YamlSource) -> list[ConfigIssue]:
    issues = []
    seen: set[tuple[PathKey, str]] = set()
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not _is_union_tag(p))
        msg = _PYDANTIC_HINTS.get(err["type"]) or _clean_message(err)
        if (loc, msg) in seen:
            continue
        seen.add((loc, msg))
        issues.append(ConfigIssue(src.file, src.line_of(loc), dotted(loc), msg))
    return issues


def _is_union_tag(part: Any) -> bool:
    # pydantic adds the union member's name ("str", "SeatSpec", "2c") to a location;
    # users never wrote those, so they must not appear in the field path.
    return isinstance(part, str) and (
        part in {"str", "SeatSpec", "SnmpV2c", "SnmpV3", "2c", "3"} or part.startswith("function-")
    )


def _clean_message(err: dict[str, Any]) -> str:
    msg = str(err.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    if err["type"] == "union_tag_invalid":
        return "version must be '2c' or '3' (quote it: version: \"2c\")"
    if err["type"] == "union_tag_not_found":
        return "missing 'version' ('2c' or '3')"
    # "Input should be a valid datetime or date, month value is outside ...": keep the
    # reason, say what was written and what to write
    reason = msg.partition(", ")[2] or msg
    if err["type"].startswith(("datetime_", "date_")):
        return (f"{err.get('input')!r} is not a date and time ({reason}); write it such as "
                "2026-12-05T09:00:00 (local time)")
    if err["type"].startswith("time_"):
        return f"{err.get('input')!r} is not a time of day ({reason}); write it such as \"20:00\""
    return msg


# bounded digits: int() of a 5000-digit number raises instead of giving a seat count
SEAT_RANGE = re.compile(r"^([A-Za-z]*)(\d{1,6})-([A-Za-z]*)(\d{1,6})$")
ADDR_RANGE = re.compile(r"^(\d{1,3}\.\d{1,3}\.\d{1,3}\.)(\d{1,3})-(\d{1,3})$")


def _expand_seats(key: str, value: str | SeatSpec) -> tuple[list[Seat], str | None]:
    """`A01-A40: 192.168.10.101-140` -> 40 seats; a plain label -> one seat."""
    rng = SEAT_RANGE.match(key)
    if isinstance(value, SeatSpec):
        if rng:
            return [], "a seat range needs an address range such as 192.168.10.101-140"
        return _single(key, value.address, value.mac)
    if not rng:
        if ADDR_RANGE.match(value):
            return [], f"address range {value!r} needs a seat range label such as A01-A40"
        return _single(key, value, None)
    prefix, first, prefix2, last = rng.groups()
    if prefix != prefix2 or int(last) < int(first):
        return [], f"seat range {key!r} must look like A01-A40 (same letters, ascending)"
    arng = ADDR_RANGE.match(value)
    if not arng:
        return [], f"seat range {key} needs an address range such as 192.168.10.101-140"
    base, lo, hi = arng.group(1), int(arng.group(2)), int(arng.group(3))
    count = int(last) - int(first) + 1
    if hi - lo + 1 != count:
        return [], (
            f"seat range {key} has {count} seats but address range {value} "
            f"has {hi - lo + 1} addresses"
        )
    if hi > 255:
        return [], f"address range {value} runs past .255"
    try:  # the part before the range: ADDR_RANGE only says it looks like one
        ipaddress.IPv4Address(f"{base}{lo}")
    except ValueError:
        return [], (f"address range {value!r} does not start at an IPv4 address; write "
                    "it such as 192.168.10.101-140")
    width = len(first)
    seats = []
    for i in range(count):
        label = f"{prefix}{int(first) + i:0{width}d}"
        seats.append(Seat(label, f"{base}{lo + i}"))
    return seats, None


def _single(label: str, address: str, mac: str | None) -> tuple[list[Seat], str | None]:
    try:
        ipaddress.IPv4Address(address)
    except ValueError:
        return [], f"{address!r} is not an IPv4 address such as 192.168.10.101"
    return [Seat(label, address, mac)], None


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _address(value: Any) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(value) if isinstance(value, str) else None
    except ValueError:
        return None  # the shape check already reported it


def _room_semantics(
    raw: dict[str, Any], index: int, src: YamlSource
) -> tuple[list[Seat], list[ConfigIssue]]:
    """Meaning of one room, read from the raw data so that a shape mistake in one
    field does not hide the mistakes in the others."""
    issues: list[ConfigIssue] = []

    def issue(path: PathKey, message: str) -> None:
        issues.append(ConfigIssue(src.file, src.line_of(path), dotted(path), message))

    try:
        # text only: ipaddress reads a number (or `subnet: yes`, a boolean) as an address
        subnet: ipaddress.IPv4Network | None = ipaddress.IPv4Network(str(raw["subnet"])) \
            if isinstance(raw.get("subnet"), str) else None
    except ValueError:
        subnet = None
    base: PathKey = ("rooms", index)
    seats: list[Seat] = []
    owner_of: dict[str, str] = {}
    labels: set[str] = set()

    def claim(address: ipaddress.IPv4Address | None, who: str, path: PathKey) -> None:
        if address is None:
            return
        if str(address) in owner_of:
            issue(path, f"{address} is already used by {owner_of[str(address)]}")
        else:
            owner_of[str(address)] = who

    router = _address(_get(raw, "router", "address"))
    if router and subnet and router not in subnet:
        issue(base + ("router", "address"),
              f"{router} is outside the room subnet {subnet}; the router's LAN "
              "address must be in the exam LAN")
    claim(router, "the router", base + ("router", "address"))
    claim(_address(_get(raw, "proctor", "address")), "the proctor PC",
          base + ("proctor", "address"))
    for which in ("primary", "backup"):
        claim(_address(_get(raw, "exam_servers", which, "address")),
              f"the {which} exam server", base + ("exam_servers", which, "address"))
    claim(_address(_get(raw, "switch", "address")), "the switch", base + ("switch", "address"))
    claim(_address(_get(raw, "ups", "address")), "the UPS", base + ("ups", "address"))

    raw_seats = raw.get("seats")
    if isinstance(raw_seats, dict):
        if not raw_seats:
            issue(base + ("seats",), "a room needs at least one seat")
        for key, value in raw_seats.items():
            path = base + ("seats", str(key))
            if isinstance(value, dict):
                try:
                    value = SeatSpec.model_validate(value)
                except ValidationError:
                    continue  # reported by the shape check
            elif not isinstance(value, str):
                continue
            expanded, problem = _expand_seats(str(key), value)
            if problem:
                issue(path, problem)
                continue
            for seat in expanded:
                where = f"{seat.label} {seat.address}" if len(expanded) > 1 else seat.address
                if seat.label in labels:
                    issue(path, f"seat {seat.label} is listed twice")
                    continue
                labels.add(seat.label)
                address = ipaddress.IPv4Address(seat.address)
                if subnet and address not in subnet:
                    issue(path, f"{where} is outside the room subnet {subnet}")
                    continue
                if subnet and address in (subnet.network_address, subnet.broadcast_address):
                    issue(path, f"{where} is the subnet's network or broadcast address")
                    continue
                claim(address, f"seat {seat.label}", path)
                seats.append(seat)

    cameras = raw.get("cameras")
    names = [c.get("name") for c in cameras if isinstance(c, dict)] \
        if isinstance(cameras, list) else []
    for ci, name in enumerate(names):
        if name is not None and names.index(name) != ci:
            issue(base + ("cameras", ci, "name"), f"camera name {name!r} is used twice")
    return seats, issues


def _secret_fields(data: dict[str, Any]) -> list[tuple[PathKey, str]]:
    """Every field that holds a secret reference, read from the raw data."""
    found: list[tuple[PathKey, str]] = []
    token = _get(data, "agent", "token")
    if isinstance(token, str):
        found.append((("agent", "token"), token))
    run_now = _get(data, "serve", "run_now_token")
    if isinstance(run_now, str):
        found.append((("serve", "run_now_token"), run_now))
    rooms = data.get("rooms")
    for ri, room in enumerate(rooms if isinstance(rooms, list) else []):
        base: PathKey = ("rooms", ri)
        for part in ("router", "switch", "ups"):
            snmp = _get(room, part, "snmp")
            if not isinstance(snmp, dict):
                continue
            for name in ("community", "auth_key", "priv_key"):
                if isinstance(snmp.get(name), str):
                    found.append((base + (part, "snmp", name), snmp[name]))
        cameras = _get(room, "cameras")
        for ci, cam in enumerate(cameras if isinstance(cameras, list) else []):
            if isinstance(_get(cam, "password"), str):
                found.append((base + ("cameras", ci, "password"), cam["password"]))
        if isinstance(_get(room, "recorder", "password"), str):
            found.append((base + ("recorder", "password"), room["recorder"]["password"]))
    # a webhook's address carries the robot's token: it is a secret like a password
    hooks = _get(data, "alerts", "webhooks")
    for hi, hook in enumerate(hooks if isinstance(hooks, list) else []):
        for name in ("url", "sign_secret"):
            if isinstance(_get(hook, name), str):
                found.append((("alerts", "webhooks", hi, name), hook[name]))
    if isinstance(_get(data, "alerts", "email", "password"), str):
        found.append((("alerts", "email", "password"), data["alerts"]["email"]["password"]))
    return found


def _secret_value_issue(field_path: PathKey, secret: Secret) -> str | None:
    """A resolved secret whose value cannot be right, said without repeating the value."""
    if field_path[:2] == ("alerts", "webhooks") and field_path[-1] == "url" \
            and not re.match(r"^https?://[^\s/]+", secret.reveal()):
        return f"the value of {secret.ref} is not an http:// or https:// address"
    if field_path[-1] in ("auth_key", "priv_key") and len(secret.reveal()) < 8:
        return f"the value of {secret.ref} is shorter than 8 characters: SNMPv3 keys need 8+"
    return None


# Tokens the project itself asks for and that sign or unlock something: refused when
# weak, with the command that makes a good one.
PROJECT_TOKENS: tuple[PathKey, ...] = (("agent", "token"), ("serve", "run_now_token"))
# what each token is for, once it is made (en, zh)
_TOKEN_USE: dict[PathKey, tuple[str, str]] = {
    ("agent", "token"): ("give every agent the same token", "并让每台考位的代理使用同一令牌"),
    ("serve", "run_now_token"): ("type it on the live page to run a check now",
                                 "在实时页面输入该令牌即可立即检查"),
}


def _where_value(secret: Secret, store: SecretsFile) -> tuple[str, str]:
    """Where the value of a reference is written (en, zh), for a message naming no value."""
    key = FILE_REF.match(secret.ref)
    if key and store.path is not None:
        return (f"{key.group(1)} in the secrets file {store.path}",
                f"密钥文件 {store.path} 中的 {key.group(1)}")
    env = ENV_REF.match(secret.ref)
    name = env.group(1) if env else secret.ref
    return f"the environment variable {name}", f"环境变量 {name}"


def _token_issue(field_path: PathKey, secret: Secret, store: SecretsFile,
                 src: YamlSource) -> ConfigIssue | None:
    weakness = token_weakness(secret.reveal())
    if weakness is None:
        return None
    where, where_zh = _where_value(secret, store)
    key = FILE_REF.match(secret.ref)
    put, put_zh = ((f"put it in {store.path} as `{key.group(1)}: <the new token>`",
                    f"写入 {store.path}（{key.group(1)}: 新令牌）")
                   if key and store.path is not None else
                   (f"set {secret.ref} to it", f"将 {secret.ref} 设为该令牌"))
    use, use_zh = _TOKEN_USE[field_path]
    return ConfigIssue(
        src.file, src.line_of(field_path), dotted(field_path),
        f"the value of {where} {weakness}. Make a token with: {MAKE_ONE}, {put}, and "
        f"{use}",
        f"{where_zh} 的值不能用作令牌（占位符、过短或不随机，至少需要 {MIN_BITS} 位随机性）。"
        f"请用以下命令生成令牌：{MAKE_ONE}，{put_zh}，{use_zh}")


def _short_secret_warning(field_path: PathKey, secret: Secret, store: SecretsFile,
                          src: YamlSource) -> ConfigIssue | None:
    """A secret that is allowed but guessable: a device's default community (a UPS card
    whose `public` cannot be changed), a placeholder left from the example."""
    value = secret.reveal()
    where, where_zh = _where_value(secret, store)
    if "change-me" in value.lower():
        en = (f"the value of {where} is still the example's CHANGE-ME placeholder: write the "
              "real value")
        zh = f"{where_zh} 的值仍是示例中的 CHANGE-ME 占位符：请填写真实值"
    elif len(value) < SHORT_SECRET:
        what = "SNMP community" if field_path[-1] == "community" else "secret"
        en = (f"the {what} in {where} is shorter than {SHORT_SECRET} characters: anyone on "
              "the exam LAN can guess it, and readiness can mask it in its messages only "
              "where it stands as a word of its own. Change it on the device if the device "
              "lets you (a UPS card whose community is fixed may keep it)")
        zh = (f"{where_zh} 的值少于 {SHORT_SECRET} 个字符：考场网络上任何人都能猜到，且 "
              "readiness 只能在它作为独立单词出现时将其遮盖。如设备允许请修改"
              "（团体名无法修改的 UPS 网卡可保留）")
    else:
        return None
    return ConfigIssue(src.file, src.line_of(field_path), dotted(field_path), en, zh)
# the run-now token is made the same way as the agents' one
MAKE_TOKEN = MAKE_ONE


def _shared_run_now_token(resolved: dict[str, Secret], src: YamlSource) -> list[ConfigIssue]:
    """"Run now" must not open with the agents' token: every seat PC holds that one."""
    run_now, agent = resolved.get("serve.run_now_token"), resolved.get("agent.token")
    if run_now is None or agent is None or run_now != agent:
        return []
    return [ConfigIssue(src.file, src.line_of(("serve", "run_now_token")),
                        "serve.run_now_token",
                        f"{run_now.ref} has the same value as agent.token ({agent.ref}); "
                        "run now needs its own token, which no seat PC holds: make one with "
                        f"{MAKE_TOKEN} and put it in the secrets file",
                        f"{run_now.ref} 与 agent.token（{agent.ref}）的值相同；“立即检查”需要"
                        f"考位电脑上没有的独立令牌：用 {MAKE_TOKEN} 生成，写入密钥文件")]


def load_site_model(path: str | Path) -> SiteFile:
    """The site file's shape only, without its secrets: what a province reads from the
    site files it receives (it never holds their secrets files). Raises ConfigError."""
    path = Path(path)
    src = load_yaml(path, path.name)
    if not isinstance(src.data, dict):
        raise ConfigError([ConfigIssue(src.file, 1, "", "the site file must be a YAML mapping")])
    try:
        return SiteFile.model_validate(src.data)
    except ValidationError as exc:
        raise ConfigError(_pydantic_issues(exc, src)) from None


def load_site(path: str | Path, known_profiles: set[str] | None = None) -> Site:
    path = Path(path)
    src = load_yaml(path, path.name)
    if not isinstance(src.data, dict):
        raise ConfigError([ConfigIssue(src.file, 1, "", "the site file must be a YAML mapping")])
    data: dict[str, Any] = src.data
    issues: list[ConfigIssue] = []
    model: SiteFile | None = None
    try:
        model = SiteFile.model_validate(data)
    except ValidationError as exc:
        issues.extend(_pydantic_issues(exc, src))

    # the validated name when there is one: pydantic turns e.g. !!binary into text
    profile = model.profile if model is not None else data.get("profile")
    if known_profiles is not None and isinstance(profile, str) and profile not in known_profiles:
        issues.append(ConfigIssue(src.file, src.line_of(("profile",)), "profile",
                                  f"unknown profile {profile!r}; expected one of "
                                  + ", ".join(sorted(known_profiles))))
    raw_rooms = data.get("rooms")
    seen_rooms: set[str] = set()
    seats: dict[str, list[Seat]] = {}
    for index, raw in enumerate(raw_rooms if isinstance(raw_rooms, list) else []):
        if not isinstance(raw, dict):
            continue
        room_id = str(raw.get("id"))
        if room_id in seen_rooms:
            issues.append(ConfigIssue(src.file, src.line_of(("rooms", index, "id")),
                                      dotted(("rooms", index, "id")),
                                      f"room id {room_id!r} is used twice"))
        seen_rooms.add(room_id)
        room_seats, room_issues = _room_semantics(raw, index, src)
        seats[room_id] = room_seats
        issues.extend(room_issues)

    secrets_file = data.get("secrets_file")
    secrets_path = None
    if isinstance(secrets_file, str) and secrets_file:
        secrets_path = Path(secrets_file)
        if not secrets_path.is_absolute():
            secrets_path = path.parent / secrets_path
    store = SecretsFile(secrets_path)
    resolved: dict[str, Secret] = {}
    warnings: list[ConfigIssue] = []
    for field_path, value in _secret_fields(data):
        where = dotted(field_path)
        if not is_reference(value):
            # The value itself is never repeated: it may be the real secret.
            issues.append(ConfigIssue(src.file, src.line_of(field_path), where,
                                      f"is written inline; it must be {REF_HELP}"))
            continue
        secret, problem = store.resolve(value)
        if secret is not None and not problem:
            problem = _secret_value_issue(field_path, secret)
        if problem and problem == store.problem:
            # the secrets file itself is missing or unsafe: say so once, at its own line
            if not any(i.path == "secrets_file" for i in issues):
                issues.append(ConfigIssue(src.file, src.line_of(("secrets_file",)),
                                          "secrets_file", problem))
        elif problem:
            issues.append(ConfigIssue(src.file, src.line_of(field_path), where, problem))
        elif secret is not None and field_path in PROJECT_TOKENS:
            token_issue = _token_issue(field_path, secret, store, src)
            if token_issue is not None:
                issues.append(token_issue)
            else:
                resolved[where] = secret
        elif secret is not None:
            resolved[where] = secret
            warning = _short_secret_warning(field_path, secret, store, src)
            if warning is not None:
                warnings.append(warning)
    issues.extend(_shared_run_now_token(resolved, src))

    if issues or model is None:
        issues.sort(key=lambda i: (i.line or 0, i.path))
        raise ConfigError(issues)
    return Site(path=path, model=model, seats=seats, secrets=resolved, warnings=warnings)
