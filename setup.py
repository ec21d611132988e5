"""What pyproject.toml cannot say: where the shipped data comes from.

config/ (certificate profiles, the lab room and its site, the example site, its secrets
template, the systemd units) stays the one copy, where a checkout's user reads it; the
wheel carries it as the data folder readiness/_data, found by readiness/packaged.py.
pyproject's `packages.find` cannot add packages that live in another folder, so the
package list is made here; which files of each are shipped is in pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

DATA = "readiness._data"

setup(
    packages=[
        *find_namespace_packages(include=["readiness", "readiness.*", "probes", "probes.*"]),
        DATA,
        *(f"{DATA}.{folder}" for folder in find_namespace_packages(where="config")),
    ],
    package_dir={DATA: "config"},
)
