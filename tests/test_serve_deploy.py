"""deploy/ is generated from the metric names: regenerate and compare; promtool
accepts the rules and both Prometheus configurations."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from readiness.serve.deploy_files import METRIC_NAMES, dashboard, files

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def test_deploy_files_are_what_the_generator_writes():
    for name, text in files().items():
        assert (DEPLOY / name).read_text(encoding="utf-8") == text, (
            f"deploy/{name} is stale: run python3 deploy/generate.py")


def test_every_panel_queries_an_exported_metric():
    for panel in dashboard()["panels"]:
        for target in panel["targets"]:
            assert any(name in target["expr"] for name in METRIC_NAMES), panel["title"]


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool (Debian prometheus) missing")
def test_promtool_accepts_rules_and_configs(tmp_path):
    for name in ("readiness.rules.yml", "province.yml", "site-agent.yml"):
        (tmp_path / name).write_text(files()[name])
    rules = subprocess.run(["promtool", "check", "rules", str(tmp_path / "readiness.rules.yml")],
                           capture_output=True, text=True, timeout=60)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = subprocess.run(["promtool", "check", "config", str(tmp_path / "province.yml")],
                            capture_output=True, text=True, timeout=60)
    assert config.returncode == 0, config.stdout + config.stderr
    agent = yaml.safe_load(files()["site-agent.yml"])
    assert set(agent["global"]["external_labels"]) == {"province", "city", "site"}
