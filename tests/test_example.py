"""`readiness example`: the shipped example files handed out from any folder, and the
one module that finds them (readiness/packaged.py), here run from the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from readiness import packaged

REPO = Path(__file__).resolve().parent.parent


def example(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "readiness", "example", *args, "--lang", "en"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_a_checkout_reads_its_own_config_folder() -> None:
    assert packaged.data_dir() == REPO / "config"
    assert packaged.shown(packaged.data_file("profiles", "eda.yaml")) == "config/profiles/eda.yaml"
    for name in packaged.EXAMPLES:
        assert packaged.example_file(name).is_file(), name


@pytest.mark.parametrize("name", sorted(packaged.EXAMPLES))
def test_every_example_prints_its_file_byte_for_byte(tmp_path: Path, name: str) -> None:
    proc = example(tmp_path, name)
    assert proc.returncode == 0, proc.stderr
    shipped = packaged.example_file(name).read_text(encoding="utf-8")
    if name == "secrets":  # but for the fresh tokens (test_out_writes_... checks them)
        fresh = ("agent_token:", "run_now_token:")
        shipped, printed = ("".join(x for x in text.splitlines(keepends=True)
                                    if not x.startswith(fresh))
                            for text in (shipped, proc.stdout))
        assert printed == shipped
    else:
        assert proc.stdout == shipped


def test_out_writes_a_new_file_and_never_replaces_one(tmp_path: Path) -> None:
    proc = example(tmp_path, "secrets", "--out", "site.secrets.yaml")
    assert proc.returncode == 0, proc.stderr
    written = tmp_path / "site.secrets.yaml"
    # the template, with fresh tokens where readiness asks for its own
    shipped = packaged.example_file("secrets").read_text().splitlines()
    got = written.read_text().splitlines()
    assert len(got) == len(shipped)
    for mine, theirs in zip(got, shipped, strict=True):
        if theirs.startswith(("agent_token:", "run_now_token:")):
            assert mine.split(":")[0] == theirs.split(":")[0] and mine != theirs
        else:
            assert mine == theirs
    assert written.stat().st_mode & 0o777 == 0o600  # readiness refuses anything wider
    assert "readable by you only" in proc.stdout

    written.write_text("agent_token: the-real-one\n")
    again = example(tmp_path, "secrets", "--out", "site.secrets.yaml")
    assert again.returncode == 2
    assert "site.secrets.yaml already exists" in again.stderr
    assert written.read_text() == "agent_token: the-real-one\n"

    site = example(tmp_path, "site", "--out", "my-site.yaml")
    assert site.returncode == 0, site.stderr
    assert (tmp_path / "my-site.yaml").read_bytes() == packaged.example_file("site").read_bytes()


def test_out_into_a_missing_folder_names_it(tmp_path: Path) -> None:
    proc = example(tmp_path, "site", "--out", str(tmp_path / "nowhere" / "site.yaml"))
    assert proc.returncode == 2
    assert "nowhere/site.yaml: cannot create it" in proc.stderr


def test_without_a_name_it_lists_each_example_and_where_it_is(tmp_path: Path) -> None:
    proc = example(tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in packaged.EXAMPLES:
        assert name in proc.stdout
    assert "config/site.example.yaml" in proc.stdout  # run from a checkout
    unknown = example(tmp_path, "nope")
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr
