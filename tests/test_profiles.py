"""Certificate profiles: complete, faithful to their seed rulebooks, and strict."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from readiness.commands.profiles import format_thresholds, render_profile, render_profile_list
from readiness.config.errors import ConfigError, ConfigIssue
from readiness.config.profile import (
    REQUIREMENT_IDS,
    Profile,
    available_profiles,
    load_profile,
    profiles_dir,
)
from readiness.results import Citation, Text

REPO = Path(__file__).resolve().parents[1]
# The shared catalogue and seeds live beside the repository (CI puts them there).
SHARED = Path(__file__).resolve().parents[2] / "shared"
REQUIREMENTS_MD = SHARED / "requirements.md"
SEEDS = SHARED / "seeds"

PROFILES = ("eda", "cbec")


def catalogue_ids() -> list[str]:
    """Requirement ids in the first column of requirements.md's tables, in order."""
    assert REQUIREMENTS_MD.is_file(), f"requirement catalogue not found at {REQUIREMENTS_MD}"
    ids = []
    for line in REQUIREMENTS_MD.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\|\s*([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)\s*\|", line)
        if match:
            ids.append(match.group(1))
    return ids


def squash(text: str) -> str:
    # The seeds are PDF extractions: a sentence may be wrapped or tab-separated, so
    # compare with runs of whitespace collapsed.
    return re.sub(r"\s+", " ", text).strip()


def all_citations(profile: Profile) -> list[tuple[str, Citation]]:
    found: list[tuple[str, Citation]] = []
    for req in profile.requirements:
        if req.citation is not None:
            found.append((req.id, req.citation))
        found.extend((f"{req.id} see_also", c) for c in req.see_also)
    found.extend((att.id, att.citation) for att in profile.attestations)
    return found


@pytest.fixture(params=PROFILES)
def profile(request: pytest.FixtureRequest) -> Profile:
    return load_profile(request.param)


# --- loading ------------------------------------------------------------------------


def test_profiles_dir_is_in_the_repository() -> None:
    assert profiles_dir() == REPO / "config" / "profiles"
    assert set(PROFILES) <= set(available_profiles())


def test_profile_loads_with_its_identity(profile: Profile) -> None:
    assert profile.id in PROFILES
    assert profile.path.name == f"{profile.id}.yaml"
    assert isinstance(profile.certificate, Text)
    assert profile.certificate.zh and profile.certificate.en
    expected_seed = {"eda": "000_2c82ef737b3560db.txt", "cbec": "002_778480b43cbac38e.txt"}
    assert profile.seed == expected_seed[profile.id]


def test_load_by_path_equals_load_by_name() -> None:
    by_path = load_profile(profiles_dir() / "cbec.yaml")
    by_str_path = load_profile(str(profiles_dir() / "cbec.yaml"))
    assert [r.id for r in by_path.requirements] == [r.id for r in by_str_path.requirements]
    assert by_path.requirement("CAM-RES").thresholds == load_profile("cbec").requirement(
        "CAM-RES").thresholds


def test_unknown_profile_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        load_profile("cbce")
    assert "unknown profile 'cbce'" in str(err.value)
    assert "cbec" in str(err.value) and "eda" in str(err.value)


def test_requirement_lookup(profile: Profile) -> None:
    req = profile.requirement("CAM-RES")
    assert req is not None and req.id == "CAM-RES"
    assert profile.requirement("NO-SUCH-RULE") is None


# --- completeness against the catalogue ------------------------------------------------


def test_catalogue_parses_to_the_known_ids() -> None:
    ids = catalogue_ids()
    assert len(ids) == len(set(ids)), "an id is listed twice in requirements.md"
    assert tuple(ids) == REQUIREMENT_IDS


def test_every_catalogue_id_in_each_profile_in_order(profile: Profile) -> None:
    assert [r.id for r in profile.requirements] == catalogue_ids()


def test_every_requirement_is_bilingual_and_explained(profile: Profile) -> None:
    for req in profile.requirements:
        assert isinstance(req.title, Text) and req.title.zh and req.title.en, req.id
        if req.applies:
            assert set(req.rule) == {"pass", "warn", "fail"}, req.id
            for key in ("pass", "warn", "fail"):
                assert isinstance(req.rule[key], Text), req.id
                assert req.rule[key].zh and req.rule[key].en, (req.id, key)
            assert req.citation is not None, req.id
        else:
            assert not req.required, f"{req.id}: required although it does not apply"
            assert req.citation is not None or req.note is not None, req.id


def test_what_does_not_apply() -> None:
    eda, cbec = load_profile("eda"), load_profile("cbec")
    not_eda = {r.id for r in eda.requirements if not r.applies}
    not_cbec = {r.id for r in cbec.requirements if not r.applies}
    assert not_eda == {"CAM-AUDIO", "FILTER-FEATURES"}
    assert not_cbec == {"SERVER-SPARE"}


def test_required_ids_leave_out_what_need_not_be_proven(profile: Profile) -> None:
    for rid in ("CAM-STORE", "SERVER-SPARE", "SEAT-SPEC"):
        assert rid not in profile.required_ids
    for rid in ("LAN-SPEED", "LAN-SUBNET", "LAN-SEATS", "WAN-FLOOR", "CAM-COUNT", "CAM-RES",
                "UPS-RUNTIME"):
        assert rid in profile.required_ids


# --- citations are the seed's own words ----------------------------------------------------


def test_every_citation_is_verbatim_in_its_seed(profile: Profile) -> None:
    seed_path = SEEDS / profile.seed
    assert seed_path.is_file(), f"seed not found at {seed_path}"
    seed = seed_path.read_text(encoding="utf-8")
    flat = squash(seed)
    for where, cite in all_citations(profile):
        assert cite.seed == profile.seed, where
        assert cite.article.startswith("第"), (where, cite.article)
        assert cite.original.strip(), where
        assert cite.original in seed or squash(cite.original) in flat, (
            f"{profile.id} {where}: {cite.original!r} is not in {profile.seed}"
        )


def test_attestations_cover_what_no_probe_sees(profile: Profile) -> None:
    ids = {a.id for a in profile.attestations}
    assert {"STAFF-COUNT", "PROCTOR-RATIO", "EVACUATION", "LIGHTING-VENTILATION"} <= ids
    # Only cbec's rulebook sets a seat spacing; only eda's sets the signage.
    assert ("SEAT-SPACING" in ids) == (profile.id == "cbec")
    assert ("SIGNAGE" in ids) == (profile.id == "eda")
    staff = next(a for a in profile.attestations if a.id == "STAFF-COUNT")
    assert ("5" if profile.id == "eda" else "6") in staff.citation.original


# --- thresholds the code reads ----------------------------------------------------------------

NUM = (int, float)

# requirement id -> key -> accepted types (bool is checked apart: it is an int subclass)
THRESHOLD_TYPES: dict[str, dict[str, Any]] = {
    "LAN-SPEED": {"gigabit_class_min_mbps": NUM, "fast_ethernet_class_min_mbps": NUM,
                  "required_class": str, "nic_speed_mbps": int},
    "LAN-SUBNET": {"ping_count": int, "warn_loss_pct": NUM, "fail_loss_pct": NUM,
                   "warn_rtt_ms": NUM, "server_same_subnet": bool, "proctor_same_subnet": bool},
    "LAN-FIXED-IP": {"roles": list},
    "LAN-SEATS": {"min_seats": int, "recommended_seats": int},
    "WAN-FLOOR": {"floor_mbps": NUM, "vantage": str},
    "WAN-POLICY": {"candidates_internet": str, "exam_server_internet": str},
    "FILTER-FEATURES": {"features": list},
    "CAM-COUNT": {"min_cameras": int},
    "CAM-RES": {"min_width": int, "min_height": int, "min_megapixels": NUM},
    "CAM-AUDIO": {"audio_required": bool},
    "CAM-STORE": {"record_whole_exam": bool, "max_data_age_s": int, "audio_required": bool,
                  "camera_bitrate_mbps": NUM, "exam_duration_min": int},
    "UPS-RUNTIME": {"min_minutes": int, "covers": str},
    "SERVER-SPARE": {"backup_recommended": bool},
    "SEAT-SPEC": {"min_cpu": str, "min_ram_gb": int, "min_disk_gb": int, "min_chrome": int,
                  "min_office": int, "recommended": dict},
}


def test_thresholds_have_the_fixed_keys_and_types(profile: Profile) -> None:
    assert set(THRESHOLD_TYPES) == set(REQUIREMENT_IDS)
    for rid, keys in THRESHOLD_TYPES.items():
        th = profile.requirement(rid).thresholds  # type: ignore[union-attr]
        assert isinstance(th, dict)
        for key, kind in keys.items():
            assert key in th, f"{profile.id} {rid}: threshold {key} missing"
            value = th[key]
            if kind is bool:
                assert isinstance(value, bool), (rid, key, value)
            else:
                assert isinstance(value, kind) and not isinstance(value, bool), (rid, key, value)


def th(profile_id: str, rid: str) -> dict[str, Any]:
    req = load_profile(profile_id).requirement(rid)
    assert req is not None
    return req.thresholds


@pytest.mark.parametrize(
    ("profile_id", "rid", "expected"),
    [
        ("eda", "LAN-SPEED", {"required_class": "gigabit", "nic_speed_mbps": 1000}),
        ("cbec", "LAN-SPEED", {"required_class": "fast_ethernet", "nic_speed_mbps": 1000}),
        ("eda", "LAN-SUBNET", {"ping_count": 10, "warn_loss_pct": 0,
                               "server_same_subnet": True, "proctor_same_subnet": True}),
        ("cbec", "LAN-SUBNET", {"server_same_subnet": False, "proctor_same_subnet": True}),
        ("eda", "LAN-FIXED-IP", {"roles": ["exam_server"]}),
        ("cbec", "LAN-FIXED-IP", {"roles": ["proctor", "router"]}),
        ("eda", "LAN-SEATS", {"min_seats": 40, "recommended_seats": 45}),
        ("cbec", "LAN-SEATS", {"min_seats": 40, "recommended_seats": 40}),
        ("eda", "WAN-FLOOR", {"floor_mbps": 10, "vantage": "exam_server"}),
        ("cbec", "WAN-FLOOR", {"floor_mbps": 100, "vantage": "room"}),
        ("eda", "WAN-POLICY", {"candidates_internet": "none",
                               "exam_server_internet": "required"}),
        ("cbec", "WAN-POLICY", {"candidates_internet": "exam_sites_only",
                                "exam_server_internet": "not_required"}),
        ("eda", "CAM-COUNT", {"min_cameras": 2}),
        ("cbec", "CAM-COUNT", {"min_cameras": 2}),
        ("eda", "CAM-RES", {"min_width": 1280, "min_height": 720}),
        ("cbec", "CAM-RES", {"min_width": 1920, "min_height": 1080, "min_megapixels": 2}),
        ("eda", "CAM-AUDIO", {"audio_required": False}),
        ("cbec", "CAM-AUDIO", {"audio_required": True}),
        ("eda", "UPS-RUNTIME", {"min_minutes": 120, "covers": "exam_server"}),
        ("cbec", "UPS-RUNTIME", {"min_minutes": 180, "covers": "candidate_pcs"}),
        ("eda", "SERVER-SPARE", {"backup_recommended": True}),
        ("eda", "SEAT-SPEC", {"min_cpu": "i5", "min_ram_gb": 4, "min_disk_gb": 500,
                              "min_chrome": 74, "min_office": 2016}),
        ("cbec", "SEAT-SPEC", {"min_cpu": "i3", "min_ram_gb": 4, "min_chrome": 87,
                               "min_firefox": 90}),
    ],
)
def test_threshold_values_from_the_seeds(profile_id: str, rid: str,
                                         expected: dict[str, Any]) -> None:
    got = th(profile_id, rid)
    assert {k: got[k] for k in expected} == expected


def test_speed_classes_separate_fast_ethernet_from_gigabit(profile: Profile) -> None:
    speed = profile.requirement("LAN-SPEED").thresholds  # type: ignore[union-attr]
    # A 100 Mbit/s link tops out near 95 Mbit/s of TCP goodput: the gigabit bar must
    # be out of its reach, the 100M bar within it.
    assert speed["gigabit_class_min_mbps"] > 100
    assert speed["fast_ethernet_class_min_mbps"] < 95


def test_filter_features() -> None:
    assert th("eda", "FILTER-FEATURES")["features"] == []
    assert set(th("cbec", "FILTER-FEATURES")["features"]) == {
        "ip", "url_wildcard", "dns", "keyword", "per_address", "per_time", "block_notice",
        "web_management", "remote_management"}


def test_seat_spec_recommended_is_a_mapping() -> None:
    assert th("cbec", "SEAT-SPEC")["recommended"]["min_cpu"] == "i5"
    assert th("cbec", "SEAT-SPEC")["recommended"]["min_ram_gb"] == 8
    assert th("eda", "SEAT-SPEC")["recommended"]["min_cpu"] is None


# --- mistakes in a profile name file, line and field -------------------------------------------


def cbec_data() -> dict[str, Any]:
    return yaml.safe_load((profiles_dir() / "cbec.yaml").read_text(encoding="utf-8"))


def write_profile(tmp_path: Path, data: dict[str, Any], name: str = "cbec") -> tuple[Path, str]:
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text


def line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the written profile")


def issues_of(path: Path) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as err:
        load_profile(path)
    return err.value.issues


def test_unknown_threshold_key_names_file_line_and_field(tmp_path: Path) -> None:
    data = cbec_data()
    res = next(r for r in data["requirements"] if r["id"] == "CAM-RES")
    res["thresholds"]["min_widht"] = 1920
    path, text = write_profile(tmp_path, data)
    index = [r["id"] for r in data["requirements"]].index("CAM-RES")
    issues = issues_of(path)
    issue = next(i for i in issues if i.path.endswith("min_widht"))
    assert issue.file.endswith("cbec.yaml")
    assert issue.line == line_of(text, "min_widht")
    assert issue.path == f"requirements[{index}].thresholds.min_widht"
    assert "unknown key" in issue.message
    assert f"cbec.yaml:{issue.line} requirements[{index}].thresholds.min_widht" in str(issue)


def test_unknown_requirement_key_is_an_error(tmp_path: Path) -> None:
    data = cbec_data()
    data["requirements"][0]["aplies"] = True
    path, text = write_profile(tmp_path, data)
    (issue,) = issues_of(path)
    assert issue.path == "requirements[0].aplies"
    assert issue.line == line_of(text, "aplies")


def test_missing_citation_names_the_requirement(tmp_path: Path) -> None:
    data = cbec_data()
    index = [r["id"] for r in data["requirements"]].index("UPS-RUNTIME")
    del data["requirements"][index]["citation"]
    path, text = write_profile(tmp_path, data)
    (issue,) = issues_of(path)
    assert issue.file.endswith("cbec.yaml")
    assert issue.path == f"requirements[{index}].citation"
    assert "missing" in issue.message
    assert issue.line == line_of(text, "- id: UPS-RUNTIME")


def test_null_citation_needs_a_note_when_the_rule_does_not_apply(tmp_path: Path) -> None:
    data = cbec_data()
    index = [r["id"] for r in data["requirements"]].index("SERVER-SPARE")
    data["requirements"][index]["citation"] = None
    del data["requirements"][index]["note"]
    path, _ = write_profile(tmp_path, data)
    (issue,) = issues_of(path)
    assert issue.path == f"requirements[{index}].citation"
    assert "note" in issue.message
    # ...and with the note it loads.
    data["requirements"][index]["note"] = {"zh": "无本地考试服务器", "en": "no local server"}
    path, _ = write_profile(tmp_path, data)
    assert load_profile(path).requirement("SERVER-SPARE").citation is None  # type: ignore[union-attr]


def test_wrong_threshold_type_and_missing_requirement(tmp_path: Path) -> None:
    data = cbec_data()
    floor = next(r for r in data["requirements"] if r["id"] == "WAN-FLOOR")
    floor["thresholds"]["floor_mbps"] = "100M"
    data["requirements"] = [r for r in data["requirements"] if r["id"] != "SEAT-SPEC"]
    path, text = write_profile(tmp_path, data)
    issues = issues_of(path)
    by_path = {i.path: i for i in issues}
    index = [r["id"] for r in data["requirements"]].index("WAN-FLOOR")
    floor_issue = by_path[f"requirements[{index}].thresholds.floor_mbps"]
    assert floor_issue.line == line_of(text, "floor_mbps: 100M")
    assert "SEAT-SPEC" in by_path["requirements"].message


def test_citation_of_another_seed_is_an_error(tmp_path: Path) -> None:
    data = cbec_data()
    data["requirements"][0]["citation"]["seed"] = "000_2c82ef737b3560db.txt"
    path, _ = write_profile(tmp_path, data)
    (issue,) = issues_of(path)
    assert issue.path == "requirements[0].citation.seed"


def test_required_without_applies_and_id_mismatch(tmp_path: Path) -> None:
    data = cbec_data()
    index = [r["id"] for r in data["requirements"]].index("SERVER-SPARE")
    data["requirements"][index]["required"] = True
    path, _ = write_profile(tmp_path, data, name="other")
    paths = {i.path for i in issues_of(path)}
    assert paths == {"id", f"requirements[{index}].required"}


# --- rendering ------------------------------------------------------------------------------------


def rendered(lang: str, name: str | None = None) -> str:
    console = Console(record=True, width=200)
    if name is None:
        render_profile_list(console, lang)
    else:
        render_profile(console, load_profile(name), lang)
    return console.export_text()


def test_render_profile_list() -> None:
    text = rendered("en")
    for needle in ("cbec", "eda", "002_778480b43cbac38e.txt", "000_2c82ef737b3560db.txt",
                   "Cross-border E-commerce Multi-platform Operation", "14 ("):
        assert needle in text
    assert "跨境电子商务多平台运营" in rendered("zh")


def test_render_profile_cbec() -> None:
    text = rendered("en", "cbec")
    for needle in ("CAM-RES", "1920", "1080", "min_width=1920", "SERVER-SPARE", "no (skip)",
                   "pass:", "warn:", "fail:", "第十一条(二)4 监控设备", "STAFF-COUNT"):
        assert needle in text, needle
    zh = rendered("zh", "cbec")
    assert "摄像头分辨率" in zh and "不通过" in zh


def test_render_profile_eda_shows_not_applying_rules() -> None:
    text = rendered("en", "eda")
    assert "CAM-AUDIO" in text and "1280" in text and "video capture" in text


def test_render_profile_narrow_terminal_keeps_every_requirement() -> None:
    console = Console(record=True, width=80)
    render_profile(console, load_profile("cbec"), "en")
    text = console.export_text()
    for rid in REQUIREMENT_IDS:
        assert rid in text
    assert "min_width=1920" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_format_thresholds_is_compact() -> None:
    assert format_thresholds({"a": 1, "b": ["x", "y"], "c": None, "d": {"e": True, "f": None}}) == (
        "a=1\nb=x, y\nc=—\nd.e=true"
    )
