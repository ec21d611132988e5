"""The service's view of its site: the latest stored run (checked against the signed
log), the run in progress, and the browsers following it. Thread-safe: the schedule's
worker, the HTTP threads and the scraper all read it."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import CollectorRegistry

from .. import __version__
from ..config.load import Site
from ..config.profile import Profile
from ..evidence.run_trust import RunTrust
from ..results import CheckResult, RunRecord, Text, Verdict
from .metrics import SiteFacts, families, process_families, run_families, unproven_families
from .page_model import check_event, page_state

log = logging.getLogger(__name__)

Deliver = Callable[[str, str], None]
# runs on the page's strip (Uptime Kuma's heartbeat bar): about a countdown's worth
RECENT_RUNS = 30


@dataclass(frozen=True)
class Paths:
    store: Path
    log: Path | None
    key_dir: Path


def next_exam(site: Site, now: datetime) -> datetime | None:
    starts = sorted(start for start, end in site.session_windows() if end > now)
    return starts[0] if starts else None


class LiveState:
    def __init__(self, site: Site, profile: Profile, paths: Paths,
                 next_run: Callable[[], datetime | None] = lambda: None,
                 run_now: dict[str, Any] | None = None,
                 current_site: Callable[[], Site] | None = None):
        self._site, self.profile, self.paths = site, profile, paths
        # the schedule reloads the site file when it changes: read the site it holds
        # now, so the exam start and the page follow an edit without a restart
        self._current_site = current_site
        # what the page needs to sign "run now" (nothing secret)
        self.run_now = run_now or {"enabled": False}
        self.next_run = next_run
        self._lock = threading.Lock()
        self._run: RunRecord | None = None
        self._trust: RunTrust | None = None
        self._problem: Text | None = None
        self._last_ready: datetime | None = None
        self._run_families: list[Metric] = []
        self._running = False
        self._planned: int | None = None
        self._live: list[dict[str, Any]] = []
        self._recent: list[Any] = []   # the last runs' summaries, for the page's strip
        self._recent_signed: dict[int, bool] = {}
        self._runs_recorded = 0
        self._subscribers: list[Deliver] = []

    @property
    def site(self) -> Site:
        return self._current_site() if self._current_site else self._site

    @property
    def code(self) -> str:
        return self.site.model.site.code

    # ------------------------------------------------------------------ the store
    def refresh(self) -> None:
        """Read the latest run again and ask readiness/evidence/run_trust.py whether it is
        believed. A run that differs from its signed record is not shown (the store may
        have been edited): the problem is. A run that is not signed is shown as NOT
        SIGNED, never with its stored verdict; the last ready time counts only verified
        runs."""
        from ..evidence.run_trust import MISMATCH, check_log, trust_of
        from ..store import ResultsStore

        run = trust = problem = last_ready = None
        recent: list[Any] = []
        recent_signed: dict[int, bool] = {}
        if self.paths.store.exists():
            store = ResultsStore(self.paths.store)
            latest = store.latest_run(self.code)
            recent = store.list_runs(site_code=self.code)[-RECENT_RUNS:]
            if latest is not None:
                check = check_log(self.paths.log, self.paths.key_dir, self.paths.store)
                trust = trust_of(check, latest)
                if trust.status == MISMATCH:
                    problem = trust.why
                    log.error("the latest stored run does not match the evidence log: %s",
                              problem.en)
                else:
                    run = latest
                last_ready = self._last_ready_verified(store, check)
                # the strip marks each run as history does: verified or not
                recent_signed = {r.run_id: trust_of(check, stored).verified for r in recent
                                 if (stored := store.load_run(r.run_id)) is not None}
        facts = self._facts(trust.status if trust else None, last_ready)
        fams = run_families(run, facts) if run else unproven_families(facts)
        with self._lock:
            self._run, self._trust, self._problem = run, trust, problem
            self._last_ready, self._run_families = last_ready, fams
            self._recent, self._recent_signed = recent, recent_signed

    def _last_ready_verified(self, store: Any, check: Any) -> datetime | None:
        from ..evidence.run_trust import trust_of

        ready = [s for s in store.list_runs(site_code=self.code) if s.verdict is Verdict.READY]
        for summary in reversed(ready):  # newest first: usually the first one answers
            stored = store.load_run(summary.run_id)
            if stored is not None and trust_of(check, stored).verified:
                return summary.finished_at
        return None

    def _facts(self, trust: str | None, last_ready: datetime | None) -> SiteFacts:
        return SiteFacts(site_code=self.code, version=__version__,
                         exam_start=next_exam(self.site, datetime.now(UTC)),
                         next_run=self.next_run(), last_ready=last_ready,
                         signed=None if trust is None else trust == "verified", trust=trust)

    # ------------------------------------------------------------------ the metrics
    def collect(self) -> list[Metric]:
        with self._lock:
            facts = self._facts(self._trust.status if self._trust else None, self._last_ready)
            fams = list(self._run_families)
            runs, running = self._runs_recorded, self._running
        return families(None, facts) + fams + process_families(self.code, runs, running)

    def metrics_text(self) -> bytes:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)  # type: ignore[arg-type]  (a collector: has collect())
        return generate_latest(registry)

    # ------------------------------------------------------------------ the page
    def page(self) -> dict[str, Any]:
        with self._lock:
            run, trust, running, live = self._run, self._trust, self._running, list(self._live)
            problem, planned = self._problem, self._planned
            recent, recent_signed = list(self._recent), dict(self._recent_signed)
        state = page_state(run, self.site, self.profile,
                           exam_start=next_exam(self.site, datetime.now(UTC)),
                           next_run=self.next_run(), trust=trust, running=running, live=live,
                           planned=planned, runs=recent, runs_signed=recent_signed)
        state["problem"] = problem.to_dict() if problem else None
        state["run_now"] = self.run_now
        return state

    def report_html(self) -> str | None:
        """The latest run's proof report, made now from the store and the signed log
        (HTML; the PDF is `readiness report`'s). None: no run yet."""
        from ..report import render_html
        from ..report.proof import NotProven, prove
        from ..store import ResultsStore

        with self._lock:
            run = self._run
        if run is None:
            return None
        evidence = attestations = None
        if self.paths.log is not None and self.paths.log.exists():
            try:
                proof = prove(run, self.paths.log, self.paths.key_dir, self.paths.store)
                evidence, attestations = proof.evidence, proof.attestations
            except NotProven as err:
                log.error("the report of the latest run cannot be made: %s", err.text.en)
                return None
        return render_html(run, profile=self.profile, site=self.site,
                           store=ResultsStore(self.paths.store), evidence=evidence,
                           attestations=attestations,
                           secrets=list(self.site.secrets.values()),
                           evidence_dir=self.paths.store.parent)

    def healthy(self) -> tuple[bool, Text]:
        with self._lock:
            problem = self._problem
        if problem is not None:
            return False, problem
        return True, Text("serving", "运行中")

    # ------------------------------------------------------------------ events
    def subscribe(self, deliver: Deliver) -> None:
        """`deliver(event, data)` is called for every event, from the schedule's worker
        thread: it must not block (the server hands it to its event loop)."""
        with self._lock:
            self._subscribers.append(deliver)

    def unsubscribe(self, deliver: Deliver) -> None:
        with self._lock:
            if deliver in self._subscribers:
                self._subscribers.remove(deliver)

    def _broadcast(self, event: str, data: dict[str, Any]) -> None:
        text = json.dumps(data, ensure_ascii=False)
        with self._lock:
            subscribers = list(self._subscribers)
        for deliver in subscribers:
            try:
                deliver(event, text)
            except Exception:  # a browser's connection must not break the run
                log.debug("an event subscriber failed", exc_info=True)

    def watch(self, event: str, payload: object) -> None:
        """Called by the schedule's worker (readiness.schedule.runner.WATCHERS)."""
        if event == "planned" and isinstance(payload, int):
            with self._lock:
                self._planned = payload
        elif event == "start":
            with self._lock:
                self._running, self._live = True, []
        elif event == "check" and isinstance(payload, CheckResult):
            item = check_event(payload)
            with self._lock:
                self._running = True
                self._live.append(item)
                item = {**item, "done": len(self._live), "total": self._planned}
            self._broadcast("check", item)
        elif event == "recorded":
            with self._lock:
                self._runs_recorded += 1
        elif event == "end":
            with self._lock:
                self._running, self._planned = False, None
            self.refresh()
            self._broadcast("state", self.page())
