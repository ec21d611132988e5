"""`readiness relay RELAY.yaml`: the province's Alertmanager to school robots."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from typing import Any

from .messages import print_config_error, usage_error

DEFAULT_LISTEN = "127.0.0.1:9097"

RELAY_HELP = """Alertmanager's webhook notifications to DingTalk, WeCom and Feishu robots (or a
generic JSON webhook), in each robot's own format, signed when it has a signing secret.
Alertmanager posts to http://ADDR:PORT/alertmanager/<receiver>; RELAY.yaml names each
receiver's robots, their addresses as secret references:

  secrets_file: relay.secrets.yaml      # NAME: value lines, mode 600
  receivers:
    city-Nanning:
      webhooks:
        - kind: dingtalk
          format: markdown
          url: secret:nanning_dingtalk_url
          sign_secret: secret:nanning_dingtalk_sign

deploy/alertmanager.yml routes to these receivers; docs/runbook.md "Alert delivery".
"""


def add_relay_parser(subparsers: Any, parents: list[argparse.ArgumentParser],
                     ) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "relay", parents=parents, help="relay the province's Alertmanager to school robots",
        description="Alertmanager webhooks to DingTalk / WeCom / Feishu robots.",
        epilog=RELAY_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("relay_file", metavar="RELAY.yaml", type=Path)
    parser.add_argument("--listen", default=DEFAULT_LISTEN, metavar="ADDR:PORT",
                        help="where Alertmanager posts (default %(default)s)")
    parser.set_defaults(func=cmd_relay)
    return parser


def cmd_relay(args: argparse.Namespace) -> int:
    from ..config.errors import ConfigError
    from ..serve.relay import load_relay, serve
    from ..serve.server import parse_listen

    try:
        listen = parse_listen(args.listen)
    except ValueError as err:
        return usage_error(args.lang, str(err),
                           f"--listen 格式应为 地址:端口，例如 {DEFAULT_LISTEN}")
    try:
        relay = load_relay(args.relay_file)
    except ConfigError as err:
        return print_config_error(err, args.lang)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        serve(relay, listen, stop)
    except OSError as err:
        return usage_error(args.lang,
                           f"cannot listen on {args.listen}: {err.strerror}; pick another "
                           "--listen address or stop what uses it",
                           f"无法监听 {args.listen}：{err.strerror}；请换一个 --listen 地址")
    return 0


__all__ = ["add_relay_parser", "cmd_relay"]
