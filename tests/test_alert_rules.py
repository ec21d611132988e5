"""The province's alerting rules, evaluated for real by `promtool test rules` on
deploy/readiness.rules.test.yml (dead site, never reported, unsigned run, no recent run,
failing and unverified rules, site back, still firing past 24 h, severity by the exam's
distance), and the expected-sites list made from site files."""

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from readiness.config.errors import ConfigError
from readiness.serve.alert_rules import LAST_SEEN, Timing, alert_rules
from readiness.serve.deploy_files import files
from readiness.serve.expected_sites import EXAM_START, expected_rules, read_sites

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
needs_promtool = pytest.mark.skipif(not shutil.which("promtool"),
                                    reason="promtool (Debian prometheus) missing")


def _promtool_test(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", "test", "rules", "readiness.rules.test.yml"],
                          cwd=folder, capture_output=True, text=True, timeout=120)


@needs_promtool
def test_promtool_passes_the_rule_tests_on_the_generated_rules(tmp_path):
    # the generator's output, not only the checked-in copy (which another test compares)
    for name in ("readiness.rules.yml", "expected-sites.test.rules.yml"):
        (tmp_path / name).write_text(files()[name], encoding="utf-8")
    shutil.copy(DEPLOY / "readiness.rules.test.yml", tmp_path)
    out = _promtool_test(tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


@needs_promtool
def test_the_rule_tests_fail_when_a_dead_site_is_forgotten(tmp_path):
    """The rule tests can fail: a last-seen time that does not carry itself forward
    forgets a silent site (as the old rule did after a day), which the checks catch."""
    rules = alert_rules(Timing())
    for rule in rules["groups"][0]["rules"]:
        if rule.get("record") == LAST_SEEN:
            rule["expr"] = "max by (province, city, site) (timestamp(readiness_build_info))"
    text = yaml.safe_dump(rules, allow_unicode=True, sort_keys=False)
    (tmp_path / "readiness.rules.yml").write_text(text, encoding="utf-8")
    (tmp_path / "expected-sites.test.rules.yml").write_text(
        files()["expected-sites.test.rules.yml"], encoding="utf-8")
    shutil.copy(DEPLOY / "readiness.rules.test.yml", tmp_path)
    out = _promtool_test(tmp_path)
    assert out.returncode != 0
    assert "alertname: ReadinessSiteDown, time: 1d1h" in out.stdout + out.stderr


def _site(folder: Path, name: str, code: str, **site: str) -> Path:
    text = (REPO / "config" / "site.example.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    data["site"] = {"name": name, "code": code, **site}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{code}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_expected_sites_read_place_and_sessions_in_the_site_time_zone(tmp_path):
    a = _site(tmp_path, "甲", "GX-A", province="GX", city="Nanning")
    b = _site(tmp_path, "乙", "GX-B", province="GX", city="Liuzhou")
    sites = read_sites([b, a])
    assert [s.code for s in sites] == ["GX-B", "GX-A"]  # by province, city, code
    # the example's session is 09:00 Asia/Shanghai: 01:00 UTC
    assert sites[0].sessions[0].start == datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
    rules = expected_rules(sites)["groups"][0]["rules"]
    starts = [r for r in rules if r["record"] == EXAM_START]
    assert starts[0]["expr"] == f"vector({datetime(2026, 12, 5, 1, tzinfo=UTC).timestamp():.0f})"
    assert starts[0]["labels"] == {"province": "GX", "city": "Liuzhou", "site": "GX-B",
                                   "session": sites[0].sessions[0].name}


def test_expected_sites_name_each_file_and_field_to_fix(tmp_path):
    no_place = _site(tmp_path, "甲", "GX-A")
    twin = _site(tmp_path / "x", "乙", "GX-B", province="GX", city="Nanning")
    again = _site(tmp_path / "y", "丙", "GX-B", province="GX", city="Nanning")
    with pytest.raises(ConfigError) as err:
        read_sites([no_place, twin, again])
    said = [str(i) for i in err.value.issues]
    assert any(str(no_place) in s and "site.province" in s for s in said)
    assert any(str(no_place) in s and "site.city" in s for s in said)
    assert any(str(again) in s and "site.code" in s and str(twin) in s for s in said)


def test_generate_expected_sites_writes_a_file_promtool_accepts(tmp_path):
    a = _site(tmp_path, "甲", "GX-A", province="GX", city="Nanning")
    out = tmp_path / "expected-sites.rules.yml"
    run = subprocess.run(["python3", str(DEPLOY / "generate.py"), "expected-sites", str(a),
                          "--out", str(out)], capture_output=True, text=True, timeout=60,
                         cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert "1 site(s), 1 exam session(s)" in run.stdout
    assert "GX-A" in out.read_text(encoding="utf-8")
    if shutil.which("promtool"):
        check = subprocess.run(["promtool", "check", "rules", str(out)], capture_output=True,
                               text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
    bad = subprocess.run(["python3", str(DEPLOY / "generate.py"), "expected-sites",
                          str(_site(tmp_path / "n", "乙", "GX-N"))], capture_output=True,
                         text=True, timeout=60, cwd=REPO)
    assert bad.returncode == 2 and "site.province" in bad.stderr and "未写入" in bad.stderr


def test_the_shipped_expected_sites_file_is_the_example_site_s():
    """deploy/expected-sites.rules.yml is what the generator makes of the example."""
    sites = read_sites([REPO / "config" / "site.example.yaml"])
    shipped = yaml.safe_load((DEPLOY / "expected-sites.rules.yml").read_text(encoding="utf-8"))
    assert shipped == expected_rules(sites)


def test_every_runbook_url_names_a_section_of_the_runbook():
    """docs/runbook.md has a heading for each alert's runbook_url anchor (GitHub's
    anchors: lower case, spaces to hyphens)."""
    import re

    text = (REPO / "docs" / "runbook.md").read_text(encoding="utf-8")
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).strip().replace(" ", "-")
               for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}
    alerts = [r for r in alert_rules()["groups"][0]["rules"] if "alert" in r]
    assert len(alerts) == 5
    for rule in alerts:
        anchor = rule["annotations"]["runbook_url"].rsplit("#", 1)[1]
        assert anchor in anchors, (rule["alert"], anchor)
        assert f"`{rule['alert']}`" in text
