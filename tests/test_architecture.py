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
# the ground floor probes may stand on: the result model (with whom a result is about),
# the secret redactor, the declaration of a kind of check and the words of `measured`
GROUND_FLOOR = {"readiness.results", "readiness.subject", "readiness.redact",
                "readiness.checkkind", "readiness.vocabulary"}
# the one module that turns a subject into words
LABEL_RENDERER = "readiness.subject"


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


def test_judges_and_planners_do_not_import_probes_or_the_agent() -> None:
    """A judge reads measurements and typed thresholds; a planner writes data. Neither
    may lean on how a probe or the agent measures (the ground floor and the registry of
    declarations are theirs to use)."""
    bad = {}
    for name in MODULES:
        if not name.startswith(("readiness.judges", "readiness.planning")):
            continue
        reached = sorted(m for m in _imports(name)
                         if m == "probes" or m.startswith(("probes.", "readiness.agent")))
        if reached:
            bad[name] = reached
    assert bad == {}


def test_probes_default_no_knob() -> None:
    """Each knob has one default, where the planner takes it from (a threshold model or a
    planner's named constant): a probe reads its params, it never guesses one."""
    bad = []
    for name, path in MODULES.items():
        if not (name.startswith("probes") or name in ("readiness.agent.room_load",
                                                      "readiness.agent.seat_pairs")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "get" and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in ("params", "p") and len(node.args) > 1):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert bad == []


_PARSES_LABELS = re.compile(
    # `self.target` is an HTTP request's target in the agent's server, not a label
    r"(check_id|(?<!self)\.target|\.label\(|message\.(en|zh))\b.*\.(split|rsplit|partition|"
    r"startswith|endswith)\(|re\.\w+\(.*((?<!self)\.target\b|check_id|\.label\(|"
    r"message\.(en|zh))")


def test_no_module_but_the_label_renderer_reads_labels_or_check_ids() -> None:
    """Whom a result is about is its subject: nothing reads it back out of a label, a
    check id or a message."""
    bad = []
    for name, path in MODULES.items():
        if name == LABEL_RENDERER or not name.startswith("readiness"):
            continue
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _PARSES_LABELS.search(line):
                bad.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert bad == []


def _plans() -> list:
    import shutil
    import tempfile
    from secrets import token_urlsafe

    from readiness.config.load import load_site
    from readiness.config.profile import available_profiles, load_profile
    from readiness.planning import PlanContext, build_plan

    folder = Path(tempfile.mkdtemp())
    try:
        site_text = (ROOT / "config" / "site.example.yaml").read_text(encoding="utf-8")
        (folder / "site.yaml").write_text(site_text, encoding="utf-8")
        secrets = folder / "site.secrets.yaml"
        # the tokens as a user makes them (validate refuses the example's placeholders)
        example = (ROOT / "config" / "site.secrets.example.yaml").read_text(encoding="utf-8")
        lines = [f"{line.split(':')[0]}: {token_urlsafe(32)}"
                 if line.startswith(("agent_token:", "run_now_token:")) else line
                 for line in example.splitlines()]
        secrets.write_text("\n".join(lines) + "\n", encoding="utf-8")
        secrets.chmod(0o600)
        text = (folder / "site.yaml").read_text(encoding="utf-8")
        (folder / "site.yaml").write_text(text.replace(
            "secrets_file: site.secrets.yaml", f"secrets_file: {secrets}"), encoding="utf-8")
        site = load_site(folder / "site.yaml", set(available_profiles()))
        return [c for profile in ("eda", "cbec")
                for c in build_plan(PlanContext(site, load_profile(profile)), None,
                                    None).checks]
    finally:
        shutil.rmtree(folder)


def test_every_kind_is_declared_once_with_its_judges() -> None:
    from readiness.judges.registry import outcome_judges
    from readiness.registry import all_kinds

    judges = outcome_judges()
    kinds = all_kinds()
    for kind in kinds.values():
        assert kind.judges or kind.leg_of in kinds, kind.probe
        assert set(kind.judges) <= set(judges), (kind.probe, kind.judges)


def test_every_planned_check_fits_its_declaration() -> None:
    """Every knob is given, none is unknown, the judge is one its kind declares: on the
    annotated example site, under both certificates."""
    from readiness.registry import all_kinds

    kinds = all_kinds()
    checks = _plans()
    assert len(checks) > 100
    for c in checks:
        if c.probe is None:
            assert c.judge, c.check_id
            continue
        kind = kinds[c.probe]
        assert c.judge in kind.judges, (c.check_id, c.judge)
        assert kind.problems(c.params) == [], c.check_id
        if c.agent is not None:
            if c.agent.fallback_params is not None:
                assert kind.problems(c.agent.fallback_params) == [], c.check_id
            if c.agent.prepare:
                prepare = {"params": c.params, **(c.agent.prepare_params or {})}
                assert kinds[c.agent.prepare].problems(prepare) == [], c.check_id
