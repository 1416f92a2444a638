"""The package's layers (docs/design.md, "Layers"): no import reaches up, and no two parts import each other.

Every module under ``nlfeedback/`` is parsed (imports inside functions included) and mapped to its *part*:
the subpackage (``nlfeedback/reward/…`` → ``reward``) or the top-level module (``nlfeedback/jsonl.py`` →
``jsonl``). A part may import parts of lower layers only; parts that share a layer do not import each other.
Lazy imports of third-party libraries (torch, transformers) are not looked at: only imports of ``nlfeedback``
and ``cli``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nlfeedback"

# Lowest first. ``nlfeedback`` is the package's own __init__; ``cli`` (outside the package) sits on top.
LAYERS: list[tuple[str, ...]] = [
    ("nlfeedback", "errors", "versions"),
    ("jsonl", "data", "checkpoints"),
    ("envs",),  # the task suite, events, rendering
    ("trajectory",),  # the trajectory record, replay
    ("trajectory_select", "validate", "policies", "feedback"),
    ("truth", "rollout"),  # truth: the ground truth critics and readers judge by (judgement, moments, temporal)
    ("critics", "targets"),  # targets: the nlf.targets/1 record an interpreter's reading becomes
    ("reward",),  # reward data built from targets and feedback, models, training
    ("agents", "metrics"),  # agents: PPO, the reward wrapper, evaluation; metrics: of Targets and of rewards
    ("language",),  # interpreters, the reader, its training and evaluation
    ("experiments",),  # the online loop, ablation configs, runner, report
    ("bench", "collect"),
    ("cli",),
]
RANK = {part: i for i, layer in enumerate(LAYERS) for part in layer}


def part_of(module: str) -> str | None:
    """The part a dotted module name belongs to; ``None`` outside ``nlfeedback`` and ``cli``."""
    head, _, rest = module.partition(".")
    if head == "cli":
        return "cli"
    if head != "nlfeedback":
        return None
    return rest.partition(".")[0] or "nlfeedback"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool) -> list[tuple[str, int]]:
    """Every module an import statement anywhere in ``source`` names (function bodies and ``if`` blocks
    included), with its line; relative imports resolved; ``from p import x`` gives ``p.x`` as well as ``p``
    (``x`` may be a submodule)."""
    out: list[tuple[str, int]] = []
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            out.append((base, node.lineno))
            out += [(f"{base}.{a.name}", node.lineno) for a in node.names if a.name != "*"]
    return out


def part_edges(root: Path = ROOT) -> dict[tuple[str, str], list[str]]:
    """(importing part, imported part) → where (``module:line``), for every import between two parts."""
    parts = actual_parts(root)
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted((root / "nlfeedback").rglob("*.py")):
        module = module_name(path, root)
        src = part_of(module)
        for target, line in imported_modules(path.read_text(encoding="utf-8"), module, path.name == "__init__.py"):
            dst = part_of(target)
            if dst is not None and dst not in parts:
                dst = "nlfeedback"  # ``from nlfeedback import __version__``: a name in the package's __init__
            where = edges.setdefault((src, dst), []) if dst is not None and dst != src else None
            if where is not None and f"{module}:{line}" not in where:
                where.append(f"{module}:{line}")
    return edges


def cycles(edges) -> list[list[str]]:
    """The strongly connected components (Tarjan) with more than one part."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def actual_parts(root: Path = ROOT) -> set[str]:
    parts = {"nlfeedback", "cli"}
    for p in (root / "nlfeedback").iterdir():
        if p.suffix == ".py" and p.name != "__init__.py":
            parts.add(p.stem)
        elif p.is_dir() and (p / "__init__.py").exists():
            parts.add(p.name)
    return parts


def test_every_part_has_a_layer_and_every_layer_part_exists():
    parts = actual_parts()
    assert not parts - set(RANK), f"declare the layer of {sorted(parts - set(RANK))} in LAYERS (and docs/design.md)"
    assert not set(RANK) - parts, f"LAYERS names parts that do not exist: {sorted(set(RANK) - parts)}"


def test_no_import_reaches_a_higher_layer_or_a_sibling():
    bad = [f"{a} (layer {RANK[a]}) imports {b} (layer {RANK[b]}) at {', '.join(where)}"
           for (a, b), where in sorted(part_edges().items())
           if a in RANK and b in RANK and RANK[b] >= RANK[a]]
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_no_import_cycles_between_parts():
    found = cycles(part_edges())
    assert not found, f"import cycles between parts: {found}"


def test_the_checker_sees_imports_inside_functions_relative_ones_and_cycles(tmp_path):
    pkg = tmp_path / "nlfeedback"
    (pkg / "reward").mkdir(parents=True)
    (pkg / "language").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "reward" / "__init__.py").write_text("")
    (pkg / "language" / "__init__.py").write_text("from ..reward import data\n")
    (pkg / "reward" / "data.py").write_text("def f():\n    from nlfeedback.language.apply import g\n")
    (pkg / "errors.py").write_text("import torch\n")
    edges = part_edges(tmp_path)
    assert edges == {("reward", "language"): ["nlfeedback.reward.data:2"],
                     ("language", "reward"): ["nlfeedback.language:1"]}
    assert cycles(edges) == [["language", "reward"]]
    assert RANK["reward"] < RANK["language"]  # so the first edge is one the layer test rejects


@pytest.mark.parametrize("module, part", [("nlfeedback", "nlfeedback"), ("nlfeedback.jsonl", "jsonl"),
                                          ("nlfeedback.truth.judgement", "truth"), ("cli.main", "cli"),
                                          ("numpy", None)])
def test_part_of(module, part):
    assert part_of(module) == part
