"""Ablation configs: a TOML file → a validated :class:`AblationConfig` → the list of :class:`Cell` s to run.

Format (``data/ablations/default.toml`` is the full example)::

    name = "default"                      # optional; shown in reports
    description = "…"                     # optional

    [grid]
    tasks   = ["doorkey-5x5", "lavagap-5"]                 # task short names (`nlf tasks`)
    kinds   = ["text:trained", "text:zero-shot", "sketch", "scalar", "preference", "oracle"]
    budgets = [50, 150, 500]              # feedback items per run (oracle cells ignore it)
    noise   = ["", "mistake=0.1"]         # teacher-noise specs as in `nlf critique --noise`; "" = off
    seeds   = 5                           # n → seeds 0..n-1, or an explicit list [0, 1, 7]

    [run]                                 # optional; the online loop's settings, the same for every cell
    steps = 150000                        # PPO environment steps per run
    rounds = 5                            # feedback rounds (the reward is refitted each round)
    eval_every = 10000
    eval_episodes = 20

A text kind names its interpreter after a colon (``text:trained``, ``text:zero-shot``, ``text:keyword``,
``text:oracle-intent``). ``oracle`` is PPO on the task's own reward: its cells ignore budgets and noise,
so it contributes one cell per task × seed.

Every mistake is reported with the file and the key's path, e.g.
``default.toml: grid.budgets[2]: must be a positive integer, got -5``; all mistakes are reported at once.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nlfeedback.errors import NlfError

FEEDBACK_KINDS = ("text", "sketch", "scalar", "preference")
ALL_KINDS = (*FEEDBACK_KINDS, "oracle")

# The online loop's defaults (nlfeedback.experiments.online.OnlineConfig); a test keeps them in step.
RUN_DEFAULTS: dict[str, int] = {"steps": 150_000, "rounds": 5, "eval_every": 10_000, "eval_episodes": 20}

_TOP_KEYS = ("name", "description", "grid", "run")
_GRID_KEYS = ("tasks", "kinds", "budgets", "noise", "seeds")


class ConfigError(NlfError):
    """An invalid ablation config; the message lists every problem as ``file: key.path: what is wrong``."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {p}" for p in problems]
        super().__init__(lines[0] if len(lines) == 1 else f"{len(lines)} problems in the config:\n" + "\n".join(lines))


@dataclass(frozen=True)
class KindSpec:
    """One feedback kind of the grid; text carries its interpreter."""

    kind: str
    interpreter: str | None = None

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.interpreter}" if self.interpreter else self.kind


@dataclass(frozen=True)
class RunSettings:
    steps: int = RUN_DEFAULTS["steps"]
    rounds: int = RUN_DEFAULTS["rounds"]
    eval_every: int = RUN_DEFAULTS["eval_every"]
    eval_episodes: int = RUN_DEFAULTS["eval_episodes"]


@dataclass(frozen=True)
class Cell:
    """One run of the online loop: (task, kind, interpreter, budget, noise, seed).

    ``interpreter`` is ``None`` except for text; ``budget`` is ``None`` and ``noise`` is ``""`` for oracle.
    """

    task: str
    kind: str
    interpreter: str | None
    budget: int | None
    noise: str
    seed: int

    @property
    def label(self) -> str:
        """The arm's name in reports: ``text:trained``, ``sketch``, ``oracle``."""
        return KindSpec(self.kind, self.interpreter).label

    @property
    def key(self) -> str:
        """A file-name-safe unique name, e.g. ``doorkey-5x5__text-trained__b150__noise-off__s0``."""
        if self.kind == "oracle":
            return f"{self.task}__oracle__s{self.seed}"
        label = self.label.replace(":", "-")
        return f"{self.task}__{label}__b{self.budget}__{noise_slug(self.noise)}__s{self.seed}"

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, **asdict(self)}

    def online_kwargs(self, run: RunSettings) -> dict[str, Any]:
        """Keyword arguments for ``OnlineConfig`` (nlfeedback.experiments.online)."""
        kw: dict[str, Any] = {"task": self.task, "kind": self.kind, "seed": self.seed, **asdict(run)}
        if self.kind != "oracle":
            kw["budget"] = self.budget
            kw["noise"] = self.noise
        if self.interpreter is not None:
            kw["interpreter"] = self.interpreter
        return kw


@dataclass(frozen=True)
class AblationConfig:
    tasks: tuple[str, ...]
    kinds: tuple[KindSpec, ...]
    budgets: tuple[int, ...]
    noise: tuple[str, ...]
    seeds: tuple[int, ...]
    run: RunSettings = field(default_factory=RunSettings)
    name: str = "ablation"
    description: str = ""
    source: str = "<config>"

    def cells(self, only: CellSelection | None = None) -> list[Cell]:
        """Every cell of the grid (or of its ``only`` selection), in a stable order (task, kind, budget,
        noise, seed)."""
        if only is not None:
            return [c for c in self.cells() if only(c)]
        out: list[Cell] = []
        for task in self.tasks:
            for spec in self.kinds:
                if spec.kind == "oracle":
                    out.extend(Cell(task, "oracle", None, None, "", s) for s in self.seeds)
                    continue
                for budget in self.budgets:
                    for noise in self.noise:
                        out.extend(Cell(task, spec.kind, spec.interpreter, budget, noise, s) for s in self.seeds)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "source": self.source,
                "grid": {"tasks": list(self.tasks), "kinds": [k.label for k in self.kinds],
                         "budgets": list(self.budgets), "noise": list(self.noise), "seeds": list(self.seeds)},
                "run": asdict(self.run)}


SELECT_FIELDS = ("task", "kind", "budget", "noise", "seed")


@dataclass(frozen=True)
class CellSelection:
    """A subset of a grid's cells (``nlf ablate --only FIELD=V1,V2``), to run a large grid in parts.

    Fields not named select everything. ``kind`` matches the arm's label (``text:trained``, ``oracle``).
    ``noise`` takes one spec per ``--only`` (specs have commas of their own: repeat ``--only noise=…`` for
    several), compared in canonical form, ``off`` for none. Oracle cells have no budget and no noise, so
    ``budget`` and ``noise`` never leave them out: the reference stays in every part.
    """

    values: tuple[tuple[str, frozenset[str]], ...] = ()

    def __call__(self, cell: Cell) -> bool:
        have = {"task": cell.task, "kind": cell.label, "budget": str(cell.budget),
                "noise": cell.noise or "off", "seed": str(cell.seed)}
        for name, allowed in self.values:
            if cell.kind == "oracle" and name in ("budget", "noise"):
                continue
            if have[name] not in allowed:
                return False
        return True

    def describe(self) -> str:
        return " ".join(f"{n}={','.join(sorted(v))}" for n, v in self.values) or "all cells"


def parse_selection(config: AblationConfig, specs: list[str] | tuple[str, ...]) -> CellSelection:
    """``["seed=0,1", "kind=sketch,oracle"]`` → a :class:`CellSelection`; names and values are checked
    against ``config``'s grid, every mistake reported at once."""
    grid = {"task": list(config.tasks), "kind": [k.label for k in config.kinds],
            "budget": [str(b) for b in config.budgets], "noise": [n or "off" for n in config.noise],
            "seed": [str(s) for s in config.seeds]}
    chosen: dict[str, set[str]] = {}
    problems = []
    for spec in specs:
        name, eq, raw = spec.partition("=")
        name = name.strip()
        if not eq or name not in SELECT_FIELDS:
            problems.append(f"--only {spec!r}: expected FIELD=VALUE[,VALUE…] with FIELD one of "
                            f"{', '.join(SELECT_FIELDS)}")
            continue
        values = [raw.strip()] if name == "noise" else [v.strip() for v in raw.split(",")]
        for value in values:
            if name == "noise" and value != "off":
                try:
                    value = canonical_noise(value) or "off"
                except NlfError as err:
                    problems.append(f"--only {spec!r}: {err}")
                    continue
            if value not in grid[name]:
                problems.append(f"--only {spec!r}: {value!r} is not a {name} of this grid "
                                f"(it has {' | '.join(grid[name]) if name == 'noise' else ', '.join(grid[name])})")
            else:
                chosen.setdefault(name, set()).add(value)
    if problems:
        raise NlfError(problems[0] if len(problems) == 1 else
                       f"{len(problems)} problems with --only:\n" + "\n".join(problems))
    return CellSelection(tuple((n, frozenset(chosen[n])) for n in SELECT_FIELDS if n in chosen))


def noise_slug(noise: str) -> str:
    """``"mistake=0.1,skip=0.05"`` → ``"mistake0.1+skip0.05"``; ``""`` → ``"noise-off"``."""
    if not noise:
        return "noise-off"
    return re.sub(r"[^A-Za-z0-9.+_-]", "_", noise.replace("=", "").replace(",", "+"))


def canonical_noise(spec: str) -> str:
    """Normalise a noise spec (sorted, only the options that are on); raises :class:`NlfError` if invalid."""
    from nlfeedback.critics.noise import parse_noise

    active = parse_noise(spec).active()
    return ",".join(f"{k}={v:g}" for k, v in sorted(active.items()))


# --------------------------------------------------------------------------------------------- loading


def load_config(path: str | Path) -> AblationConfig:
    """Read and validate a TOML ablation config; raises :class:`ConfigError` naming every bad key."""
    p = Path(path)
    if not p.is_file():
        raise NlfError(f"{p}: no such config file")
    return parse_config(p.read_text(encoding="utf-8"), source=p.name)


def parse_config(text: str, source: str = "<config>") -> AblationConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(source, [f"invalid TOML: {e}"]) from None
    return _Validator(source).validate(data)


def _unknown(path: str, key: str, valid: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"{path}{key}: unknown key{hint} (valid: {', '.join(valid)})"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class _Validator:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def err(self, msg: str) -> None:
        self.problems.append(msg)

    def validate(self, data: dict[str, Any]) -> AblationConfig:
        for key in data:
            if key not in _TOP_KEYS:
                self.err(_unknown("", key, _TOP_KEYS))
        name = self._string(data, "name", "name", default=Path(self.source).stem)
        description = self._string(data, "description", "description", default="")
        grid = data.get("grid")
        if grid is None:
            self.err("grid: missing table [grid] (required)")
            grid = {}
        elif not isinstance(grid, dict):
            self.err("grid: must be a table")
            grid = {}
        for key in grid:
            if key not in _GRID_KEYS:
                self.err(_unknown("grid.", key, _GRID_KEYS))
        tasks = self._tasks(grid)
        kinds = self._kinds(grid)
        only_oracle = bool(kinds) and all(k.kind == "oracle" for k in kinds)
        budgets = self._budgets(grid, required=not only_oracle)
        noise = self._noise(grid, kinds)
        seeds = self._seeds(grid)
        run = self._run(data.get("run", {}))
        if run is not None:
            for i, b in enumerate(budgets):
                if b < run.rounds:
                    self.err(f"grid.budgets[{i}]: {b} is fewer items than run.rounds ({run.rounds}); "
                             "every round needs at least one item")
        if self.problems:
            raise ConfigError(self.source, self.problems)
        assert run is not None
        return AblationConfig(tasks=tuple(tasks), kinds=tuple(kinds), budgets=tuple(budgets), noise=tuple(noise),
                              seeds=tuple(seeds), run=run, name=name, description=description, source=self.source)

    # -- pieces

    def _string(self, table: dict[str, Any], key: str, path: str, default: str) -> str:
        v = table.get(key, default)
        if not isinstance(v, str):
            self.err(f"{path}: must be a string, got {v!r}")
            return default
        return v

    def _list(self, grid: dict[str, Any], key: str, required: bool = True) -> list[Any] | None:
        if key not in grid:
            if required:
                self.err(f"grid.{key}: missing (required)")
            return None
        v = grid[key]
        if not isinstance(v, list):
            self.err(f"grid.{key}: must be a list, got {v!r}")
            return None
        if not v:
            self.err(f"grid.{key}: must not be empty")
            return None
        return v

    def _duplicates(self, path: str, values: list[Any]) -> None:
        seen: set[Any] = set()
        for i, v in enumerate(values):
            if v in seen:
                self.err(f"{path}[{i}]: duplicate {v!r}")
            seen.add(v)

    def _tasks(self, grid: dict[str, Any]) -> list[str]:
        from nlfeedback.envs.tasks import task_names

        items = self._list(grid, "tasks")
        if items is None:
            return []
        valid = task_names()
        out = []
        for i, t in enumerate(items):
            if not isinstance(t, str):
                self.err(f"grid.tasks[{i}]: must be a task name (string), got {t!r}")
            elif t not in valid:
                close = difflib.get_close_matches(t, valid, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                self.err(f"grid.tasks[{i}]: unknown task {t!r}{hint} (valid: {', '.join(valid)})")
            else:
                out.append(t)
        self._duplicates("grid.tasks", out)
        return list(dict.fromkeys(out))

    def _kinds(self, grid: dict[str, Any]) -> list[KindSpec]:
        from nlfeedback.language.interpreters.base import INTERPRETERS

        items = self._list(grid, "kinds")
        if items is None:
            return []
        out: list[KindSpec] = []
        for i, k in enumerate(items):
            path = f"grid.kinds[{i}]"
            if not isinstance(k, str):
                self.err(f"{path}: must be a string such as \"sketch\" or \"text:trained\", got {k!r}")
                continue
            kind, sep, interp = k.partition(":")
            if kind not in ALL_KINDS:
                self.err(f"{path}: unknown kind {kind!r} (valid: {', '.join(ALL_KINDS)}; text takes an "
                         f"interpreter, e.g. \"text:trained\")")
            elif kind == "text":
                if not sep:
                    self.err(f"{path}: text needs its interpreter, e.g. \"text:trained\" "
                             f"(interpreters: {', '.join(INTERPRETERS)})")
                elif interp not in INTERPRETERS:
                    self.err(f"{path}: unknown interpreter {interp!r} (valid: {', '.join(INTERPRETERS)})")
                else:
                    out.append(KindSpec("text", interp))
            elif sep:
                self.err(f"{path}: only text takes an interpreter; write \"{kind}\"")
            else:
                out.append(KindSpec(kind))
        self._duplicates("grid.kinds", [k.label for k in out])
        return list(dict.fromkeys(out))

    def _budgets(self, grid: dict[str, Any], required: bool) -> list[int]:
        items = self._list(grid, "budgets", required=required)
        if items is None:
            return []
        out = []
        for i, b in enumerate(items):
            if not _is_int(b) or b <= 0:
                self.err(f"grid.budgets[{i}]: must be a positive integer, got {b!r}")
            else:
                out.append(b)
        self._duplicates("grid.budgets", out)
        return sorted(dict.fromkeys(out))

    def _noise(self, grid: dict[str, Any], kinds: list[KindSpec]) -> list[str]:
        from nlfeedback.critics.noise import TEXT_ONLY

        if "noise" not in grid:
            return [""]
        items = self._list(grid, "noise")
        if items is None:
            return []
        out = []
        non_text = sorted({k.kind for k in kinds if k.kind not in ("text", "oracle")})
        for i, spec in enumerate(items):
            path = f"grid.noise[{i}]"
            if not isinstance(spec, str):
                self.err(f"{path}: must be a noise spec string such as \"mistake=0.1\" or \"\" (off), got {spec!r}")
                continue
            try:
                canon = canonical_noise(spec)
            except NlfError as e:
                self.err(f"{path}: {str(e).removeprefix('--noise: ')}")
                continue
            text_only = [n for n in TEXT_ONLY if f"{n}=" in canon]
            if text_only and non_text:
                self.err(f"{path}: {', '.join(text_only)} applies to text feedback only, but the grid also has "
                         f"{', '.join(non_text)}")
                continue
            out.append(canon)
        self._duplicates("grid.noise", out)
        return list(dict.fromkeys(out))

    def _seeds(self, grid: dict[str, Any]) -> list[int]:
        if "seeds" not in grid:
            self.err("grid.seeds: missing (required): a count n (seeds 0..n-1) or a list of seeds")
            return []
        v = grid["seeds"]
        if _is_int(v):
            if v <= 0:
                self.err(f"grid.seeds: a count must be a positive integer, got {v!r}")
                return []
            return list(range(v))
        items = self._list(grid, "seeds")
        if items is None:
            return []
        out = []
        for i, s in enumerate(items):
            if not _is_int(s) or s < 0:
                self.err(f"grid.seeds[{i}]: must be a non-negative integer, got {s!r}")
            else:
                out.append(s)
        self._duplicates("grid.seeds", out)
        return list(dict.fromkeys(out))

    def _run(self, run: Any) -> RunSettings | None:
        if not isinstance(run, dict):
            self.err(f"run: must be a table, got {run!r}")
            return None
        valid = tuple(RUN_DEFAULTS)
        values = dict(RUN_DEFAULTS)
        ok = True
        for key, v in run.items():
            if key not in RUN_DEFAULTS:
                self.err(_unknown("run.", key, valid))
                ok = False
            elif not _is_int(v) or v <= 0:
                self.err(f"run.{key}: must be a positive integer, got {v!r}")
                ok = False
            else:
                values[key] = v
        return RunSettings(**values) if ok else None
