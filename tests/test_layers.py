"""The layout shows the design (issue #13, DESIGN §1): imports in one direction, no private names
across modules, settings read in one place, few top-level modules, one name per concept.

The checks parse the code with ``ast`` (module-level and function-level imports alike); each
checker is also run on small synthetic sources so that a check cannot pass by finding nothing.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("thermaliq", "tasks", "flows")

# Top-level modules of thermaliq every subpackage may build on ("thermaliq" is the package's __init__).
TOP = frozenset({"thermaliq", "thermaliq.errors", "thermaliq.units", "thermaliq.periods",
                 "thermaliq.settings", "thermaliq.home"})
# unit -> the only units it may import (besides itself).
MAY_IMPORT_ONLY = {
    "thermaliq.config": frozenset({"thermaliq", "thermaliq.units", "thermaliq.errors", "thermaliq.settings"}),
    "thermaliq.quality": TOP | {"thermaliq.physics", "thermaliq.config"},
}
# unit -> units it must not import.
MUST_NOT_IMPORT = {
    "thermaliq.physics": frozenset({"thermaliq.sources", "thermaliq.store", "thermaliq.pipeline",
                                    "thermaliq.report"}),
    "thermaliq.report": frozenset({"thermaliq.pipeline"}),
    "tasks": frozenset({"flows"}),
}
LIBRARY_MUST_NOT_IMPORT = frozenset({"tasks", "flows"})  # for every unit of thermaliq

# The only module that reads the environment.
SETTINGS_MODULE = "thermaliq.settings"
# (path, line text) -> reason, for reads of the environment outside settings.py. Keep it empty.
ENV_READS_ALLOWED: dict[tuple[str, str], str] = {}

MAX_TOP_LEVEL_MODULES = 8

# Public names defined (def/class) in more than one thermaliq module on purpose: name -> reason.
SHARED_NAMES_ALLOWED: dict[str, str] = {}


# ---------------------------------------------------------------------------------------------
# Reading the code
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Module:
    name: str  # dotted name; a package's __init__.py is the package ("thermaliq.store")
    path: str  # relative path, for messages
    tree: ast.Module

    @property
    def package(self) -> str:
        """The package relative imports in this module start from."""
        return self.name if self.path.endswith("__init__.py") else self.name.rpartition(".")[0]


def module_name(path: str) -> str:
    parts = path[:-len(".py")].split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def parse_modules(sources: dict[str, str]) -> dict[str, Module]:
    """Modules by dotted name from ``{relative path: source text}``."""
    mods = {}
    for path, text in sources.items():
        name = module_name(path)
        mods[name] = Module(name, path, ast.parse(text, filename=path))
    return mods


def repo_modules() -> dict[str, Module]:
    files = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))
    return parse_modules({p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in files})


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _from_base(mod: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = mod.package.split(".")
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def explicit_imports(mod: Module, known) -> list[tuple[str, int]]:
    """(module imported, line) for every import statement anywhere in ``mod`` that names a known module.

    ``from pkg import name`` imports ``pkg.name`` when that is a module, else ``pkg`` (its __init__).
    """
    found = []
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name in known]
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(mod, node)
            for alias in node.names:
                target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                if target in known:
                    found.append((target, node.lineno))
    return found


def import_edges(mods: dict[str, Module]) -> dict[str, dict[str, int]]:
    """importer -> {imported module: first line}; importing ``a.b.c`` also imports the packages
    ``a`` and ``a.b`` (their __init__), except those the importer already sits in."""
    graph: dict[str, dict[str, int]] = {name: {} for name in mods}
    for name, mod in mods.items():
        own = set(_ancestors(name))
        for target, line in explicit_imports(mod, mods):
            implied = [a for a in _ancestors(target) if a not in own and a in mods]
            for t in [target, *implied]:
                if t != name:
                    graph[name].setdefault(t, line)
    return graph


def unit_of(name: str, mods) -> str:
    """The subpackage a module belongs to (``thermaliq.store``), or the top-level module itself."""
    parts = name.split(".")
    if parts[0] != "thermaliq":
        return parts[0]
    if len(parts) >= 2 and f"thermaliq.{parts[1]}" in mods and mods[f"thermaliq.{parts[1]}"].path.endswith(
            "__init__.py"):
        return f"thermaliq.{parts[1]}"
    return ".".join(parts[:2])


def unit_edges(mods: dict[str, Module]) -> dict[str, dict[str, str]]:
    """unit -> {imported unit: "path:line" of one import that makes the edge}."""
    graph: dict[str, dict[str, str]] = defaultdict(dict)
    for name, targets in import_edges(mods).items():
        src = unit_of(name, mods)
        graph.setdefault(src, {})
        for target, line in targets.items():
            dst = unit_of(target, mods)
            if dst != src:
                graph[src].setdefault(dst, f"{mods[name].path}:{line}")
    return dict(graph)


# ---------------------------------------------------------------------------------------------
# Checkers: each returns a list of human-readable findings (empty means the rule holds)
# ---------------------------------------------------------------------------------------------

def find_cycles(graph: dict[str, dict]) -> list[list[str]]:
    """One cycle (as a closed path) per strongly connected component of more than one node."""
    index, low, stack, on_stack, sccs = {}, {}, [], set(), []

    def visit(v):  # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                sccs.append(set(scc))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_cycle_in(graph, scc) for scc in sccs]


def _cycle_in(graph, scc: set[str]) -> list[str]:
    start = min(scc)
    path, seen = [start], {start}
    while True:  # every node of an SCC has a successor in it; walk until a node repeats
        nxt = min(w for w in graph[path[-1]] if w in scc)
        if nxt in seen:
            return path[path.index(nxt):] + [nxt]
        path.append(nxt)
        seen.add(nxt)


def cycle_findings(mods: dict[str, Module]) -> list[str]:
    edges = import_edges(mods)
    units = unit_edges(mods)
    found = []
    for cycle in find_cycles(edges):
        hops = [f"{a} ({mods[a].path}:{edges[a][b]})" for a, b in zip(cycle, cycle[1:])]
        found.append("module cycle: " + " -> ".join(hops) + f" -> {cycle[-1]}")
    for cycle in find_cycles(units):
        hops = [f"{a} ({units[a][b]})" for a, b in zip(cycle, cycle[1:])]
        found.append("subpackage cycle: " + " -> ".join(hops) + f" -> {cycle[-1]}")
    return found


def layer_findings(mods: dict[str, Module]) -> list[str]:
    found = []
    for src, targets in unit_edges(mods).items():
        for dst, where in sorted(targets.items()):
            allowed = MAY_IMPORT_ONLY.get(src)
            forbidden = MUST_NOT_IMPORT.get(src, frozenset())
            if src.split(".")[0] == "thermaliq":
                forbidden = forbidden | LIBRARY_MUST_NOT_IMPORT
            if dst in forbidden or (allowed is not None and dst not in allowed):
                found.append(f"{where}: {src} imports {dst}")
    return sorted(found)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_aliases(mod: Module, known) -> dict[str, str]:
    """Local names bound to known modules by the imports of ``mod`` (file-wide)."""
    aliases = {}
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname and a.name in known:
                    aliases[a.asname] = a.name
                elif not a.asname and a.name.split(".")[0] in known:
                    aliases[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(mod, node)
            for a in node.names:
                if f"{base}.{a.name}" in known:
                    aliases[a.asname or a.name] = f"{base}.{a.name}"
    return aliases


def _dotted_module(node: ast.expr, aliases, known) -> str | None:
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted_module(node.value, aliases, known)
        if base and f"{base}.{node.attr}" in known:
            return f"{base}.{node.attr}"
    return None


def private_name_findings(mods: dict[str, Module]) -> list[str]:
    """``from x import _name`` and ``x._name`` where ``x`` is another of our modules."""
    found = []
    for name, mod in mods.items():
        aliases = _module_aliases(mod, mods)
        for node in ast.walk(mod.tree):
            if isinstance(node, ast.ImportFrom):
                base = _from_base(mod, node)
                if base in mods and base != name:
                    for a in node.names:
                        if _is_private(a.name):
                            found.append(f"{mod.path}:{node.lineno}: from {base} import {a.name}")
            elif isinstance(node, ast.Attribute) and _is_private(node.attr):
                owner = _dotted_module(node.value, aliases, mods)
                if owner and owner != name:
                    found.append(f"{mod.path}:{node.lineno}: {owner}.{node.attr}")
    return found


_ENV_WRITES = {"setdefault", "update", "pop", "clear"}


def _os_names(tree: ast.Module) -> tuple[set[str], set[str], set[str]]:
    """Local names of ``os``, of ``os.environ`` and of ``os.getenv``."""
    os_names, environ_names, getenv_names = set(), set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names |= {a.asname or a.name for a in node.names if a.name == "os"}
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and not node.level:
            environ_names |= {a.asname or a.name for a in node.names if a.name == "environ"}
            getenv_names |= {a.asname or a.name for a in node.names if a.name == "getenv"}
    return os_names, environ_names, getenv_names


def env_read_findings(mods: dict[str, Module]) -> list[str]:
    """Reads of the environment outside settings.py.

    A use of ``os.environ`` is a write (allowed) when it is an assignment or ``del`` of an item, or a
    call of ``setdefault``/``update``/``pop``/``clear`` whose value is thrown away (a statement);
    everything else (``get``, ``[key]``, ``in``, iteration, ``os.getenv``) reads.
    """
    found = []
    for name, mod in mods.items():
        if name == SETTINGS_MODULE:
            continue
        os_names, environ_names, getenv_names = _os_names(mod.tree)
        parents = {child: node for node in ast.walk(mod.tree) for child in ast.iter_child_nodes(node)}

        def is_environ(n):
            return ((isinstance(n, ast.Attribute) and n.attr == "environ" and isinstance(n.value, ast.Name)
                     and n.value.id in os_names) or (isinstance(n, ast.Name) and n.id in environ_names))

        def is_getenv(n):
            return ((isinstance(n, ast.Attribute) and n.attr == "getenv" and isinstance(n.value, ast.Name)
                     and n.value.id in os_names) or (isinstance(n, ast.Name) and n.id in getenv_names))

        for node in ast.walk(mod.tree):
            if is_getenv(node):
                reads = True
            elif is_environ(node):
                up = parents.get(node)
                item_write = isinstance(up, ast.Subscript) and isinstance(up.ctx, (ast.Store, ast.Del))
                call = parents.get(up) if isinstance(up, ast.Attribute) and up.attr in _ENV_WRITES else None
                call_write = isinstance(call, ast.Call) and isinstance(parents.get(call), ast.Expr)
                reads = not (item_write or call_write)
            else:
                continue
            key = (mod.path, ast.unparse(parents.get(node, node)))
            if reads and key not in ENV_READS_ALLOWED:
                found.append(f"{mod.path}:{node.lineno}: reads the environment: {key[1]}")
    return found


def public_definitions(mods: dict[str, Module]) -> dict[str, list[str]]:
    """Public top-level function/class name -> modules of ``thermaliq`` that define it."""
    where = defaultdict(list)
    for name, mod in sorted(mods.items()):
        if name.split(".")[0] != "thermaliq":
            continue
        for node in mod.tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                where[node.name].append(f"{mod.path}:{node.lineno}")
    return where


def shared_name_findings(mods: dict[str, Module]) -> list[str]:
    return [f"{n} defined in {', '.join(paths)}" for n, paths in sorted(public_definitions(mods).items())
            if len(paths) > 1 and n not in SHARED_NAMES_ALLOWED]


def top_level_modules(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "thermaliq").glob("*.py"))


# ---------------------------------------------------------------------------------------------
# The rules on this repository
# ---------------------------------------------------------------------------------------------

def test_import_thermaliq_loads_neither_prefect_nor_great_expectations():
    code = ("import sys, importlib, pkgutil, thermaliq\n"
            "for m in pkgutil.walk_packages(thermaliq.__path__, 'thermaliq.'):\n"
            "    importlib.import_module(m.name)\n"
            "print(sorted(n for n in ('prefect', 'great_expectations') if n in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_no_import_cycles_between_modules_or_subpackages():
    found = cycle_findings(repo_modules())
    assert found == [], "\n".join(found)


def test_imports_go_in_one_direction():
    found = layer_findings(repo_modules())
    assert found == [], "\n".join(found)


def test_no_module_uses_another_modules_private_names():
    found = private_name_findings(repo_modules())
    assert found == [], "\n".join(found)


def test_only_settings_reads_the_environment():
    found = env_read_findings(repo_modules())
    assert found == [], "\n".join(found)


def test_few_modules_at_the_top_of_thermaliq():
    top = top_level_modules(ROOT)
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


def test_one_public_name_per_concept():
    found = shared_name_findings(repo_modules())
    assert found == [], "\n".join(found)


def test_allow_lists_name_reasons_and_are_still_needed():
    defined = public_definitions(repo_modules())
    for name, reason in SHARED_NAMES_ALLOWED.items():
        assert reason.strip(), name
        assert len(defined.get(name, [])) > 1, f"{name} is no longer shared: drop it from the allow-list"
    assert all(reason.strip() for reason in ENV_READS_ALLOWED.values())


# ---------------------------------------------------------------------------------------------
# The checkers on synthetic sources: each finds what it is meant to find
# ---------------------------------------------------------------------------------------------

def test_checker_finds_a_two_module_cycle_through_a_function_level_import():
    mods = parse_modules({"thermaliq/__init__.py": "",
                          "thermaliq/a.py": "import thermaliq.b\n",
                          "thermaliq/b.py": "def f():\n    from thermaliq import a\n"})
    assert cycle_findings(mods) == [
        "module cycle: thermaliq.a (thermaliq/a.py:1) -> thermaliq.b (thermaliq/b.py:2) -> thermaliq.a",
        "subpackage cycle: thermaliq.a (thermaliq/a.py:1) -> thermaliq.b (thermaliq/b.py:2) -> thermaliq.a"]


def test_checker_treats_importing_a_package_as_importing_its_init():
    mods = parse_modules({"thermaliq/__init__.py": "",
                          "thermaliq/store/__init__.py": "from thermaliq.store.lake import write\n",
                          "thermaliq/store/lake.py": "from thermaliq.report.data import load\n",
                          "thermaliq/report/__init__.py": "",
                          "thermaliq/report/data.py": "from thermaliq.store.rows import read\n",
                          "thermaliq/store/rows.py": ""})
    edges = import_edges(mods)
    assert "thermaliq.store" in edges["thermaliq.report.data"]  # the package runs before rows
    assert "thermaliq.store" not in edges["thermaliq.store.lake"]  # its own package: already running
    assert find_cycles(edges) == [["thermaliq.report.data", "thermaliq.store", "thermaliq.store.lake",
                                   "thermaliq.report.data"]]
    assert find_cycles(unit_edges(mods)) == [["thermaliq.report", "thermaliq.store", "thermaliq.report"]]


def test_checker_finds_a_subpackage_cycle_without_a_module_cycle():
    mods = parse_modules({"thermaliq/__init__.py": "",
                          "thermaliq/p/__init__.py": "", "thermaliq/q/__init__.py": "",
                          "thermaliq/p/a.py": "from thermaliq.q.b import x\n", "thermaliq/q/b.py": "",
                          "thermaliq/q/c.py": "from . import d\n", "thermaliq/q/d.py": "from ..p import e\n",
                          "thermaliq/p/e.py": ""})
    assert find_cycles(import_edges(mods)) == []
    assert find_cycles(unit_edges(mods)) == [["thermaliq.p", "thermaliq.q", "thermaliq.p"]]


def test_checker_finds_imports_against_the_direction():
    mods = parse_modules({"thermaliq/__init__.py": "", "thermaliq/errors.py": "", "thermaliq/home.py": "",
                          "thermaliq/physics/__init__.py": "",
                          "thermaliq/physics/water.py": "def f():\n    import thermaliq.store.lake\n",
                          "thermaliq/store/__init__.py": "", "thermaliq/store/lake.py": "",
                          "thermaliq/config/__init__.py": "from thermaliq import home, errors\n",
                          "thermaliq/quality/__init__.py": "from thermaliq.physics import water\n",
                          "thermaliq/report/__init__.py": "import thermaliq.pipeline.jobs as j\n",
                          "thermaliq/pipeline/__init__.py": "", "thermaliq/pipeline/jobs.py": "",
                          "thermaliq/units.py": "import tasks.common\n",
                          "tasks/__init__.py": "", "tasks/common.py": "from flows import nightly\n",
                          "flows/__init__.py": "", "flows/nightly.py": ""})
    assert layer_findings(mods) == [
        "tasks/common.py:1: tasks imports flows",
        "thermaliq/config/__init__.py:1: thermaliq.config imports thermaliq.home",
        "thermaliq/physics/water.py:2: thermaliq.physics imports thermaliq.store",
        "thermaliq/report/__init__.py:1: thermaliq.report imports thermaliq.pipeline",
        "thermaliq/units.py:1: thermaliq.units imports tasks"]


def test_checker_finds_private_names_of_other_modules():
    mods = parse_modules({"thermaliq/__init__.py": "", "thermaliq/sources/__init__.py": "",
                          "thermaliq/sources/retry.py": "_count = 1\n",
                          "thermaliq/sources/historian.py": ("from thermaliq.sources.retry import _count\n"
                                                             "from . import retry as r\n"
                                                             "import thermaliq.sources.retry\n"
                                                             "def f(self):\n"
                                                             "    self._x, __name__\n"
                                                             "    return r._count + thermaliq.sources.retry._n\n")})
    assert private_name_findings(mods) == [
        "thermaliq/sources/historian.py:1: from thermaliq.sources.retry import _count",
        "thermaliq/sources/historian.py:6: thermaliq.sources.retry._count",
        "thermaliq/sources/historian.py:6: thermaliq.sources.retry._n"]


def test_checker_tells_environment_reads_from_writes():
    mods = parse_modules({"thermaliq/settings.py": "import os\nos.environ.get('A')\n",
                          "flows/__init__.py": ("import os\nos.environ.setdefault('PREFECT_X', '1')\n"
                                                "os.environ['B'] = '1'\ndel os.environ['B']\n"),
                          "tasks/a.py": ("import os as o\nfrom os import getenv\n"
                                         "x = o.environ.setdefault('C', '1')\n"
                                         "y = o.environ['D'] + getenv('E')\n"
                                         "z = [k for k in o.environ]\n")})
    assert [f.split(": reads")[0] for f in env_read_findings(mods)] == [
        "tasks/a.py:3", "tasks/a.py:4", "tasks/a.py:4", "tasks/a.py:5"]


def test_checker_lists_public_names_defined_twice():
    mods = parse_modules({"thermaliq/store/lake.py": "def utc_ns(): ...\nclass Rows: ...\ndef _p(): ...\n",
                          "thermaliq/store/rows.py": "def utc_ns(): ...\ndef _p(): ...\n",
                          "tasks/store.py": "class Rows: ...\n"})
    assert shared_name_findings(mods) == ["utc_ns defined in thermaliq/store/lake.py:1, thermaliq/store/rows.py:1"]


def test_checker_counts_top_level_modules(tmp_path):
    (tmp_path / "thermaliq" / "sub").mkdir(parents=True)
    for name in ("__init__.py", "a.py", "units.txt", "sub/b.py"):
        (tmp_path / "thermaliq" / name).write_text("")
    assert top_level_modules(tmp_path) == ["__init__.py", "a.py"]
