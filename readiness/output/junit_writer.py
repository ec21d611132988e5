"""JUnit XML, so CI dashboards and test viewers can show a site's readiness.

One testsuite per requirement, one testcase per check. `warn` passes (the rule's
minimum is met) with the message kept in system-out.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..partial_files import write_complete
from ..redact import Secret, scrub
from ..results import RunRecord, Status


def write_junit(run: RunRecord, path: Path, lang: str, secrets: list[Secret]) -> None:
    root = ET.Element("testsuites", name=f"readiness {run.site_name} ({run.profile_id})")
    by_req: dict[str, list] = {}
    for result in run.results:
        by_req.setdefault(result.requirement, []).append(result)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for req, results in by_req.items():
        counts = {
            "tests": len(results),
            "failures": sum(r.status == Status.FAIL for r in results),
            "errors": sum(r.status == Status.ERROR for r in results),
            "skipped": sum(r.status == Status.SKIP for r in results),
        }
        for key, value in counts.items():
            totals[key] += value
        suite = ET.SubElement(root, "testsuite", name=req,
                              **{k: str(v) for k, v in counts.items()},
                              time=f"{sum(r.duration_s for r in results):.3f}")
        for r in results:
            case = ET.SubElement(suite, "testcase", classname=f"{req}.{r.vantage}",
                                 name=r.target, time=f"{r.duration_s:.3f}")
            message = scrub(r.message.get(lang), secrets)
            if r.status == Status.FAIL:
                ET.SubElement(case, "failure", message=message, type="fail").text = message
            elif r.status == Status.ERROR:
                ET.SubElement(case, "error", message=message, type="error").text = message
            elif r.status == Status.SKIP:
                ET.SubElement(case, "skipped", message=message)
            else:
                ET.SubElement(case, "system-out").text = f"{r.status.value}: {message}"
    for key, value in totals.items():
        root.set(key, str(value))
    # never a truncated file, even on Ctrl-C
    write_complete(path, ET.tostring(root, encoding="utf-8", xml_declaration=True))
