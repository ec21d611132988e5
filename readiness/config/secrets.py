"""Secrets are referenced from the site file, never written in it, never printed.

A reference is `${ENV_VAR}` or `secret:NAME` (a key of the site's secrets file,
which must be readable by its owner only).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from ..redact import Secret
from .errors import ConfigError
from .yamlsource import file_kind, load_yaml

__all__ = ["Secret", "SecretsFile", "is_reference"]

ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
FILE_REF = re.compile(r"^secret:([A-Za-z0-9_.-]+)$")
REF_HELP = "a reference: ${ENV_VAR} or secret:NAME (a key of the secrets file)"


def is_reference(value: str) -> bool:
    return bool(ENV_REF.match(value) or FILE_REF.match(value))


class SecretsFile:
    """The site's secrets file: a flat YAML mapping NAME -> value."""

    def __init__(self, path: Path | None):
        self.path = path
        self._values: dict[str, str] | None = None
        self.problem: str | None = None

    def _load(self) -> dict[str, str]:
        if self._values is not None:
            return self._values
        self._values = {}
        if self.path is None:
            self.problem = "the site has no secrets_file"
            return self._values
        try:
            status = self.path.stat()
            mode = status.st_mode
        except FileNotFoundError:
            self.problem = (f"secrets file {self.path} does not exist: create it from the "
                            f"template (readiness example secrets --out {self.path}), "
                            "then fill in the values")
            return self._values
        except OSError as exc:
            self.problem = f"secrets file {self.path} cannot be read: {exc.strerror}"
            return self._values
        except ValueError:  # a NUL in the name: no file can be called that
            self.problem = f"secrets file {str(self.path)!r} is not a valid file name"
            return self._values
        if not stat.S_ISREG(mode):
            # a FIFO would block the read forever, a device may act on being opened
            self.problem = (f"secrets file {self.path} is not a regular file "
                            f"({file_kind(mode)[0]}): name the YAML file itself")
            return self._values
        owner_problem = _owner_problem(self.path, status.st_uid)
        if owner_problem:
            self.problem = owner_problem
            return self._values
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            self.problem = (
                f"secrets file {self.path} can be read by other users "
                f"(mode {stat.filemode(mode)}); run: chmod 600 {self.path}"
            )
            return self._values
        try:
            # the guarded loader of every config file; secret=True: every value stays the
            # text written (0123, yes, 12:30 are passwords, not a number, a boolean and a
            # time) and no message quotes from the file
            data = load_yaml(self.path, str(self.path), secret=True).data or {}
        except ConfigError as err:
            self.problem = "secrets file " + "; ".join(str(i) for i in err.issues)
            return self._values
        if not isinstance(data, dict):
            self.problem = f"secrets file {self.path} must be a mapping NAME: value"
            return self._values
        self._values = {str(k): str(v) for k, v in data.items()}
        return self._values

    def resolve(self, ref: str) -> tuple[Secret | None, str | None]:
        """Return (secret, None) or (None, why it cannot be resolved)."""
        env = ENV_REF.match(ref)
        if env:
            name = env.group(1)
            if name not in os.environ:
                return None, f"environment variable {name} is not set"
            return Secret(os.environ[name], ref), None
        key = FILE_REF.match(ref)
        if key:
            values = self._load()
            if self.problem:
                return None, self.problem
            if key.group(1) not in values:
                return None, f"no key {key.group(1)!r} in secrets file {self.path}"
            return Secret(values[key.group(1)], ref), None
        return None, f"must be {REF_HELP}, not the secret itself"


def _owner_problem(path: Path, owner: int) -> str | None:
    """A secrets file must belong to the user running readiness: a file another user
    owns can be rewritten by that user (another agent token, a webhook address of their
    own) however strict its mode. Root reads only files root owns, for the same reason."""
    if os.name != "posix":
        return None
    uid = os.geteuid()
    if owner == uid:
        return None
    return (f"secrets file {path} belongs to {_user(owner)}, not to {_user(uid)} who runs "
            f"readiness: that user could change the secrets. Run: chown {_user(uid)} {path} "
            "(and keep chmod 600), or run readiness as its owner")


def _user(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"
