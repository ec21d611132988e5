"""`readiness serve SITE`: the schedule, the live page and /metrics in one service."""

from __future__ import annotations

import argparse
from typing import Any

from .messages import print_config_error, usage_error
from .schedule import add_arguments as add_schedule_arguments
from .schedule import run_unattended

DEFAULT_LISTEN = "127.0.0.1:9477"

SERVE_HELP = r"""One service on the proctor PC: the countdown schedule of `readiness schedule`
(the same plan, job store and ledger: run one of the two, not both), every run saved in
the store and signed into the evidence log, and on --listen:
  /         the live page (zh and en): seat plan, requirements, fix list, countdown;
            a run in progress shows check by check; "run now" needs the run-now token
  /metrics  Prometheus text format (see deploy/ for the site agent and the province)
  /healthz  200 while the latest stored run matches the evidence log

"Run now" has its own token, never the agents' one (every seat PC holds that). Make it
once, put it in the secrets file and name it in the site file:
  python3 -c "import secrets; print(secrets.token_urlsafe(24))"   # -> run_now_token: ...
  serve:
    run_now_token: secret:run_now_token
The page asks for it once and signs each press in the browser (time and a random
nonce, HMAC-SHA256): the token never crosses the network and a captured request cannot
be used again. Presses while a run is queued or running join that run.

The default --listen is 127.0.0.1 only. To show the page on the exam LAN give the
proctor PC's address, e.g. --listen 192.168.10.2:9477. The service answers only to the
address it is opened by, `localhost`, this PC's host name and the names given with
--host-name (a page elsewhere cannot make a browser read it through a name of its own);
give the name staff type, e.g. --host-name proctor.school.lan. Idle connections are
closed after 10 s and capped, the oldest giving way, so they cannot lock out /healthz or
"run now"; the systemd unit raises the open-files limit (LimitNOFILE).

Keep it running with systemd (Linux):
  readiness example serve.service --out /etc/systemd/system/readiness-serve.service
  systemctl daemon-reload && systemctl enable --now readiness-serve
  journalctl -u readiness-serve -f

or as a scheduled task at start-up (Windows, as an administrator):
  schtasks /Create /TN readiness-serve /SC ONSTART /RU SYSTEM /RL HIGHEST /TR ^
    "C:\readiness\readiness.exe serve C:\readiness\site.yaml --log-file C:\readiness\serve.log"
  schtasks /Run /TN readiness-serve
"""


def add_serve_parser(subparsers: Any, parents: list[argparse.ArgumentParser],
                     ) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "serve", parents=parents,
        help="run the countdown schedule and serve the live page and /metrics",
        description="The proctor PC's service: scheduled checks, a live page, Prometheus "
                    "metrics.", epilog=SERVE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_schedule_arguments(parser)
    parser.add_argument("--listen", default=DEFAULT_LISTEN, metavar="ADDR:PORT",
                        help="where the page and /metrics listen (default %(default)s)")
    parser.add_argument("--host-name", action="append", default=[], metavar="NAME",
                        help="a name (or outside address) staff open the page by, besides "
                             "the listening address, localhost and this PC's host name; "
                             "repeat for several")
    parser.set_defaults(func=cmd_serve, action="run")
    return parser


def cmd_serve(args: argparse.Namespace) -> int:
    from ..check_run import load
    from ..config.errors import ConfigError
    from ..serve import service
    from ..serve.server import parse_listen

    lang = args.lang
    if args.action == "show":
        return usage_error(lang, "use `readiness schedule show SITE` to list the runs to come",
                           "请用 `readiness schedule show SITE` 查看计划")
    try:
        listen = parse_listen(args.listen)
    except ValueError as err:
        return usage_error(lang, str(err), f"--listen 格式应为 地址:端口，例如 {DEFAULT_LISTEN}")
    try:
        site, _profile = load(args.config)
    except ConfigError as err:
        return print_config_error(err, lang)
    return run_unattended(args, site,
                          lambda settings, stop: service.run(
                              settings, listen, stop, host_names=tuple(args.host_name)),
                          "readiness.serve", "stopping")


__all__ = ["SERVE_HELP", "add_serve_parser", "cmd_serve"]
