"""The files readiness ships beside its code, and the one way to find them.

Certificate profiles, the lab room and its site file, the annotated example site, its
secrets template and the systemd units live once, in the repository's `config/` folder,
where a user of a checkout reads and edits them. A wheel carries the same files as the
data folder `readiness/_data` (setup.py maps it onto `config/`), so `pip install .` works
from any folder without a checkout. Everything that reads one of these files asks this
module, never a path relative to the source tree.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

# How the example files are named on the command line (`readiness example NAME`).
EXAMPLES = {
    "site": "site.example.yaml",
    "secrets": "site.secrets.example.yaml",
    "agent.service": "readiness-agent.service",
    "schedule.service": "readiness-schedule.service",
    "serve.service": "readiness-serve.service",
    "lab-room": "lab/room.yaml",
}
# readiness/packaged.py -> the checkout's config/ (absent in an installed package)
_CHECKOUT_ROOT = Path(__file__).resolve().parent.parent
_CHECKOUT_DATA = _CHECKOUT_ROOT / "config"


def data_dir() -> Path:
    """The folder that holds profiles/, lab/ and the example files."""
    shipped = resources.files(__package__) / "_data"
    # pip installs packages as plain folders, so the shipped copy is a real path that
    # subprocesses and error messages can name; a source checkout has no _data folder.
    if isinstance(shipped, Path) and shipped.is_dir():
        return shipped
    if _CHECKOUT_DATA.is_dir():
        return _CHECKOUT_DATA
    # neither: an installation that lost its data; name where it should have been
    return Path(str(shipped))


def data_file(*parts: str) -> Path:
    """A shipped file or folder, e.g. data_file("lab", "room.yaml")."""
    return data_dir().joinpath(*parts)


def example_file(name: str) -> Path:
    """The shipped file behind `readiness example NAME` (a key of EXAMPLES)."""
    return data_file(*EXAMPLES[name].split("/"))


def shown(path: Path) -> str:
    """A file as messages name it: `config/profiles/eda.yaml` for a file of a checkout
    run from its checkout, wherever the program was started; otherwise the path as given
    (an installed package has no config/ to be relative to)."""
    if data_dir() == _CHECKOUT_DATA:
        try:
            return str(path.resolve().relative_to(_CHECKOUT_ROOT))
        except ValueError:
            pass
    return str(path)
