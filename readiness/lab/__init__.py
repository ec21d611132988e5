"""The simulated exam room: network namespaces for a switch, a behaviour-management router,
"the internet", an exam server, a proctor PC, a UPS card, candidate seats and cameras.

It is the test bed for every probe and the drill a new user runs first. Traffic never
leaves the namespaces the lab creates; addresses come only from 198.18.0.0/15 and the
RFC 5737 documentation ranges.
"""

from .errors import LabError, LabSpecError
from .lab import Lab, LabStatus, ServiceStatus, running, status, up
from .prereq import missing_prerequisites
from .spec import DEFAULT_SPEC, LabSpec, load_spec
from .teardown import down

__all__ = [
    "DEFAULT_SPEC",
    "Lab",
    "LabError",
    "LabSpec",
    "LabSpecError",
    "LabStatus",
    "ServiceStatus",
    "down",
    "load_spec",
    "missing_prerequisites",
    "running",
    "status",
    "up",
]
