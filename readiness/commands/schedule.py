"""`readiness schedule`: the command line of the unattended countdown (CLI layer)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from ..argtypes import positive_int
from ..redact import Secret, scrub
from .messages import print_config_error, usage_error

RUNS = Path("runs")
DEFAULT_STORE = RUNS / "readiness.sqlite"
DEFAULT_LOG = RUNS / "evidence.jsonl"
DEFAULT_KEYS = Path("keys")
DEFAULT_JOBS = RUNS / "schedule.sqlite"

SERVICE_HELP = r"""The countdown comes from exam_sessions and the schedule: section of the site
file (default: daily at 20:00 from T-7 days, every 2 hours from T-1 day, every 30
minutes from T-3 hours, a last check at T-30 minutes). See it with
  readiness schedule show site.yaml

Every run is signed into the evidence log (create the key first: readiness keys init),
saved in the results store, and compared with the previous run: a requirement that
breaks or is fixed again is sent to the alerts: section's webhooks and email.

Keep it running with systemd (Linux):
  readiness example schedule.service --out /etc/systemd/system/readiness-schedule.service
  systemctl daemon-reload && systemctl enable --now readiness-schedule
  journalctl -u readiness-schedule -f

or as a scheduled task at start-up (Windows): see docs/schedule.md.

A restart (or a crash, or a power cut) loses nothing: the plan is kept in --jobs, a
run that was due while the machine was down runs once when it is back (if at most
schedule.misfire_grace late), and no run happens twice.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # `schedule CONFIG` runs, `schedule show CONFIG` lists: the action is optional
    parser.add_argument("action", nargs="?", choices=("run", "show"), default="run",
                        help="run the countdown (default), or show the runs to come")
    parser.add_argument("config", help="the site YAML file")
    parser.add_argument("--store", default=str(DEFAULT_STORE),
                        help="results store (default %(default)s)")
    parser.add_argument("--log", default=str(DEFAULT_LOG),
                        help="evidence log every run is signed into (default %(default)s)")
    parser.add_argument("--dir", default=str(DEFAULT_KEYS),
                        help="key folder with site.key (default %(default)s)")
    parser.add_argument("--jobs", default=str(DEFAULT_JOBS),
                        help="the schedule's own database: planned jobs and the runs made "
                             "(default %(default)s)")
    parser.add_argument("--room", help="only these rooms (default: schedule.rooms, else all)")
    parser.add_argument("--only", help="only these requirements, e.g. LAN-SUBNET,LAN-SEATS "
                                       "(default: schedule.only, else all)")
    parser.add_argument("--concurrency", type=positive_int, default=64,
                        help="checks run at once within a run (default %(default)s)")
    parser.add_argument("--exit-when-done", action="store_true",
                        help="stop once every planned run has happened (default: keep "
                             "running and watch the site file for new sessions)")
    parser.add_argument("--log-file", metavar="FILE",
                        help="append the schedule's log here instead of stderr (Windows "
                             "tasks have no console); rotated at 10 MB, 3 old files kept "
                             "(FILE.1 ...)")
    parser.add_argument("--limit", type=int, default=None,
                        help="show: list at most this many runs")


def add_schedule_parser(subparsers: Any, parents: list[argparse.ArgumentParser],
                        ) -> argparse.ArgumentParser:
    """Add `readiness schedule` to the main command's subparsers."""
    parser = subparsers.add_parser(
        "schedule", parents=parents,
        help="check the site unattended as its exam comes closer; `schedule show` lists "
             "the runs to come",
        description="Run the checks of a site on a countdown to its exam sessions, sign "
                    "every run into the evidence log, and alert when a requirement breaks.",
        epilog=SERVICE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.set_defaults(func=cmd_schedule)
    return parser


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


class _Scrub(logging.Filter):
    """Whatever a log line quotes (an exception, a server's answer), no secret value
    reaches the journal."""

    def __init__(self, secrets: list[Secret]):
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage(), self.secrets)
        record.args = None
        if record.exc_info:
            # format the traceback now, scrubbed, instead of letting the handler do it
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info),
                                    self.secrets)
            record.exc_info = None
        return True


# --log-file: a service that runs for weeks (and logs every refused request, however
# rate-limited) must not fill the disk: the file is rotated at this size, a few kept
LOG_FILE_BYTES = 10 * 1024 * 1024
LOG_FILE_BACKUPS = 3


def _logging(log_file: str | None, secrets: list[Secret], *, max_bytes: int = LOG_FILE_BYTES,
             backups: int = LOG_FILE_BACKUPS) -> logging.Handler:
    from logging.handlers import RotatingFileHandler

    handler: logging.Handler = (
        RotatingFileHandler(log_file, maxBytes=max_bytes, backupCount=backups,
                            encoding="utf-8") if log_file
        else logging.StreamHandler(sys.stderr))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_Scrub(secrets))
    for name, level in (("readiness", logging.INFO), ("apscheduler", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.addHandler(handler)
        # our own handler: the root's must not print every line a second time
        logger.propagate = False
    return handler


def cmd_schedule(args: argparse.Namespace) -> int:
    from ..check_run import load
    from ..config.errors import ConfigError
    from ..schedule.runner import serve
    from .schedule_show import render_schedule

    lang = args.lang
    try:
        site, _profile = load(args.config)
    except ConfigError as err:
        return print_config_error(err, lang)
    if args.action == "show":
        render_schedule(Console(highlight=False), site, datetime.now(UTC), lang,
                        rooms=_split(args.room), only=_split(args.only), limit=args.limit)
        return 0

    return run_unattended(
        args, site, lambda settings, stop: serve(settings, stop,
                                                 exit_when_done=args.exit_when_done),
        "readiness.schedule", "stopping after the run in progress, if any")


def run_unattended(args: argparse.Namespace, site: Any,
                   run: Callable[[Any, threading.Event], None], logger: str,
                   stopping: str) -> int:
    """What `schedule` and `serve` share: the settings from the command line, a log
    that never shows a secret, SIGINT/SIGTERM ending the service after the run in
    progress, and every failure as a sentence with its exit code."""
    from ..config.errors import ConfigError
    from ..schedule.runner import ScheduleError, settings_from

    settings = settings_from(args.config, store=args.store, log_path=args.log,
                             key_dir=args.dir, jobs=args.jobs, rooms=_split(args.room),
                             only=_split(args.only), concurrency=args.concurrency)
    handler = _logging(args.log_file, list(site.secrets.values()))
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        logging.getLogger(logger).info("signal %d: %s", signum, stopping)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        run(settings, stop)
    except ConfigError as err:
        return print_config_error(err, args.lang)
    except ScheduleError as err:
        return usage_error(args.lang, err.text.en, err.text.zh)
    finally:
        handler.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    from .messages import default_lang

    parser = argparse.ArgumentParser(
        prog="python -m readiness.schedule",
        description="The same as `readiness schedule`.", epilog=SERVICE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", choices=("zh", "en"), default=default_lang())
    add_arguments(parser)
    return cmd_schedule(parser.parse_args(argv))


__all__ = ["SERVICE_HELP", "add_arguments", "add_schedule_parser", "cmd_schedule", "main"]
