"""Which public key a log is checked against.

The one given (`--pub`, the file the inspector was handed), otherwise the one pinned
when the site key was created (`keys/site.pin`, and the results store once a run was
signed). Never silently the site.pub lying beside the log: whoever can replace the log
can replace that file too, so a site.pub that differs from the pin is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..results import Text
from .errors import EvidenceError
from .keys import (
    PIN_NAME,
    PUBLIC_NAME,
    fingerprint,
    key_id,
    load_pin,
    load_public,
    public_from_raw,
    same_key,
)
from .ledger import STORE_SOURCE, load_state


class KeyMismatch(EvidenceError):
    """The key files disagree: proof that one of them was replaced."""


@dataclass
class TrustedKey:
    key: Ed25519PublicKey
    source: str  # where it came from, for the output
    pinned: bool  # given explicitly or pinned; False: an unpinned site.pub was used
    notes: list[Text] = field(default_factory=list)


def _same(a: Ed25519PublicKey, b: Ed25519PublicKey) -> bool:
    return same_key(key_id(a), key_id(b))


def _pins(log: Path, key_dir: Path, store: Path | None) -> list[tuple[Ed25519PublicKey, str]]:
    pins = []
    pinned = load_pin(key_dir)
    if pinned is not None:
        pins.append((pinned, str(Path(key_dir) / PIN_NAME)))
    state = load_state(store, log)
    if state is not None:
        try:
            pins.append((public_from_raw(state.public_key), STORE_SOURCE))
        except ValueError:
            raise KeyMismatch(Text(
                f"the results store {store} holds a damaged key for {log}: it was edited. "
                "Verify with the public key the inspector was given (--pub FILE).",
                f"结果库 {store} 中 {log} 的密钥已损坏（被改动）。请用交给检查人员的公钥验证"
                "（--pub 公钥文件）。")) from None
    return pins


def trusted_key(log: Path, pub: Path | None, key_dir: Path,
                store: Path | None = None) -> TrustedKey:
    """Raises EvidenceError when a key cannot be loaded, KeyMismatch when the pins or
    the site.pub files disagree."""
    log, key_dir = Path(log), Path(key_dir)
    pins = _pins(log, key_dir, store)
    for other, source in pins[1:]:
        if not _same(other, pins[0][0]):
            raise KeyMismatch(Text(
                f"{pins[0][1]} pins key {fingerprint(pins[0][0])} but {source} pins "
                f"{fingerprint(other)}: one of them was replaced. Verify with the public key "
                "the inspector was given (--pub FILE).",
                f"{pins[0][1]} 固定的密钥为 {fingerprint(pins[0][0])}，而{source}固定的是 "
                f"{fingerprint(other)}：其中之一被替换。"
                "请用交给检查人员的公钥验证（--pub 公钥文件）。"))
    if pub is not None:
        key = load_public(Path(pub))
        trusted = TrustedKey(key, str(pub), True)
        if pins and not _same(key, pins[0][0]):
            trusted.notes.append(Text(
                f"{pub} is not the key pinned in {pins[0][1]} ({fingerprint(pins[0][0])}); "
                "the log is checked against the key you gave",
                f"{pub} 与 {pins[0][1]} 固定的密钥（{fingerprint(pins[0][0])}）不同；"
                "日志按您给出的公钥验证"))
        return trusted
    if pins:
        key, source = pins[0]
        for candidate in dict.fromkeys([key_dir / PUBLIC_NAME, log.parent / PUBLIC_NAME,
                                        log.parent / "keys" / PUBLIC_NAME]):
            if not candidate.is_file():
                continue
            beside = load_public(candidate)
            if not _same(beside, key):
                raise KeyMismatch(Text(
                    f"{candidate} is key {fingerprint(beside)}, not the key pinned when the "
                    f"site key was created ({fingerprint(key)}, {source}): it was replaced. "
                    "Nothing signed with it is trusted. Verify with the public key the "
                    "inspector was given: readiness verify LOG --pub FILE",
                    f"{candidate} 的密钥为 {fingerprint(beside)}，不是生成站点密钥时固定的密钥"
                    f"（{fingerprint(key)}，{source}）：该文件已被替换，其签名的内容均不可信。"
                    "请用交给检查人员的公钥验证：readiness verify 日志 --pub 公钥文件"))
        return TrustedKey(key, source, True)
    path = key_dir / PUBLIC_NAME
    return TrustedKey(load_public(path), str(path), False, [Text(
        f"no pinned key (no {key_dir / PIN_NAME}, nothing in the results store): checked "
        f"against {path} as it is now, which proves nothing if it was replaced. Give the key "
        "the inspector holds with --pub FILE.",
        f"没有固定的密钥（无 {key_dir / PIN_NAME}，结果库中也没有）：按当前的 {path} 验证，"
        "若该文件被替换则不能证明任何内容。请用 --pub 指定检查人员持有的公钥。")])
