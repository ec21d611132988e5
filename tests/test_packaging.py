"""readiness packaged like a library: `pip install .` (not editable) into a fresh venv
works from any folder, with the profiles, the lab room, the example site and the report
templates it ships (config/ is their one copy; setup.py maps it into the wheel).

Slow-ish (about 20 s: a wheel build, a venv, one install); no lab, no root. The venv
sees the system's site-packages so that the dependencies are not downloaded again;
what matters is that `readiness` itself is imported from the wheel, which is asserted.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DRILL_RESULT = REPO / "tests" / "fixtures" / "drill_result.json"


def run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 120
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def checkout_files() -> list[str]:
    """What a clean clone would hold: tracked files plus new ones not ignored."""
    if not shutil.which("git") or not (REPO / ".git").exists():
        pytest.skip("needs the git checkout (to copy what a clean clone holds)")
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=REPO, capture_output=True, text=True, check=True, timeout=30).stdout
    return [name for name in out.split("\0") if name and (REPO / name).is_file()]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("packaging")
    files = checkout_files()
    # a copy of the checkout: the build writes nothing into it, and a stale build/ of
    # the developer's cannot slip into the wheel
    source = base / "source"
    for name in files:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    wheels = base / "wheels"
    proc = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels),
                str(source)], base, env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wheel = next(wheels.glob("readiness-*.whl"))
    venv = base / "venv"
    proc = run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], base, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # --ignore-installed: the system may hold an editable readiness; this venv gets its own
    proc = run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
                "--ignore-installed", str(wheel)], base, env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    work = base / "elsewhere"  # a folder with no checkout in sight
    work.mkdir()
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "200"
    return {"files": files, "wheel": wheel, "venv": venv, "work": work, "env": env}


def readiness(installed: dict, *args: str) -> subprocess.CompletedProcess[str]:
    return run([str(installed["venv"] / "bin" / "readiness"), *args, "--lang", "en"],
               installed["work"], installed["env"])


def test_the_wheel_ships_every_file_of_config(installed: dict) -> None:
    config = sorted(name.removeprefix("config/") for name in installed["files"]
                    if name.startswith("config/"))
    assert "profiles/eda.yaml" in config and "site.example.yaml" in config
    with zipfile.ZipFile(installed["wheel"]) as wheel:
        names = wheel.namelist()
    shipped = sorted(n.removeprefix("readiness/_data/") for n in names
                     if n.startswith("readiness/_data/"))
    assert shipped == config
    assert "readiness/report/templates/report.html.j2" in names
    # config/ itself is not a package of the wheel: only readiness and probes are
    assert {n.split("/")[0] for n in names} == {"readiness", "probes",
                                                wheel_dist_info(names)}


def wheel_dist_info(names: list[str]) -> str:
    return next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))


def test_readiness_comes_from_the_venv_and_finds_its_data_there(installed: dict) -> None:
    proc = run([str(installed["venv"] / "bin" / "python"), "-c",
                "import readiness, readiness.packaged as p; "
                "from readiness.lab import DEFAULT_SPEC, load_spec; "
                "from readiness.lab.lab import LAB_SITE_TEMPLATE; "
                "print(readiness.__file__); print(p.data_dir()); print(DEFAULT_SPEC); "
                "print(LAB_SITE_TEMPLATE); print(load_spec().seats)"],
               installed["work"], installed["env"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    module, data, spec, lab_site, seats = proc.stdout.split("\n")[:5]
    venv = str(installed["venv"])
    for path in (module, data, spec, lab_site):
        assert path.startswith(venv) and "site-packages" in path, path
    assert Path(data).name == "_data" and Path(lab_site).is_file()
    assert int(seats) == 40  # the shipped lab room, read from the venv


def test_profiles_lists_both_certificates(installed: dict) -> None:
    proc = readiness(installed, "profiles")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no profiles" not in proc.stdout
    assert re.search(r"cbec\s.*Cross-border", proc.stdout), proc.stdout
    assert re.search(r"eda\s.*E-commerce Data", proc.stdout), proc.stdout
    shown = readiness(installed, "profiles", "show", "eda")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "LAN-SUBNET" in shown.stdout and "WAN-FLOOR" in shown.stdout


def test_readme_first_config_steps_with_the_installed_command(installed: dict) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- first-config -->\s*```sh\n(.*?)```", readme, re.S)
    assert block, "README.md lost its first-config block"
    work = installed["work"] / "first-config"
    work.mkdir()
    proc = run(["bash", "-euc", block.group(1)], work, installed["env"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK my-site.yaml" in proc.stdout and "41 seat(s)" in proc.stdout, proc.stdout
    # the very files of config/, out of the installed package
    assert (work / "my-site.yaml").read_bytes() == \
        (REPO / "config" / "site.example.yaml").read_bytes()
    secrets = work / "site.secrets.yaml"
    shipped = (REPO / "config" / "site.secrets.example.yaml").read_text().splitlines()
    assert len(secrets.read_text().splitlines()) == len(shipped)
    assert "CHANGE-ME-long-random-agent-token" not in secrets.read_text()
    assert secrets.stat().st_mode & 0o777 == 0o600


def test_example_prints_the_units_and_the_lab_room(installed: dict) -> None:
    for name, file in (("agent.service", "readiness-agent.service"),
                       ("lab-room", "lab/room.yaml")):
        proc = readiness(installed, "example", name)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == (REPO / "config" / file).read_text(encoding="utf-8")
    listing = readiness(installed, "example")
    assert listing.returncode == 0 and str(installed["venv"]) in listing.stdout


def test_a_report_from_the_installed_templates(installed: dict) -> None:
    work = installed["work"] / "report"
    work.mkdir()
    store = work / "readiness.sqlite"
    proc = run([str(installed["venv"] / "bin" / "python"), "-c",
                "import json, sys; from pathlib import Path; "
                "from readiness.serve.importing import run_from_json; "
                "from readiness.store import ResultsStore; "
                "ResultsStore(Path(sys.argv[2])).save_run("
                "run_from_json(json.loads(Path(sys.argv[1]).read_text())))",
                str(DRILL_RESULT), str(store)], work, installed["env"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = readiness(installed, "report", "--store", str(store), "--out", str(work / "out"),
                     "--no-pdf")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = next((work / "out").glob("report-*.html")).read_text(encoding="utf-8")
    assert "<title>Simulated exam room" in page and "LAN-SUBNET" in page


def install_lists() -> dict[str, set[str]]:
    text = (REPO / "install.sh").read_text(encoding="utf-8")
    return {name: set(body.split()) for name, body in
            re.findall(r"^(\w+)_PACKAGES=\((.*?)\)", text, re.S | re.M)}


def test_install_sh_without_dev_has_what_the_drill_checks_for_and_no_test_peer() -> None:
    from readiness.lab.prereq import ELEMENTS, TOOLS

    lists = install_lists()
    assert set(lists) == {"SITE", "LAB", "DEV"}, lists
    plain = lists["SITE"] | lists["LAB"]
    # `bash install.sh && readiness drill`: everything lab/prereq.py asks for, and the PDF
    drill_needs = {*TOOLS.values(), *ELEMENTS.values(), "python3-gi",
                   "gir1.2-gst-rtsp-server-1.0", "chromium", "fonts-noto-cjk"}
    assert drill_needs <= plain, drill_needs - plain
    # the peers our probes and reports are compared with stay off a school's PC
    peers = {"nmap", "arp-scan", "ffmpeg", "poppler-utils", "prometheus", "snmp"}
    assert peers <= lists["DEV"] and not peers & plain
