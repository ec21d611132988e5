"""deploy/ is generated from the metric names: regenerate and compare; promtool
accepts the rules and both Prometheus configurations."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from serve_site import drill_doc

from readiness.serve.deploy_files import SITE_LABELS, dashboard, files
from readiness.serve.importing import run_from_json
from readiness.serve.metrics import METRIC_NAMES, SiteFacts, families

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def test_deploy_files_are_what_the_generator_writes():
    for name, text in files().items():
        assert (DEPLOY / name).read_text(encoding="utf-8") == text, (
            f"deploy/{name} is stale: run python3 deploy/generate.py")


def test_every_panel_queries_an_exported_metric():
    """...or the province's own list (readiness:*, from the rules) or a site's `up`."""
    province = ("readiness:", "up{")
    for panel in dashboard()["panels"]:
        for target in panel["targets"]:
            assert any(name in target["expr"] for name in (*METRIC_NAMES, *province)), \
                panel["title"]


def test_site_table_lists_expected_sites_with_words_not_numbers():
    table = dashboard()["panels"][0]
    assert all(t["format"] == "table" and t["instant"] for t in table["targets"])
    assert table["targets"][0]["expr"].startswith("readiness:exam_in_seconds")
    by_column = {o["matcher"]["options"]: {p["id"]: p["value"] for p in o["properties"]}
                 for o in table["fieldConfig"]["overrides"]}
    up = next(v for k, v in by_column.items() if "up" in k)
    assert up["mappings"][0]["options"]["0"]["color"] == "red"
    exam = next(v for k, v in by_column.items() if "time to exam" in k)
    assert exam["unit"] == "s" and exam["thresholds"]["steps"][1]["value"] == 1800
    for variable in dashboard()["templating"]["list"][1:]:
        assert variable["refresh"] == 2 and "readiness:expected_site" in variable["query"]


def test_every_legend_names_labels_its_metric_has():
    """A renamed label must not leave a panel's legend empty: the drill's series carry
    each label a legend shows (province and city come from the site agent)."""
    run = run_from_json(drill_doc("LAB-0001"))
    labels: dict[str, set[str]] = {}
    for family in families(run, SiteFacts("LAB-0001", "1.0")):
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
    for panel in dashboard()["panels"]:
        for target in panel["targets"]:
            shown = set(re.findall(r"\{\{(\w+)\}\}", target["legendFormat"]))
            names = [n for n in METRIC_NAMES if n in target["expr"]]
            has = set(SITE_LABELS).union(*(labels.get(n, set()) for n in names))
            assert shown <= has, (panel["title"], shown - has)


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool (Debian prometheus) missing")
def test_promtool_accepts_rules_and_configs(tmp_path):
    for name, text in files().items():
        (tmp_path / name).write_text(text)
    shutil.copy(DEPLOY / "expected-sites.rules.yml", tmp_path)
    rules = subprocess.run(["promtool", "check", "rules", str(tmp_path / "readiness.rules.yml"),
                            str(tmp_path / "expected-sites.rules.yml")],
                           capture_output=True, text=True, timeout=60)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = subprocess.run(["promtool", "check", "config", str(tmp_path / "province.yml")],
                            capture_output=True, text=True, timeout=60)
    assert config.returncode == 0, config.stdout + config.stderr
    agent = yaml.safe_load(files()["site-agent.yml"])
    assert set(agent["global"]["external_labels"]) == {"province", "city", "site"}


@pytest.mark.skipif(not shutil.which("amtool"), reason="amtool (prometheus-alertmanager) missing")
def test_alertmanager_config_routes_a_site_to_province_city_and_school(tmp_path):
    """Alertmanager sends an alert matching a child route to the child only: the
    province's duty desk must still hear every alert (amtool evaluates the real tree)."""
    path = tmp_path / "alertmanager.yml"
    path.write_text(files()["alertmanager.yml"])
    check = subprocess.run(["amtool", "check-config", str(path)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr

    def routes(*labels: str) -> str:
        out = subprocess.run(["amtool", "config", "routes", "test", "--config.file",
                              str(path), *labels], capture_output=True, text=True, timeout=60)
        return out.stdout.strip()

    assert routes("province=GX", "city=Nanning", "site=GX-2026-017",
                  "alertname=ReadinessSiteDown") == (
        "province-duty,city-Nanning,site-GX-2026-017")
    assert routes("province=GX", "city=Nanning", "site=GX-2026-999") == (
        "province-duty,city-Nanning")
    assert routes("province=GX", "city=Liuzhou", "site=GX-2026-500") == "province-duty"
