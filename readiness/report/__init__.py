"""The proof-of-readiness report: a self-contained bilingual HTML page and its PDF.

    files = write_report(run, Path("runs/report"), profile=profile, site=site,
                         store=store, evidence={"head": ..., "fingerprint": ...,
                         "log": "runs/evidence.jsonl"}, attestations=records)
    files.html, files.pdf  # pdf is None when Chromium is missing; files.pdf_problem says why
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..config.load import Site
from ..config.profile import Profile
from ..partial_files import write_complete
from ..redact import Secret
from ..results import RunRecord, Text
from ..sitetime import stamp
from ..store import ResultsStore
from .html import SITE_TZ, render_html
from .pdf import DEFAULT_TIMEOUT_S, find_chromium, print_pdf, screenshot


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    pdf: Path | None  # None: no PDF was made (pdf_problem says why)
    pdf_problem: Text | None = None


def report_stem(run: RunRecord, site: Site | None = None) -> str:
    """`report-SITE01-20240520-090000+0800`: one name per run, in the site's time with its
    offset, so reports of a countdown sit side by side and a rerun of the report replaces
    its own files only."""
    code = re.sub(r"[^A-Za-z0-9_.-]+", "_", run.site_code).strip("._") or "site"
    return f"report-{code}-{stamp(run.started_at, site.tz if site is not None else SITE_TZ)}"


def _write_atomic(path: Path, text: str) -> None:
    # a report cut short by a crash must not be mistaken for a whole one
    write_complete(path, text)


def write_report(run: RunRecord, out_dir: Path, *, profile: Profile | None,
                 site: Site | None = None, store: ResultsStore | None = None,
                 evidence: dict[str, Any] | None = None,
                 attestations: list[dict[str, Any]] | None = None, lang_primary: str = "zh",
                 secrets: Iterable[Secret] = (), evidence_dir: Path | None = None,
                 pdf: bool = True, chromium: str | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S,
                 generated_at: datetime | None = None) -> ReportFiles:
    """Write `<out_dir>/report-<site>-<time>.html` and, with Chromium, the `.pdf`.

    evidence: {"head", "fingerprint", "log"} (+ optional "pub", "records", "run_ref",
    "verified"); None prints the report as not backed by signed evidence.
    attestations: evidence-log records of type "attestation" (or their bodies).
    secrets: values that must not appear anywhere in the page (the site's are added).
    evidence_dir: where relative evidence file names (snapshots) are found.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = report_stem(run, site)
    html_path = out_dir / f"{stem}.html"
    pdf_path = out_dir / f"{stem}.pdf"
    page = render_html(run, profile=profile, site=site, store=store, evidence=evidence,
                       attestations=attestations, lang_primary=lang_primary, secrets=secrets,
                       evidence_dir=evidence_dir, generated_at=generated_at)
    _write_atomic(html_path, page)
    if not pdf:
        return ReportFiles(html_path, None)
    printed = print_pdf(html_path, pdf_path, timeout_s=timeout_s, binary=chromium)
    if not printed.ok:
        # an older PDF under this name would no longer match the HTML beside it
        pdf_path.unlink(missing_ok=True)
        return ReportFiles(html_path, None, printed.problem)
    return ReportFiles(html_path, pdf_path)


__all__ = ["ReportFiles", "find_chromium", "render_html", "report_stem", "screenshot",
           "write_report"]
