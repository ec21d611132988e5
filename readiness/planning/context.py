"""What every planner is given: the site, its certificate profile, the evidence folder.

Its own module so that planners and the plan builder (planning/__init__.py) import it
without importing each other.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from ..config.load import Site
from ..config.profile import Profile, Requirement

M = TypeVar("M", bound=BaseModel)


@dataclass
class PlanContext:
    site: Site
    profile: Profile
    # folder where probes may write evidence (snapshots...); None = keep none
    evidence_dir: Path | None = None
    # fresh for each plan: names made from it no resolver can have cached, the same in
    # every check of the plan (so two rules' identical seat audits are one run)
    run_token: str = field(default_factory=lambda: secrets.token_hex(5))


def thresholds_of(req: Requirement, model: type[M]) -> M:
    """The requirement's thresholds as its typed model: every knob and its one default
    live in the model (config/profile.py), never in a planner or a judge."""
    return model.model_validate(req.thresholds)
