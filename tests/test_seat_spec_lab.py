"""SEAT-SPEC from real Linux seat agents in a lab room: every item of the certificate's
PC is in each seat's JSON with its verdict and the seed's words for it, and none that
the agent could not read passes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
CBEC_SEAT_ITEMS = {"cpu", "ram", "disk", "ssd", "nic", "display", "os", "chrome", "firefox",
                   "input", "office", "winrar", "messaging", "usb", "restore"}

pytestmark = pytest.mark.lab


def test_each_seat_lists_every_item_with_its_verdict_and_citation(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("builds network namespaces: run as root")
    from readiness.lab import LabSpec, missing_prerequisites, running

    if missing_prerequisites():
        pytest.skip("lab prerequisites missing")
    with running(LabSpec(seats=2, cameras=[], faults=[]), f"rdyt{os.getpid()}s") as lab:
        site = yaml.safe_load(lab.site_file.read_text())
        site["rooms"][0]["seats"] = {"A01": "198.18.10.101", "A02": "198.18.10.102"}
        path = tmp_path / "site.yaml"
        path.write_text(yaml.safe_dump(site, allow_unicode=True))
        out = tmp_path / "r.json"
        proc = subprocess.run(
            lab.exec_argv("proctor", [sys.executable, "-m", "readiness", "check", str(path),
                                      "--only", "SEAT-SPEC", "--json", str(out),
                                      "--no-store", "--lang", "en"]),
            capture_output=True, text=True, timeout=180, cwd=REPO)
        assert out.exists(), proc.stdout + proc.stderr
        results = {r["id"]: r for r in json.loads(out.read_text())["results"]}
    for seat in ("A01", "A02"):
        result = results[f"SEAT-SPEC/{seat}/agent"]
        assert result["vantage"] == f"agent {seat}", result
        items = {i["item"]: i for i in result["measured"]["items"]}
        assert set(items) == CBEC_SEAT_ITEMS
        for item in items.values():
            assert item["verdict"] in ("pass", "warn", "fail", "not_verified")
            assert item["citation"]["seed"] == "002_778480b43cbac38e.txt", item
            if item["verdict"] == "not_verified":
                assert item["why"]["en"] and item["why"]["zh"], item
        # a Linux PC is not the Windows 7-10 the certificate asks for, and has no Office
        assert items["os"]["verdict"] == "fail" and items["office"]["verdict"] == "fail"
        assert "Debian" in items["os"]["found"]["en"]
        assert result["status"] == "fail"
        assert "check by hand" not in result["message"] or "not verified" in result["message"]
    proctor = results["SEAT-SPEC/proctor/agent"]
    assert "classroom" in {i["item"] for i in proctor["measured"]["items"]}
