"""The shape of the code, as docs/architecture.md describes it, held by tests.

One layer prints (readiness/commands), probes know only the ground floor, no package
imports itself back in a loop, and thresholds are read from typed models, never with
a default of their own. Each test reads the source as text (ast): nothing is run.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("readiness", "probes")
# the ground floor probes may stand on: the result model and the secret redactor
GROUND_FLOOR = {"readiness.results", "readiness.redact"}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> list[str]:
    """The project modules an `from X import a, b` reaches (X itself, and X.a when a
    is a submodule)."""
    if node.level:
        base = module.split(".") if _is_package(module) else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
    # the module itself is reached only for names that are not submodules
    whole = [target] if target in MODULES and len(subs) < len(node.names) else []
    return whole + subs


def _imports(name: str) -> set[str]:
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in MODULES}
        elif isinstance(node, ast.ImportFrom):
            found |= set(_resolve(name, node))
    # Only what the module names: `from . import X` names the package (a loop through
    # its __init__ when that imports the module back); the parents that Python runs
    # first for `import a.b.c` are not a loop a reader has to untangle.
    found.discard(name)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_loops_counting_package_inits() -> None:
    # Imports inside functions count too: a lazy import that loops back is still a
    # loop a reader has to untangle.
    graph = {name: _imports(name) for name in MODULES}
    assert _cycles(graph) == []


def test_probes_know_only_the_ground_floor() -> None:
    bad = {}
    for name in MODULES:
        if not name.startswith("probes"):
            continue
        reached = {m for m in _imports(name) if m.startswith("readiness")}
        reached -= GROUND_FLOOR | {"readiness"}
        if reached:
            bad[name] = sorted(reached)
    assert bad == {}


def _prints_or_exits(path: Path) -> list[int]:
    """Lines that call print() or sys.exit(), as code (not inside a string)."""
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(path.read_text("utf-8")).readline)
              if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE)]
    lines = []
    for i, tok in enumerate(tokens[:-1]):
        after = tokens[i + 1]
        before = tokens[i - 1] if i else None
        if (tok.type == tokenize.NAME and tok.string == "print" and after.string == "("
                and (before is None or before.string != ".")):
            lines.append(tok.start[0])
        if (tok.string == "sys" and after.string == "." and i + 2 < len(tokens)
                and tokens[i + 2].string == "exit"):
            lines.append(tok.start[0])
    return lines


def test_only_the_commands_layer_prints_or_exits() -> None:
    bad = []
    for name, path in MODULES.items():
        # a package's __main__ is an entry point that hands over to readiness.commands
        if name.startswith("readiness.commands") or path.name == "__main__.py":
            continue
        # the lab's helper programs (an RTSP camera, a WS-Discovery responder) run as
        # processes of their own in a lab namespace
        if name.startswith("readiness.lab.") and "__main__" in path.read_text(encoding="utf-8"):
            continue
        bad += [f"{path.relative_to(ROOT)}:{no}" for no in _prints_or_exits(path)]
    assert bad == []


def test_thresholds_have_one_default_in_their_model() -> None:
    pattern = re.compile(r"\bth\w*\.get\(|thresholds\.get\(")
    bad = []
    for name, path in MODULES.items():
        if not name.startswith(("readiness.planning", "readiness.judges")):
            continue
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                bad.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert bad == []


def test_planners_carry_no_code() -> None:
    bad = []
    for name, path in MODULES.items():
        if not name.startswith("readiness.planning"):
            continue
        text = path.read_text(encoding="utf-8")
        for no, line in enumerate(text.splitlines(), 1):
            if re.search(r"\b(fn|derive)=", line):
                bad.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert bad == []
