"""The one YAML loader of every configuration file (site, secrets, profiles, lab room).

It remembers the line of every key and item: pydantic reports a field path, users
need a line number to find it. It is also the guard against hostile or mistaken
input, because a site file is often pasted together from chat messages:

- a file over MAX_BYTES is refused before it is parsed (a wrong file, a log);
- aliases may add at most MAX_ALIAS_VALUES values in all, and may not contain
  themselves: a 300-byte "billion laughs" file would otherwise expand to gigabytes;
- nesting deeper than MAX_DEPTH is refused (PyYAML's composer recurses);
- a key written twice in one mapping is an error naming both lines: YAML keeps the
  second silently, so a pasted second `seats:` block would replace all the seats;
- a scalar that looks like a date or number but is none (`2026-13-45`) stays the
  text written, so the schema reports it with its field instead of a traceback.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from .errors import ConfigError, ConfigIssue

PathKey = tuple[str | int, ...]

MAX_BYTES = 1024 * 1024
MAX_VALUES = 50_000  # scalars, lists and mappings written in the file
MAX_ALIAS_VALUES = 10_000  # values that aliases (*name) add when expanded
MAX_DEPTH = 32  # a site file nests about 7 deep

MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class YamlSource:
    file: str
    data: Any
    lines: dict[PathKey, int]

    def line_of(self, path: PathKey) -> int | None:
        """Line of the deepest known prefix of `path` (1-based)."""
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line is not None:
                return line
        return None


class _Refused(Exception):
    """Raised while composing: the file is refused at `line` for a reason in two languages."""

    def __init__(self, line: int, en: str, zh: str):
        super().__init__(en)
        self.line, self.en, self.zh = line, en, zh


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class _Guards:
    """Mixed in before a PyYAML loader: bounds what composing the file may cost.

    Sizes and heights are kept per node as each one is finished, so an alias costs
    one lookup and the expansion is never built to be measured.
    """

    def _start_guards(self) -> None:
        self._depth = 0
        self._values = 0
        self._alias_values = 0
        self._size: dict[int, int] = {}  # id(node) -> values once expanded
        self._height: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> yaml.Node:
        event = self.peek_event()  # type: ignore[attr-defined]
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)  # type: ignore[misc]
            size = self._size.get(id(node))
            if size is None:
                raise _Refused(line, f"alias *{event.anchor} is used inside its own anchor "
                               f"&{event.anchor}: its value would never end",
                               f"别名 *{event.anchor} 用在了它自己的锚点 &{event.anchor} 之内，"
                               "展开后没有尽头")
            self._alias_values += size
            if self._alias_values > MAX_ALIAS_VALUES:
                raise _Refused(line, f"aliases (*name) expand to more than {MAX_ALIAS_VALUES} "
                               "values by here; readiness refuses such a file (a YAML 'alias "
                               "bomb' exhausts memory). Write the values out instead",
                               f"到此处别名（*名称）展开已超过 {MAX_ALIAS_VALUES} 个值，readiness "
                               "拒绝此类文件（YAML“别名炸弹”会耗尽内存）。请直接写出各个值")
            return node
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(line, f"nested more than {MAX_DEPTH} levels deep; a "
                               "configuration file needs far fewer: check the indentation",
                               f"嵌套超过 {MAX_DEPTH} 层；配置文件远不需要这么多层，请检查缩进")
            node = super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._depth -= 1
        children = _children(node)
        self._size[id(node)] = 1 + sum(self._size[id(c)] for c in children)
        height = 1 + max((self._height[id(c)] for c in children), default=0)
        self._height[id(node)] = height
        if height > MAX_DEPTH:
            raise _Refused(line, f"aliases here nest values more than {MAX_DEPTH} levels "
                           "deep; write the values out instead",
                           f"此处别名使嵌套超过 {MAX_DEPTH} 层，请直接写出各个值")
        self._values += 1
        if self._values > MAX_VALUES:
            raise _Refused(line, f"has more than {MAX_VALUES} values; a configuration file "
                           "needs far fewer: is this the right file?",
                           f"包含超过 {MAX_VALUES} 个值，配置文件远不需要这么多：文件是否选错了？")
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)  # type: ignore[misc]
        except (ValueError, OverflowError, TypeError, AttributeError):
            if not isinstance(node, yaml.ScalarNode):
                raise
            # `2026-13-45` matches YAML's date pattern but is no date (likewise an int
            # too long for Python, or `!!timestamp soon`, on which PyYAML itself fails):
            # keep the text, so the field's own check names it.
            self.recursive_objects.pop(node, None)  # type: ignore[attr-defined]
            self.constructed_objects[node] = node.value  # type: ignore[attr-defined]
            return node.value


class _SafeLoader(_Guards, yaml.SafeLoader):
    pass


class _TextLoader(_Guards, yaml.BaseLoader):
    """Every value stays the text written (secrets: 0123, yes and 12:30 are passwords)."""


def _walk(root: yaml.Node, lines: dict[PathKey, int]) -> list[tuple[PathKey, str, int, int]]:
    """Record the line of every path; return the keys written twice in one mapping as
    (path of the key, key, first line, second line). Iterative: aliases may nest deep."""
    duplicates: list[tuple[PathKey, str, int, int]] = []
    checked: set[int] = set()  # a mapping reached again through an alias is checked once
    stack: list[tuple[yaml.Node, PathKey]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            first_line: dict[tuple[str, str], int] = {}
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
                line = key_node.start_mark.line + 1
                lines[path + (key,)] = line
                stack.append((value_node, path + (key,)))
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == MERGE_TAG:
                    continue
                ident = (key_node.tag, key_node.value)
                if ident in first_line and id(node) not in checked:
                    duplicates.append((path + (key,), key, first_line[ident], line))
                first_line.setdefault(ident, line)
            checked.add(id(node))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[path + (index,)] = item.start_mark.line + 1
                stack.append((item, path + (index,)))
    return duplicates


def _read_text(path: Path, name: str) -> str:
    def refuse(line: int | None, en: str, zh: str) -> ConfigError:
        return ConfigError([ConfigIssue(name, line, "", en, zh)])

    try:
        with _open_regular(path, name) as handle:
            # one byte more than allowed tells "too large" without reading a huge file
            raw = handle.read(MAX_BYTES + 1)
            if len(raw) > MAX_BYTES:
                handle.seek(0, 2)
                size = max(handle.tell(), len(raw))
                raise refuse(None, f"is {size:,} bytes ({size / 1e6:.1f} MB); a configuration "
                             f"file may be at most {MAX_BYTES // 1024 // 1024} MB: is this the "
                             "right file?",
                             f"文件大小 {size:,} 字节（{size / 1e6:.1f} MB），配置文件最大 "
                             f"{MAX_BYTES // 1024 // 1024} MB：文件是否选错了？")
    except FileNotFoundError:
        raise refuse(None, "file not found", "找不到文件") from None
    except OSError as exc:
        raise refuse(None, f"cannot read: {exc.strerror}", f"无法读取：{exc.strerror}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise refuse(line, "not UTF-8 text; save the file as UTF-8 (not GBK)",
                     "不是 UTF-8 文本；请将文件另存为 UTF-8 编码（而非 GBK）") from None


def file_kind(mode: int) -> tuple[str, str]:
    """What a non-regular file is, in the words a message uses (en, zh)."""
    for test, en, zh in ((stat.S_ISDIR, "a folder", "文件夹"),
                         (stat.S_ISFIFO, "a named pipe (FIFO)", "命名管道（FIFO）"),
                         (stat.S_ISCHR, "a character device", "字符设备"),
                         (stat.S_ISBLK, "a block device", "块设备"),
                         (stat.S_ISSOCK, "a socket", "套接字")):
        if test(mode):
            return en, zh
    return "a special file", "特殊文件"


def _not_regular(name: str, mode: int) -> ConfigError:
    en, zh = file_kind(mode)
    return ConfigError([ConfigIssue(
        name, None, "", f"is {en}, not a regular file: give the path of the YAML file "
        "itself", f"是{zh}，不是普通文件：请给出 YAML 文件本身的路径")])


def _open_regular(path: Path, name: str) -> BinaryIO:
    """Open a regular file for reading, refusing anything else before it can hang or act.

    A FIFO blocks open() and read() until a writer comes (validate would hang for ever);
    opening a device can have effects of its own (a watchdog, a tape). So the path is
    looked at first, and opened non-blocking; the open file is looked at again, in case
    the path was swapped in between."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise _not_regular(name, mode)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(name, mode)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _hide_quoted(text: str) -> str:
    """PyYAML quotes the character it stumbled on; in a secrets file that is a secret's."""
    return re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)


def load_yaml(path: Path, display_name: str | None = None, *, secret: bool = False) -> YamlSource:
    """Load one configuration file or raise ConfigError naming the file and line.

    `secret`: a secrets file: every value stays text, and no message quotes from it.
    """
    name = display_name or str(path)
    text = _read_text(path, name)
    lines: dict[PathKey, int] = {}
    try:
        # the loader checks for control characters as it is made: inside the try
        loader = (_TextLoader if secret else _SafeLoader)(text)
        loader._start_guards()
        try:
            node = loader.get_single_node()
            duplicates = _walk(node, lines) if node is not None else []
            if duplicates:
                raise ConfigError([_duplicate_issue(name, *dup) for dup in duplicates])
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except _Refused as exc:
        raise ConfigError([ConfigIssue(name, exc.line, "", exc.en, exc.zh)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = str(exc.problem or exc.context or "syntax error")
        if "single document" in str(exc.context):
            problem = "a second document (a line ---) follows the first; keep one"
        if secret:
            problem = _hide_quoted(problem)
        raise ConfigError([ConfigIssue(name, line, "", f"not valid YAML: {problem}",
                                       f"不是有效的 YAML：{problem}")]) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        raise ConfigError([ConfigIssue(
            name, line, "", f"contains the control character #x{exc.character:04x}; save it "
            "as plain UTF-8 text", f"含有控制字符 #x{exc.character:04x}；请保存为纯 UTF-8 文本",
        )]) from None
    except yaml.YAMLError as exc:  # no mark: say what PyYAML said, still no traceback
        raise ConfigError([ConfigIssue(name, None, "", f"not valid YAML: {exc}",
                                       f"不是有效的 YAML：{exc}")]) from None
    return YamlSource(name, data, lines)


def _duplicate_issue(name: str, path: PathKey, key: str, first: int, second: int) -> ConfigIssue:
    return ConfigIssue(
        name, second, dotted(path),
        f"{key!r} is written twice in the same block, at line {first} and line {second}; "
        "YAML would silently keep only the second. Merge them into one",
        f"同一层中 {key!r} 写了两次（第 {first} 行和第 {second} 行），YAML 会静默地只保留第二个。"
        "请合并为一个",
    )


def dotted(path: PathKey) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
