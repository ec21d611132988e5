"""`readiness agent install` / `uninstall`.

Linux: the command is run for real on a throwaway tree (--root: the files are written
there and no command runs, so this machine's systemd is never touched), and the firewall
it installs is loaded for real, with the very commands its systemd unit runs, inside a
pair of network namespaces of the test's own: the agent's port answers the proctor's
address and drops every other, and the unit's stop removes it all. Windows: the
schtasks and netsh command lines are checked as Microsoft documents them (no Windows
here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from readiness.agent import install

REPO = Path(__file__).resolve().parent.parent
TOKEN = "rz2k2Bsy8bQShPnWPs2rLaXEEqVXKcpmzJcX8QbIh3A"


def _site(tmp: Path) -> Path:
    secrets = tmp / "secrets.yaml"
    secrets.write_text(f"agent_token: {TOKEN}\n")
    secrets.chmod(0o600)
    site = {"site": {"name": "s", "code": "c"}, "profile": "cbec",
            "secrets_file": str(secrets), "agent": {"port": 8765, "token": "secret:agent_token"},
            "rooms": [{"id": "r1", "subnet": "198.18.99.0/24",
                       "router": {"address": "198.18.99.254"},
                       "exam_servers": {"primary": {"address": "198.18.99.10"}},
                       "proctor": {"address": "198.18.99.2"},
                       "seats": {"A01": "198.18.99.1"}}]}
    path = tmp / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    return path


def _readiness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "readiness", *args, "--lang", "en"],
                          capture_output=True, text=True, timeout=60, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_install_and_uninstall_on_a_throwaway_tree_leave_nothing_behind(tmp_path: Path) -> None:
    site = _site(tmp_path)
    root = tmp_path / "root"
    # what a Debian system has before: the unit folder, nothing of ours
    (root / "etc" / "systemd" / "system").mkdir(parents=True)
    before = _tree(root)
    done = _readiness("agent", "install", "--config", str(site), "--bind", "198.18.99.1",
                      "--proctor", "198.18.99.2", "--root", str(root), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    unit = (root / "etc/systemd/system/readiness-agent.service").read_text()
    nft = (root / "etc/readiness/agent-firewall.nft").read_text()
    assert f"--config {site} --bind 198.18.99.1 --port 8765" in unit
    assert "ExecStartPre=/usr/sbin/nft -f /etc/readiness/agent-firewall.nft" in unit
    assert "ExecStopPost=-/usr/sbin/nft delete table inet readiness_agent" in unit
    assert "tcp dport 8765 ip saddr 198.18.99.2 accept" in nft and "tcp dport 8765 drop" in nft
    assert "no command run" in done.stdout
    gone = _readiness("agent", "uninstall", "--root", str(root), cwd=tmp_path)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert _tree(root) == before


def test_the_dry_run_names_every_step_and_does_nothing(tmp_path: Path) -> None:
    site = _site(tmp_path)
    plan = _readiness("agent", "install", "--config", str(site), "--bind", "198.18.99.1",
                      "--proctor", "198.18.99.2", "--dry-run", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.split("\n")[:4] == [
        "write /etc/readiness/agent-firewall.nft (mode 644)",
        "write /etc/systemd/system/readiness-agent.service (mode 644)",
        "run: systemctl daemon-reload",
        "run: systemctl enable --now readiness-agent.service"]
    undo = _readiness("agent", "uninstall", "--dry-run", cwd=tmp_path)
    assert undo.stdout.split("\n")[:2] == [
        "run: systemctl disable --now readiness-agent.service", "run: systemctl daemon-reload"]


def test_a_bad_proctor_address_or_site_file_is_refused_naming_it(tmp_path: Path) -> None:
    site = _site(tmp_path)
    bad = _readiness("agent", "install", "--config", str(site), "--bind", "198.18.99.1",
                     "--proctor", "proctor-pc", "--dry-run", cwd=tmp_path)
    assert bad.returncode == 2 and "--proctor 'proctor-pc' is not an IPv4 address" in bad.stderr
    missing = _readiness("agent", "install", "--config", str(tmp_path / "nope.yaml"), "--bind",
                         "198.18.99.1", "--proctor", "198.18.99.2", "--dry-run", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.yaml" in missing.stdout + missing.stderr


def test_windows_gets_a_start_up_task_and_a_firewall_rule_for_the_proctor_only() -> None:
    python = r"C:\readiness\venv\Scripts\python.exe"
    plan = install.windows_install(python, r"C:\readiness\site.yaml", "192.168.10.107", 8765,
                                   "192.168.10.2", r"C:\readiness\agent.log")
    assert plan.lines() == [
        r'run: schtasks /Create /TN "readiness agent" /SC ONSTART /RU SYSTEM /RL HIGHEST /F '
        r'/TR "C:\readiness\venv\Scripts\python.exe -m readiness agent --config '
        r'C:\readiness\site.yaml --bind 192.168.10.107 --port 8765 --log-file '
        r'C:\readiness\agent.log"',
        "run: netsh advfirewall firewall add rule name=readiness-agent dir=in action=allow "
        "protocol=TCP localport=8765 remoteip=192.168.10.2 profile=any",
        'run: schtasks /Run /TN "readiness agent"']
    assert install.windows_uninstall().lines() == [
        'run: schtasks /End /TN "readiness agent"',
        'run: schtasks /Delete /TN "readiness agent" /F',
        "run: netsh advfirewall firewall delete rule name=readiness-agent"]
    # schtasks /TR takes 261 characters at most: a longer command line is refused
    with pytest.raises(install.InstallError, match="at most 261"):
        install.windows_install("C:\\" + "x" * 250 + "\\python.exe", "s", "a", 1,
                                "192.168.10.2", "l")


# --- the firewall for real, in namespaces of the test's own -----------------------------

AGENT, PROCTOR, OTHER = "198.18.99.1", "198.18.99.2", "198.18.99.3"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def pair() -> Iterator[tuple[str, str]]:
    if os.geteuid() != 0 or shutil.which("nft") is None:
        pytest.skip("needs root and nft (network namespaces)")
    seat, proctor = f"rdyt{os.getpid()}i-seat", f"rdyt{os.getpid()}i-pro"
    try:
        _ip("netns", "add", seat)
        _ip("netns", "add", proctor)
        _ip("-n", seat, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
            "netns", proctor)
        _ip("-n", seat, "addr", "add", f"{AGENT}/24", "dev", "eth0")
        _ip("-n", proctor, "addr", "add", f"{PROCTOR}/24", "dev", "eth0")
        _ip("-n", proctor, "addr", "add", f"{OTHER}/24", "dev", "eth0")
        for ns in (seat, proctor):
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield seat, proctor
    finally:
        for ns in (seat, proctor):
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True, timeout=10)


def _connects(proctor_ns: str, source: str, port: int) -> bool:
    code = ("import socket,sys\n"
            "s=socket.socket(); s.settimeout(1.5); s.bind((sys.argv[1], 0))\n"
            "try:\n s.connect((sys.argv[2], int(sys.argv[3]))); print('open')\n"
            "except OSError as e:\n print('closed', e)\n")
    out = subprocess.run(["ip", "netns", "exec", proctor_ns, sys.executable, "-c", code,
                          source, AGENT, str(port)], capture_output=True, text=True,
                         timeout=10).stdout
    return out.startswith("open")


@pytest.mark.lab
def test_the_units_firewall_opens_the_port_to_the_proctor_only(
        pair: tuple[str, str], tmp_path: Path) -> None:
    seat, proctor = pair
    port = 8765
    plan = install.linux_install(sys.executable, "/etc/readiness/site.yaml", AGENT, port,
                                 PROCTOR, nft="nft")
    install.apply(plan, tmp_path, run_commands=False)
    unit = (tmp_path / "etc/systemd/system/readiness-agent.service").read_text()
    start = next(line for line in unit.splitlines() if line.startswith("ExecStartPre="))
    stop = next(line for line in unit.splitlines() if line.startswith("ExecStopPost="))
    # the unit's own commands, its file read from the throwaway tree
    start_argv = start.split("=", 1)[1].split()
    start_argv[-1] = str(tmp_path / start_argv[-1].lstrip("/"))
    stop_argv = stop.split("=", 1)[1].lstrip("-").split()

    server = subprocess.Popen(
        ["ip", "netns", "exec", seat, sys.executable, "-c",
         "import socket,sys\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, "
         "socket.SO_REUSEADDR, 1); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)\n"
         "while True:\n c,_=s.accept(); c.close()\n", AGENT, str(port)])
    try:
        threading.Event().wait(0.5)
        assert _connects(proctor, OTHER, port), "before install every address connects"
        subprocess.run(["ip", "netns", "exec", seat, *start_argv], check=True, timeout=10)
        assert _connects(proctor, PROCTOR, port)
        assert not _connects(proctor, OTHER, port), "another address is dropped"
        subprocess.run(["ip", "netns", "exec", seat, *stop_argv], check=True, timeout=10)
        listed = subprocess.run(["ip", "netns", "exec", seat, "nft", "list", "ruleset"],
                                capture_output=True, text=True, timeout=10).stdout
        assert "readiness_agent" not in listed, "the unit's stop leaves no rule behind"
        assert _connects(proctor, OTHER, port)
    finally:
        server.kill()
        server.wait(timeout=5)
