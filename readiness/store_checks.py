"""Opening the results store safely: what is wrong with a store file, in words staff can act on.

A store can be missing, a folder, a file of another program, from a newer readiness, or on a
read-only disk. Each becomes a StoreError whose `text` names the file, says why and what to do,
instead of an SQLite traceback. Readers (history, report) never write to the file, so a
read-only store can still be read; writers (check, the scheduler) test that they can write
before anything is signed, so the evidence log never holds a run the store does not.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from .results import Text

STORE_HINT = Text("give the store file with --store (default runs/readiness.sqlite)",
                  "请用 --store 指定结果库文件（默认 runs/readiness.sqlite）")


class StoreError(sqlite3.DatabaseError):
    """The results store cannot be used; `text` is the bilingual sentence staff read.

    A subclass of sqlite3.DatabaseError so that callers which already handle SQLite errors
    (the scheduler, `check`) handle this one too, and can show `text`."""

    def __init__(self, text: Text):
        super().__init__(text.en)
        self.text = text


def problem(path: Path, err: BaseException) -> Text:
    """What an error of opening, reading or writing the store at `path` means."""
    if isinstance(err, StoreError):
        return err.text
    message = str(err)
    if Path(path).is_dir():
        return Text(f"{path} is a folder, not a results store file; {STORE_HINT.en}",
                    f"{path} 是文件夹，不是结果库文件；{STORE_HINT.zh}")
    if isinstance(err, sqlite3.DatabaseError) and "not a database" in message:
        return Text(f"{path} is not a readiness results store (not an SQLite database); "
                    f"{STORE_HINT.en}",
                    f"{path} 不是 readiness 结果库（不是 SQLite 数据库）；{STORE_HINT.zh}")
    code = getattr(err, "sqlite_errorname", "")
    if code.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")) \
            or isinstance(err, PermissionError):
        folder = Path(path).parent
        return Text(
            f"cannot write the results store {path} ({message}): the file or its folder "
            f"{folder} is read-only (a read-only disk, `chattr +i`, or permissions); make "
            "both writable or give another --store",
            f"无法写入结果库 {path}（{message}）：该文件或其所在文件夹 {folder} 为只读"
            "（只读磁盘、`chattr +i` 或权限）；请设为可写，或用 --store 指定其他位置")
    return Text(f"cannot use the results store {path}: {message}",
                f"无法使用结果库 {path}：{message}")


@contextmanager
def translated(path: Path) -> Iterator[None]:
    """Turn SQLite and file errors of the store at `path` into a StoreError."""
    try:
        yield
    except StoreError:
        raise
    except (sqlite3.Error, OSError) as err:
        raise StoreError(problem(path, err)) from err


def _columns(db: sqlite3.Connection) -> dict[str, set[str]]:
    tables = [row[0] for row in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    return {t: {row[1] for row in db.execute(f'PRAGMA table_info("{t}")')} for t in tables}


def schema_columns(schema: str) -> dict[str, set[str]]:
    """The tables and columns `schema` creates (built in memory, so it never drifts)."""
    with closing(sqlite3.connect(":memory:")) as db:
        db.executescript(schema)
        return _columns(db)


def add_columns(db: sqlite3.Connection, added: tuple[tuple[str, str, str], ...]) -> None:
    """Bring an older store's tables up to the current columns (CREATE TABLE IF NOT
    EXISTS leaves an existing table as it is)."""
    found = _columns(db)
    for table, column, kind in added:
        if table in found and column not in found[table]:
            db.execute(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {kind}')


def needs_schema(db: sqlite3.Connection, path: Path, version: int, schema: str) -> bool:
    """Whether the schema must be written (a new or older store); raises StoreError for a
    store that is from a newer readiness, of another program, or missing its tables."""
    found_version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if found_version > version:
        raise StoreError(Text(
            f"{path} was written by a newer readiness (store schema {found_version}, this one "
            f"reads {version}); upgrade readiness to read it",
            f"{path} 由更新版本的 readiness 写入（结果库版本 {found_version}，本版本支持 "
            f"{version}）；请升级 readiness"))
    found = _columns(db)
    wanted = schema_columns(schema)
    if found_version == 0 and not found:
        return True  # a new, empty file
    missing = sorted(t for t in wanted if t not in found)
    if found_version == version:
        # an older schema may lack newer columns; the current one must have them all
        missing += sorted(f"{t}.{c}" for t in wanted if t in found
                          for c in sorted(wanted[t] - found[t]))
    if missing:
        kind = Text("another program's SQLite file", "其他程序的 SQLite 文件") \
            if found_version == 0 else Text("a damaged results store", "已损坏的结果库")
        return _refuse(path, kind, missing)
    return found_version < version


def _refuse(path: Path, kind: Text, missing: list[str]) -> bool:
    shown = ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else "")
    raise StoreError(Text(
        f"{path} is {kind.en}, not a readiness results store (it lacks {shown}); "
        f"leave it as it is and {STORE_HINT.en}",
        f"{path} 是{kind.zh}，不是 readiness 结果库（缺少 {shown}）；请勿改动该文件，"
        f"{STORE_HINT.zh}"))


def check_writable(path: Path) -> None:
    """Raise StoreError unless a write to the store at `path` can be committed now.

    A real write (the schema version, rewritten unchanged) in a transaction that is rolled
    back: it creates the journal beside the file, which is what a read-only folder refuses.
    A full disk later can still fail the save; the caller then says what was signed."""
    with translated(path), closing(sqlite3.connect(path, timeout=30,
                                                   isolation_level=None)) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            current = int(db.execute("PRAGMA user_version").fetchone()[0])
            db.execute(f"PRAGMA user_version = {current}")
        finally:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the failed write already ended the transaction


def not_signed(err: StoreError, log_path: Path | None) -> StoreError:
    """The store refused the run before it was signed: say that nothing was signed."""
    if log_path is None:
        return err
    return StoreError(Text(
        f"{err.text.en}. The run was not signed into {log_path} either, so the evidence log "
        "holds no run the store lacks; the results shown above (and any --json file) are "
        "all that is kept of it",
        f"{err.text.zh}。本次检查也未签名写入 {log_path}，证据日志不会含有结果库中没有的检查；"
        "上面显示的结果（以及 --json 文件）是本次检查仅有的记录"))


def signed_not_stored(err: BaseException, store_path: Path, log_path: Path,
                      ref: str | None) -> StoreError:
    """The run was signed, then the store failed (e.g. a full disk): say where it is."""
    text = problem(store_path, err)
    return StoreError(Text(
        f"{text.en}. The run IS signed into {log_path} (record {ref}) but not saved in "
        f"{store_path}: `readiness verify {log_path}` shows it; run the check again once the "
        "store can be written",
        f"{text.zh}。本次检查已签名写入 {log_path}（记录 {ref}），但未保存到 {store_path}："
        f"可用 `readiness verify {log_path}` 查看；结果库可写后请重新检查"))


__all__ = ["StoreError", "check_writable", "needs_schema", "not_signed", "problem",
           "add_columns", "schema_columns", "signed_not_stored", "translated"]
