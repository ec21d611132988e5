"""`readiness agent install` / `uninstall`: the agent started at boot, and its port open
in the host firewall for the proctor PC's address only.

A plan first, then its application, so every step can be shown (`--dry-run`), tested on
a throwaway tree (`--root`) and undone exactly:

Linux   a systemd unit (/etc/systemd/system/readiness-agent.service) whose start loads an
        nftables table of its own (/etc/readiness/agent-firewall.nft: the agent's port
        accepted from the proctor's address, dropped from any other) and whose stop
        deletes it; `systemctl enable --now`. Uninstall: `systemctl disable --now` (the
        stop removes the table), then the two files.
Windows a scheduled task at start-up as SYSTEM (schtasks /Create /SC ONSTART) and an
        inbound Windows Firewall rule for the port from the proctor's address only
        (netsh advfirewall firewall add rule ... remoteip=PROCTOR); Windows Firewall
        blocks unsolicited inbound traffic by default, so the rule opens the port to the
        proctor alone. Uninstall: the task ended and deleted, the rule deleted.

Nothing here touches the machine until `apply`; `apply` writes under `root` and runs the
commands only when `root` is "/" and not a dry run.
"""

from __future__ import annotations

import ipaddress
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

UNIT = PurePosixPath("/etc/systemd/system/readiness-agent.service")
FIREWALL = PurePosixPath("/etc/readiness/agent-firewall.nft")
NFT_TABLE = "readiness_agent"
TASK = "readiness agent"
RULE = "readiness-agent"
# schtasks /TR takes at most 261 characters (its documented limit)
SCHTASKS_TR_MAX = 261


class InstallError(ValueError):
    def __init__(self, en: str, zh: str):
        super().__init__(en)
        self.en, self.zh = en, zh


@dataclass
class Plan:
    """Files to write (path, text, mode), files to remove, commands to run, in order."""

    system: str
    writes: list[tuple[PurePosixPath, str, int]] = field(default_factory=list)
    removes: list[PurePosixPath] = field(default_factory=list)
    commands: list[list[str]] = field(default_factory=list)
    # commands run before the files are removed (stop the service first)
    commands_first: bool = False

    def lines(self) -> list[str]:
        out = []
        first = [f"run: {_shell(c, self.system)}" for c in self.commands]
        files = [f"write {p} (mode {m:o})" for p, _, m in self.writes]
        files += [f"remove {p}" for p in self.removes]
        out += first + files if self.commands_first else files + first
        return out


def _shell(argv: list[str], system: str) -> str:
    if system == "windows":
        return subprocess.list2cmdline(argv)
    return " ".join(shlex.quote(a) for a in argv)


def _proctor(address: str) -> str:
    try:
        return str(ipaddress.IPv4Address(address))
    except ValueError:
        raise InstallError(f"--proctor {address!r} is not an IPv4 address such as 192.168.10.2",
                           f"--proctor {address!r} 不是 IPv4 地址（例如 192.168.10.2）") from None


def nft_rules(port: int, proctor: str) -> str:
    """The agent's own table: its port accepted from the proctor, dropped from others.
    A table of its own, so removing it touches no other rule of the host."""
    return (
        f"# readiness agent: TCP {port} from the proctor PC {proctor} only\n"
        f"table inet {NFT_TABLE} {{\n"
        "  chain inbound {\n"
        "    type filter hook input priority 0; policy accept;\n"
        f"    tcp dport {port} ip saddr {proctor} accept\n"
        f"    tcp dport {port} drop\n"
        "  }\n"
        "}\n")


def unit_text(python: str, config: str, bind: str, port: int, nft: str) -> str:
    run = " ".join(shlex.quote(a) for a in (python, "-m", "readiness", "agent", "--config",
                                            config, "--bind", bind, "--port", str(port)))
    return f"""# written by `readiness agent install`; removed by `readiness agent uninstall`
[Unit]
Description=readiness seat agent (exam room readiness checks)
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
# the agent's port, open to the proctor PC only, for as long as the agent runs
ExecStartPre={nft} -f {FIREWALL}
ExecStart={run}
ExecStopPost=-{nft} delete table inet {NFT_TABLE}
Restart=on-failure
RestartSec=5
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
"""


def linux_install(python: str, config: str, bind: str, port: int, proctor: str,
                  nft: str = "/usr/sbin/nft") -> Plan:
    proctor = _proctor(proctor)
    return Plan("linux", writes=[
        (FIREWALL, nft_rules(port, proctor), 0o644),
        (UNIT, unit_text(python, config, bind, port, nft), 0o644)],
        commands=[["systemctl", "daemon-reload"],
                  ["systemctl", "enable", "--now", "readiness-agent.service"]])


def linux_uninstall() -> Plan:
    return Plan("linux", removes=[UNIT, FIREWALL], commands_first=True,
                commands=[["systemctl", "disable", "--now", "readiness-agent.service"],
                          ["systemctl", "daemon-reload"]])


def windows_install(python: str, config: str, bind: str, port: int, proctor: str,
                    log_file: str) -> Plan:
    proctor = _proctor(proctor)
    run = subprocess.list2cmdline([python, "-m", "readiness", "agent", "--config", config,
                                   "--bind", bind, "--port", str(port), "--log-file",
                                   log_file])
    if len(run) > SCHTASKS_TR_MAX:
        raise InstallError(
            f"the task's command line is {len(run)} characters; schtasks takes at most "
            f"{SCHTASKS_TR_MAX}: install readiness in a shorter folder (such as C:\\readiness)",
            f"任务命令行长 {len(run)} 个字符，schtasks 最多接受 {SCHTASKS_TR_MAX} 个："
            "请把 readiness 安装在较短的目录（例如 C:\\readiness）")
    return Plan("windows", commands=[
        ["schtasks", "/Create", "/TN", TASK, "/SC", "ONSTART", "/RU", "SYSTEM", "/RL",
         "HIGHEST", "/F", "/TR", run],
        ["netsh", "advfirewall", "firewall", "add", "rule", f"name={RULE}", "dir=in",
         "action=allow", "protocol=TCP", f"localport={port}", f"remoteip={proctor}",
         "profile=any"],
        ["schtasks", "/Run", "/TN", TASK]])


def windows_uninstall() -> Plan:
    return Plan("windows", commands=[
        ["schtasks", "/End", "/TN", TASK],
        ["schtasks", "/Delete", "/TN", TASK, "/F"],
        ["netsh", "advfirewall", "firewall", "delete", "rule", f"name={RULE}"]])


def _under(root: Path, path: PurePosixPath) -> Path:
    return root / path.relative_to("/")


def apply(plan: Plan, root: Path, run_commands: bool) -> list[str]:
    """Carry the plan out under `root`; the commands only when `run_commands` (the real
    system). Returns what was done, one line each. A command that fails stops it."""
    done: list[str] = []

    def commands() -> None:
        for argv in plan.commands if run_commands else []:
            proc = subprocess.run(argv, capture_output=True, text=True, check=False,
                                  timeout=60)
            # stopping a service that is not there is not an error of the uninstall
            if proc.returncode != 0 and not (plan.commands_first and argv[1:2] in (
                    ["disable"], ["/End"])):
                raise InstallError(
                    f"{_shell(argv, plan.system)} failed ({proc.returncode}): "
                    f"{(proc.stderr or proc.stdout).strip()[:300]}",
                    f"{_shell(argv, plan.system)} 失败（{proc.returncode}）："
                    f"{(proc.stderr or proc.stdout).strip()[:300]}")
            done.append(f"ran: {_shell(argv, plan.system)}")

    def files() -> None:
        for path, text, mode in plan.writes:
            target = _under(root, path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            target.chmod(mode)
            done.append(f"wrote {target}")
        for path in plan.removes:
            target = _under(root, path)
            if target.exists():
                target.unlink()
                done.append(f"removed {target}")
            # the folder we made for the firewall file, when nothing else is in it
            folder = target.parent
            if path == FIREWALL and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
                done.append(f"removed {folder}")

    if plan.commands_first:
        commands()
        files()
    else:
        files()
        commands()
    return done
