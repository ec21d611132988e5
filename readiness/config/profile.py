"""Certificate profiles: which rules a site must prove, their numbers and their sources.

A profile (config/profiles/<id>.yaml) lists every requirement id of the catalogue,
says whether it applies to this certificate and must be proven, and carries the
thresholds the checks read, each with the seed-rulebook words it comes from.

Shape is checked by pydantic with unknown keys forbidden, because a mistyped
threshold key would otherwise silently fall back to nothing and disable a check.
Thresholds are validated per requirement id for the same reason: the checks index
them by fixed names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from .. import packaged
from ..results import Citation, Text
from .errors import ConfigError, ConfigIssue
from .yamlsource import PathKey, YamlSource, dotted, load_yaml

# The catalogue of /work/shared/requirements.md, in its order. A profile must list
# each one, so "does not apply to this certificate" is a decision written down with
# a reason rather than an omission nobody notices.
REQUIREMENT_IDS: tuple[str, ...] = (
    "LAN-SPEED",
    "LAN-SUBNET",
    "LAN-FIXED-IP",
    "LAN-SEATS",
    "WAN-FLOOR",
    "WAN-POLICY",
    "FILTER-FEATURES",
    "CAM-COUNT",
    "CAM-RES",
    "CAM-AUDIO",
    "CAM-STORE",
    "UPS-RUNTIME",
    "SERVER-SPARE",
    "SEAT-SPEC",
)

RULE_KEYS = ("pass", "warn", "fail")


# --- the file's shape ---------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Text(_Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def to_text(self) -> Text:
        return Text(en=self.en.strip(), zh=self.zh.strip())


class _Rule(_Strict):
    # `pass` is a Python keyword, hence the alias.
    pass_: _Text = Field(alias="pass")
    warn: _Text
    fail: _Text


class _Citation(_Strict):
    seed: str = Field(min_length=1)
    article: str = Field(min_length=1)
    original: str = Field(min_length=1)

    def to_citation(self) -> Citation:
        return Citation(seed=self.seed, article=self.article, original=self.original)


class _Requirement(_Strict):
    id: str = Field(min_length=1)
    title: _Text
    applies: StrictBool
    required: StrictBool
    rule: _Rule | None = None
    thresholds: dict[str, Any]
    # No default: leaving the citation out must be an error, not a silent None.
    citation: _Citation | None
    see_also: list[_Citation] = []
    note: _Text | None = None


class _Attestation(_Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Z0-9-]+$")
    title: _Text
    rule: _Text
    citation: _Citation
    note: _Text | None = None


class _ProfileFile(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_-]+$")
    certificate: _Text
    seed: str = Field(min_length=1)
    requirements: list[_Requirement] = Field(min_length=1)
    attestations: list[_Attestation] = []


# --- thresholds, one model per requirement id ---------------------------------
# Strict: YAML "10" (a string) or `true` where a number belongs is a mistake, not
# something to coerce.


class _Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _tidy(value: float) -> float:
    # Hand back 500 rather than 500.0, so JSON output and reports show the number as
    # the profile wrote it.
    return int(value) if value.is_integer() else value


Pct = Annotated[float, Field(ge=0, le=100), AfterValidator(_tidy)]
Positive = Annotated[float, Field(gt=0), AfterValidator(_tidy)]


class LanSpeedThresholds(_Thresholds):
    gigabit_class_min_mbps: Positive
    fast_ethernet_class_min_mbps: Positive
    required_class: Literal["gigabit", "fast_ethernet"]
    nic_speed_mbps: Literal[10, 100, 1000, 2500, 10000]
    # Each seat's test, each direction (iperf3 counts whole seconds). Every seat is
    # tested one after another, so these set how long a room takes.
    duration_s: int = Field(1, ge=1, le=30)
    omit_s: int = Field(0, ge=0, le=10)
    # The room load test: every seat with an agent at once (after a 1 s warm-up, so the
    # seats that started a little late are all sending before anything is counted).
    load_duration_s: int = Field(2, ge=1, le=30)
    # Under load a seat getting less than this share of an even split warns.
    load_min_share_pct: Pct = 5

    @model_validator(mode="after")
    def _ordered(self) -> LanSpeedThresholds:
        if self.fast_ethernet_class_min_mbps >= self.gigabit_class_min_mbps:
            raise ValueError(
                "fast_ethernet_class_min_mbps must be below gigabit_class_min_mbps"
            )
        return self


class LanSubnetThresholds(_Thresholds):
    ping_count: int = Field(ge=1, le=1000)
    warn_loss_pct: Pct
    fail_loss_pct: Pct
    warn_rtt_ms: Positive
    server_same_subnet: bool
    proctor_same_subnet: bool
    # Seconds between echoes: nothing on a switched LAN needs more, and 10 pings then
    # take one second per host (all hosts are pinged side by side).
    ping_interval_s: Annotated[float, Field(ge=0, le=10), AfterValidator(_tidy)] = 0.1
    # The ARP sweep: how long answers are collected, and how often silent addresses are
    # asked again inside that window.
    arp_window_s: Annotated[float, Field(gt=0, le=30), AfterValidator(_tidy)] = 1
    arp_retries: int = Field(2, ge=0, le=10)
    # dnsmasq (the DHCP server of most home routers) pings an address for 3 s before it
    # offers it: a shorter window misses the commonest rogue DHCP server.
    dhcp_window_s: Annotated[float, Field(gt=0, le=30), AfterValidator(_tidy)] = 4

    @model_validator(mode="after")
    def _ordered(self) -> LanSubnetThresholds:
        if self.fail_loss_pct <= self.warn_loss_pct:
            raise ValueError("fail_loss_pct must be above warn_loss_pct")
        return self


Role = Literal["exam_server", "backup_server", "proctor", "router", "switch", "ups"]


class LanFixedIpThresholds(_Thresholds):
    roles: list[Role] = Field(min_length=1)


class LanSeatsThresholds(_Thresholds):
    min_seats: int = Field(ge=1)
    recommended_seats: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> LanSeatsThresholds:
        if self.recommended_seats < self.min_seats:
            raise ValueError("recommended_seats must not be below min_seats")
        return self


class WanFloorThresholds(_Thresholds):
    floor_mbps: Positive
    # Goodput of a line sold at exactly the floor is a few percent under it; 0 means
    # "no allowance", the conservative reading when a profile says nothing.
    overhead_allowance_pct: Annotated[float, Field(ge=0, le=50), AfterValidator(_tidy)] = 0
    vantage: Literal["exam_server", "room"]


class WanPolicyThresholds(_Thresholds):
    candidates_internet: Literal["none", "exam_sites_only"]
    exam_server_internet: Literal["required", "not_required"]


FilterFeature = Literal[
    "ip",
    "url_wildcard",
    "dns",
    "keyword",
    "per_address",
    "per_time",
    "block_notice",
    "web_management",
    "remote_management",
]


class FilterFeaturesThresholds(_Thresholds):
    # Empty only where the certificate has no filter rule (applies: false).
    features: list[FilterFeature]

    @field_validator("features")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        dupes = sorted({f for f in value if value.count(f) > 1})
        if dupes:
            raise ValueError(f"listed twice: {', '.join(dupes)}")
        return value


class CamCountThresholds(_Thresholds):
    min_cameras: int = Field(ge=1)


class CamResThresholds(_Thresholds):
    min_width: int = Field(ge=1)
    min_height: int = Field(ge=1)
    min_megapixels: Positive


class CamAudioThresholds(_Thresholds):
    audio_required: bool


class CamStoreThresholds(_Thresholds):
    record_whole_exam: bool
    # a recording whose latest data is older than this is not being recorded now
    max_data_age_s: int = Field(ge=1)
    # the recording must hold the camera's sound too
    audio_required: bool
    # what one camera's recording takes, for the free-space sum (a recorder records the
    # main stream at the bitrate set on the camera)
    camera_bitrate_mbps: Positive
    # the exam's length when the site file names no exam session
    exam_duration_min: int = Field(ge=1)


class UpsRuntimeThresholds(_Thresholds):
    min_minutes: int = Field(ge=1)
    covers: Literal["exam_server", "candidate_pcs"]


class ServerSpareThresholds(_Thresholds):
    backup_recommended: bool


Cpu = Annotated[str, Field(pattern=r"^i[3579]$")]


class SeatSpecRecommended(_Thresholds):
    min_cpu: Cpu | None = None
    min_ram_gb: int | None = Field(None, ge=1)
    min_disk_gb: int | None = Field(None, ge=1)
    ssd: bool | None = None
    min_nic_mbps: int | None = Field(None, ge=10)


class SoftwareMatch(_Thresholds):
    """A program as a seat shows it: in its installed programs (a case-insensitive part
    of the name), its running processes or its services (exact names, any case)."""

    name: str = Field(min_length=1)
    programs: list[str] = []
    processes: list[str] = []
    services: list[str] = []


class ItemCitation(_Thresholds):
    """Where the seed says one item of the PC's specification (the requirement's seed)."""

    article: str = Field(min_length=1)
    original: str = Field(min_length=1)


class SeatSpecThresholds(_Thresholds):
    min_cpu: Cpu
    min_ram_gb: int = Field(ge=1)
    min_disk_gb: int = Field(ge=1)
    min_chrome: int = Field(ge=1)
    # None: the certificate has no rule on that item.
    min_firefox: int | None = None
    min_office: int | None = None
    max_office: int | None = None
    min_nic_mbps: int | None = Field(None, ge=10)
    min_screen_width: int | None = Field(None, ge=1)
    min_screen_height: int | None = Field(None, ge=1)
    usb_disabled: bool = False
    restore_card_off: bool = False
    no_messaging_software: bool = False
    # the operating system: Windows, from this release up to that one ("7", "10"),
    # 64-bit, Chinese; None: no rule on that part
    os_family: Literal["windows"] | None = None
    min_windows: Literal["7", "8", "8.1", "10", "11"] | None = None
    max_windows: Literal["7", "8", "8.1", "10", "11"] | None = None
    os_bitness: Literal[32, 64] | None = None
    os_language: Literal["zh"] | None = None
    # Office's apps that must be installed (Word, Excel, PowerPoint)
    office_apps: list[Literal["Word", "Excel", "PowerPoint"]] = []
    min_winrar: float | None = None
    fscapture: bool = False
    # the Sogou input methods that must be installed
    input_methods: list[Literal["sogou_pinyin", "sogou_wubi"]] = []
    # what a seat must not have (messaging), must not run (restore), and what the
    # proctor PC must run (the electronic classroom)
    messaging: list[SoftwareMatch] = []
    restore_software: list[SoftwareMatch] = []
    classroom_software: list[SoftwareMatch] = []
    # item -> where the seed says it
    item_citations: dict[str, ItemCitation] = {}
    recommended: SeatSpecRecommended = SeatSpecRecommended()


THRESHOLD_MODELS: dict[str, type[_Thresholds]] = {
    "LAN-SPEED": LanSpeedThresholds,
    "LAN-SUBNET": LanSubnetThresholds,
    "LAN-FIXED-IP": LanFixedIpThresholds,
    "LAN-SEATS": LanSeatsThresholds,
    "WAN-FLOOR": WanFloorThresholds,
    "WAN-POLICY": WanPolicyThresholds,
    "FILTER-FEATURES": FilterFeaturesThresholds,
    "CAM-COUNT": CamCountThresholds,
    "CAM-RES": CamResThresholds,
    "CAM-AUDIO": CamAudioThresholds,
    "CAM-STORE": CamStoreThresholds,
    "UPS-RUNTIME": UpsRuntimeThresholds,
    "SERVER-SPARE": ServerSpareThresholds,
    "SEAT-SPEC": SeatSpecThresholds,
}


# --- what the rest of the program sees ------------------------------------------


@dataclass(frozen=True, eq=False)
class Requirement:
    id: str
    title: Text
    applies: bool
    required: bool
    # "pass" / "warn" / "fail" -> the rule in words; may be empty when the requirement
    # does not apply (its checks are skipped, so there is nothing to judge).
    rule: Mapping[str, Text]
    thresholds: dict[str, Any]
    citation: Citation | None
    see_also: tuple[Citation, ...] = ()
    note: Text | None = None


@dataclass(frozen=True, eq=False)
class Attestation:
    id: str
    title: Text
    rule: Text
    citation: Citation
    note: Text | None = None


@dataclass(frozen=True, eq=False)
class Profile:
    id: str
    certificate: Text
    seed: str
    requirements: tuple[Requirement, ...]
    attestations: tuple[Attestation, ...]
    path: Path
    _by_id: dict[str, Requirement] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id.update({r.id: r for r in self.requirements})

    def requirement(self, req_id: str) -> Requirement | None:
        # None rather than KeyError: the runner labels results of ids outside the
        # profile (e.g. derived checks) with a fallback title instead of crashing a run.
        return self._by_id.get(req_id)

    @property
    def required_ids(self) -> set[str]:
        """The ids `results.overall_verdict` must see proven before calling a site ready."""
        return {r.id for r in self.requirements if r.applies and r.required}


# --- locating and loading -------------------------------------------------------


def profiles_dir() -> Path:
    # config/profiles in a checkout, the shipped copy in an installed package
    return packaged.data_file("profiles")


def available_profiles() -> list[str]:
    directory = profiles_dir()
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.glob("*.yaml") if not p.name.startswith("."))


_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def _resolve(name_or_path: str | Path) -> Path:
    if isinstance(name_or_path, Path):
        return name_or_path
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text:
        return Path(text)
    known = available_profiles()
    if not _NAME_RE.match(text) or text not in known:
        listing = ", ".join(known) if known else f"none in {profiles_dir()}"
        raise ConfigError(
            [ConfigIssue(text, None, "", f"unknown profile {text!r}; available: {listing}")]
        )
    return profiles_dir() / f"{text}.yaml"


_HINTS = {
    "extra_forbidden": "unknown key (check the spelling against "
                       f"{packaged.shown(profiles_dir() / 'eda.yaml')})",
    "missing": "required field is missing",
}


def _issues_from(exc: ValidationError, src: YamlSource, prefix: PathKey = ()) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    for err in exc.errors():
        loc = prefix + tuple(err["loc"])
        message = _HINTS.get(err["type"]) or str(err.get("msg", "invalid value")).removeprefix(
            "Value error, "
        )
        if err["type"] == "model_type":
            # pydantic would name our private class; say what to write instead.
            bilingual = err.get("ctx", {}).get("class_name") == "_Text"
            message = ("must be both languages: {zh: ..., en: ...}" if bilingual
                       else "must be a mapping of keys to values")
        issues.append(ConfigIssue(src.file, src.line_of(loc), dotted(loc), message))
    return issues


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a profile by name (`cbec`) or path; raise ConfigError listing every mistake."""
    path = _resolve(name_or_path)
    src = load_yaml(path, packaged.shown(path))
    if not isinstance(src.data, dict):
        raise ConfigError([ConfigIssue(src.file, 1, "", "a profile must be a YAML mapping")])
    try:
        model = _ProfileFile.model_validate(src.data)
    except ValidationError as exc:
        raise ConfigError(_issues_from(exc, src)) from None

    issues: list[ConfigIssue] = []

    def issue(where: PathKey, message: str) -> None:
        issues.append(ConfigIssue(src.file, src.line_of(where), dotted(where), message))

    if model.id != path.stem:
        # Sites name their profile by file name; an id that disagrees would make a
        # report cite a different certificate from the one that was checked.
        issue(("id",), f"id {model.id!r} must match the file name {path.stem!r}")

    def check_seed(cite: _Citation, where: PathKey) -> None:
        if cite.seed != model.seed:
            issue(where + ("seed",),
                  f"cites {cite.seed!r}, but this profile's seed is {model.seed!r}")

    thresholds: dict[int, dict[str, Any]] = {}
    seen: dict[str, int] = {}
    for index, req in enumerate(model.requirements):
        base: PathKey = ("requirements", index)
        if req.id not in THRESHOLD_MODELS:
            issue(base + ("id",), f"unknown requirement id {req.id!r}; expected one of "
                  + ", ".join(REQUIREMENT_IDS))
            continue
        if req.id in seen:
            first = seen[req.id]
            issue(base + ("id",), f"{req.id} is listed twice (first at requirements[{first}])")
            continue
        seen[req.id] = index
        if req.required and not req.applies:
            issue(base + ("required",), "cannot be true when applies is false")
        if req.applies and req.rule is None:
            issue(base + ("rule",), "a requirement that applies needs its pass/warn/fail rule")
        if req.citation is None:
            if req.applies:
                issue(base + ("citation",), "a requirement that applies must cite its rule")
            elif req.note is None:
                issue(base + ("citation",),
                      "without a citation, a `note` must say why the rule does not apply")
        else:
            check_seed(req.citation, base + ("citation",))
        for si, cite in enumerate(req.see_also):
            check_seed(cite, base + ("see_also", si))
        try:
            checked = THRESHOLD_MODELS[req.id].model_validate(req.thresholds)
        except ValidationError as exc:
            issues.extend(_issues_from(exc, src, base + ("thresholds",)))
        else:
            thresholds[index] = checked.model_dump()

    missing = [rid for rid in REQUIREMENT_IDS if rid not in seen]
    if missing:
        issue(("requirements",), "missing requirement(s) " + ", ".join(missing)
              + " (list them with applies: false if they are not rules of this certificate)")

    seen_att: set[str] = set()
    for index, att in enumerate(model.attestations):
        if att.id in seen_att:
            issue(("attestations", index, "id"), f"{att.id} is listed twice")
        seen_att.add(att.id)
        check_seed(att.citation, ("attestations", index, "citation"))

    if issues:
        raise ConfigError(issues)

    requirements = tuple(
        Requirement(
            id=req.id,
            title=req.title.to_text(),
            applies=req.applies,
            required=req.required,
            rule=_rule_texts(req.rule),
            thresholds=thresholds[index],
            citation=req.citation.to_citation() if req.citation else None,
            see_also=tuple(c.to_citation() for c in req.see_also),
            note=req.note.to_text() if req.note else None,
        )
        for index, req in enumerate(model.requirements)
    )
    attestations = tuple(
        Attestation(
            id=att.id,
            title=att.title.to_text(),
            rule=att.rule.to_text(),
            citation=att.citation.to_citation(),
            note=att.note.to_text() if att.note else None,
        )
        for att in model.attestations
    )
    return Profile(
        id=model.id,
        certificate=model.certificate.to_text(),
        seed=model.seed,
        requirements=requirements,
        attestations=attestations,
        path=path,
    )


def _rule_texts(rule: _Rule | None) -> dict[str, Text]:
    if rule is None:
        return {}
    return {"pass": rule.pass_.to_text(), "warn": rule.warn.to_text(), "fail": rule.fail.to_text()}
