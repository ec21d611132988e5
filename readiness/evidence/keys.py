"""The site key: an Ed25519 key pair that signs every evidence record.

`site.key` (private) never leaves the site machine and is readable by its owner only;
`site.pub` is what the site hands to the inspector so they can verify the log.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets as _random
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..results import Text
from .errors import EvidenceError, KeyExistsError, KeyPermissionError

PRIVATE_NAME = "site.key"
PUBLIC_NAME = "site.pub"
# The public key as it was when the site key was created. `verify` trusts this (or
# --pub), never whatever site.pub lies beside a log: a forger who replaces the log and
# site.pub together is refused because the pin no longer matches.
PIN_NAME = "site.pin"
# Relative like the default results folder `runs/`; keep it out of version control.
DEFAULT_KEY_DIR = Path("keys")


@dataclass(frozen=True)
class KeyInfo:
    private_path: Path
    public_path: Path
    fingerprint: str  # grouped, for people: "sha256:ab12 cd34 ..."


def key_id(public_key: Ed25519PublicKey) -> str:
    """Fingerprint without spaces: the form written into every record's `key` field."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, grouped by four so a person can compare it
    aloud or against a printed report."""
    return group(key_id(public_key))


def group(kid: str) -> str:
    digest = kid.removeprefix("sha256:").replace(" ", "")
    return "sha256:" + " ".join(digest[i:i + 4] for i in range(0, len(digest), 4))


def same_key(a: str, b: str) -> bool:
    return a.replace(" ", "").lower() == b.replace(" ", "").lower()


def fsync_dir(directory: Path) -> None:
    # A rename or link is only durable once the directory entry itself is on disk.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_new(path: Path, data: bytes, mode: int, force: bool) -> None:
    """Write `data` to `path` so that it never exists half-written or with a wider
    mode than `mode`, and (unless `force`) never replaces an existing file."""
    tmp = path.with_name(f".{path.name}.{_random.token_hex(6)}.tmp")
    # O_EXCL also refuses to follow a symlink planted at the temporary name; the mode
    # is given at creation so the file is never readable by others, not even briefly.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                 mode)
    try:
        try:
            os.fchmod(fd, mode)  # the umask can only narrow the mode; make it exact
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if force:
            os.replace(tmp, path)
        else:
            # link() fails if the name exists: no window between "check" and "create"
            os.link(tmp, path)
    except FileExistsError:
        raise KeyExistsError(_exists_text(path)) from None
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def _exists_text(path: Path) -> Text:
    return Text(
        f"{path} already exists: refusing to replace the site key. Records signed with the "
        "old key could no longer be verified with a new one. Use --force only if the old "
        "key is lost or leaked, and give the new site.pub to the inspector.",
        f"{path} 已存在：拒绝覆盖站点密钥。换钥后，旧密钥签名的记录将无法用新公钥验证。"
        "仅在旧密钥丢失或泄露时使用 --force，并把新的 site.pub 交给检查人员。")


def init_keys(directory: Path, force: bool = False) -> KeyInfo:
    """Create the site key pair in `directory` (site.key mode 0600, site.pub)."""
    directory = Path(directory)
    private_path, public_path = directory / PRIVATE_NAME, directory / PUBLIC_NAME
    if not force:
        for path in (private_path, public_path, directory / PIN_NAME):
            if path.exists() or path.is_symlink():
                raise KeyExistsError(_exists_text(path))
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    # private first: a public key must never be handed out for a private key that a
    # crash kept from reaching the disk
    _write_new(private_path, private_pem, 0o600, force)
    _write_new(public_path, public_pem, 0o644, force)
    _write_new(directory / PIN_NAME, pin_bytes(key.public_key()), 0o444, force)
    return KeyInfo(private_path, public_path, fingerprint(key.public_key()))


def raw_public(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def public_from_raw(text: str) -> Ed25519PublicKey:
    """Raises ValueError when `text` is not a base64 32-byte Ed25519 key."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError):
        raise ValueError("not base64") from None
    return Ed25519PublicKey.from_public_bytes(raw)


def pin_bytes(public_key: Ed25519PublicKey) -> bytes:
    # the key itself, not only its fingerprint: verify can use the pin without site.pub
    return (json.dumps({"key": key_id(public_key), "public_key": raw_public(public_key),
                        "pinned_at": datetime.now(UTC).isoformat(timespec="seconds")},
                       sort_keys=True) + "\n").encode()


def load_pin(directory: Path) -> Ed25519PublicKey | None:
    """The public key pinned in `directory` when the site key was created; None when
    the folder has no pin (a key made by an older readiness)."""
    path = Path(directory) / PIN_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        key = public_from_raw(data["public_key"])
        if not same_key(key_id(key), str(data["key"])):
            raise ValueError("fingerprint does not match the key")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        raise EvidenceError(Text(
            f"{path} is not a key pin (it was damaged or edited). Verify with the public "
            "key the inspector was given: readiness verify LOG --pub FILE",
            f"{path} 不是有效的密钥固定文件（已损坏或被改动）。请用交给检查人员的公钥验证："
            "readiness verify 日志 --pub 公钥文件")) from None
    return key


def ensure_pin(directory: Path, private_key: Ed25519PrivateKey) -> None:
    """Pin the key of `directory` (keys made before pins existed get theirs at their
    first signed run) and refuse to sign when the pin names another key."""
    directory = Path(directory)
    ours = private_key.public_key()
    pinned = load_pin(directory)
    if pinned is None:
        try:
            _write_new(directory / PIN_NAME, pin_bytes(ours), 0o444, False)
        except KeyExistsError:
            pinned = load_pin(directory)  # another process pinned it just now
        else:
            return
    if pinned is not None and not same_key(key_id(pinned), key_id(ours)):
        path = directory / PIN_NAME
        raise EvidenceError(Text(
            f"{directory / PRIVATE_NAME} is key {fingerprint(ours)}, but {path} pins "
            f"{fingerprint(pinned)}: the site key or its pin was replaced. Nothing was "
            "signed. If the key was changed on purpose, create it with "
            "`readiness keys init --force` (which pins the new key).",
            f"{directory / PRIVATE_NAME} 的密钥为 {fingerprint(ours)}，但 {path} 固定的是 "
            f"{fingerprint(pinned)}：站点密钥或其固定文件被替换，未签名任何内容。如确需更换"
            "密钥，请使用 `readiness keys init --force`（会固定新密钥）。"))


def _private_path(path: Path) -> Path:
    path = Path(path)
    return path / PRIVATE_NAME if path.is_dir() else path


def _public_path(path: Path) -> Path:
    path = Path(path)
    return path / PUBLIC_NAME if path.is_dir() else path


def load_private(path: Path) -> Ed25519PrivateKey:
    """Load the site's private key from a key folder (or the site.key file itself).

    Refuses a key that group or others may read: a signature only proves something
    while nobody else can have made it.
    """
    path = _private_path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise EvidenceError(Text(
            f"no site key at {path}: create one with `readiness keys init`",
            f"{path} 没有站点密钥：请先运行 `readiness keys init` 生成")) from None
    except OSError as err:
        raise EvidenceError(Text(f"cannot open the site key {path}: {err.strerror}",
                                 f"无法打开站点密钥 {path}：{err.strerror}")) from None
    with os.fdopen(fd, "rb") as f:
        # fstat on the open file: the mode checked is the mode of the file read
        mode = os.fstat(f.fileno()).st_mode
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyPermissionError(Text(
                f"the site key {path} can be used by other users (mode {stat.filemode(mode)}); "
                f"anyone who can read it can forge evidence. Run: chmod 600 {path}",
                f"站点密钥 {path} 可被其他用户访问（权限 {stat.filemode(mode)}），"
                f"任何能读取它的人都能伪造证据。请运行：chmod 600 {path}"))
        data = f.read()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise EvidenceError(Text(
            f"{path} is not an unencrypted PEM private key",
            f"{path} 不是未加密的 PEM 私钥")) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise EvidenceError(Text(f"{path} is not an Ed25519 key", f"{path} 不是 Ed25519 密钥"))
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    """Load a public key from a site.pub file (or a key folder holding one)."""
    path = _public_path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise EvidenceError(Text(f"no public key at {path}", f"{path} 没有公钥文件")) from None
    except OSError as err:
        raise EvidenceError(Text(f"cannot read the public key {path}: {err.strerror}",
                                 f"无法读取公钥 {path}：{err.strerror}")) from None
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise EvidenceError(Text(f"{path} is not a PEM public key",
                                 f"{path} 不是 PEM 公钥")) from None
    if not isinstance(key, Ed25519PublicKey):
        raise EvidenceError(Text(f"{path} is not an Ed25519 key", f"{path} 不是 Ed25519 密钥"))
    return key
