"""Ablation configs: a TOML file → a validated :class:`AblationConfig` → the list of :class:`Cell` s to run.

Format (``nlfeedback/resources/ablations/default.toml``, bundled as ``default``, is the full example)::

    name = "default"                      # optional; shown in reports
    description = "…"                     # optional

    [grid]
    tasks   = ["doorkey-5x5", "lavagap-5"]                 # task short names (`nlf tasks`)
    kinds   = ["text:trained", "text:zero-shot", "sketch", "scalar", "preference", "oracle"]
    budgets = [50, 150, 500]              # feedback items per run (oracle cells ignore it)
    noise   = ["", "mistake=0.1"]         # teacher-noise specs as in `nlf critique --noise`; "" = off
    seeds   = 5                           # n → seeds 0..n-1, or an explicit list [0, 1, 7]
    eval_tasks = ["keys-distractor-test"] # optional: also evaluate each cell's trained policy on these tasks

    [run]                                 # optional; the online loop's settings, the same for every cell
    steps = 150000                        # PPO environment steps per run
    # steps_per_task = { "doorkey-6x6" = 400000 }   # named grid tasks run this long instead
    rounds = 5                            # feedback rounds (the reward is refitted each round)
    eval_every = 10000
    eval_episodes = 20
    eval_actions = "deterministic"        # evaluations: the policy's likeliest action | sampled (as trained)
    ent_coef = 0.01                       # PPO's entropy bonus
    reward_view = "partial"               # what the reward model sees: partial (the agent's view) | full (the grid)
    initial = "noisy-expert"              # round 0's trajectories: noisy-expert | random (wandering)
    reward_form = "shaped"                # the learned reward: shaped (loop-proof) | action (plain r(s, a))

A text kind names its interpreter after a colon (``text:trained``, ``text:zero-shot``, ``text:keyword``,
``text:oracle-intent``). ``text:<interpreter>+preference`` is one arm with two kinds: each round's items are
split evenly between remarks and preferences (text gets the odd one) and one reward model is fitted to both
(``mixed``); it cannot be guarded. ``oracle`` is PPO on the task's own reward and ``judgement`` PPO on the
critics' dense judgement (:class:`nlfeedback.agents.envs.JudgedReward`), the reward every kind of feedback
tries to recover: their cells ignore budgets and noise, so each contributes one cell per task × seed.

The file is read by the pydantic models :class:`ConfigFile`, :class:`GridSection` and :class:`RunSettings`
(unknown keys rejected); their fields hold the defaults, which ``OnlineConfig`` and ``nlf train-agent`` read.
Every mistake is reported with the file and the key's path, e.g.
``default.toml: grid.budgets[2]: must be a positive integer, got -5``; all mistakes are reported at once,
except those that depend on other keys (duplicates, budgets against ``run.rounds``, text-only noise,
the budgets an oracle-only grid may leave out), which are reported once those keys are valid.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from nlfeedback.errors import NlfError

FEEDBACK_KINDS = ("text", "sketch", "scalar", "preference")
# two kinds from one reward model: written "text:<interpreter>+preference" (the budget split evenly, text first)
COMBINED_KINDS = ("text+preference",)
# references without feedback, one cell per task × seed: PPO on the task's own reward, and PPO on the dense
# judgement the critics judge by (the ceiling of learning from feedback)
REFERENCE_KINDS = ("oracle", "judgement")
ALL_KINDS = (*FEEDBACK_KINDS, *COMBINED_KINDS, *REFERENCE_KINDS)


def split_budget(budget: int, n: int) -> list[int]:
    """A budget shared by ``n`` kinds of one arm: even shares, the first kinds get the remainder."""
    return [budget // n + (1 if k < budget % n else 0) for k in range(n)]


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
    phrasing: str | None = None  # text only: the critic's phrase bank for this arm (None: the run's default)

    @property
    def label(self) -> str:
        return arm_label(self.kind, self.interpreter, self.phrasing)


def arm_label(kind: str, interpreter: str | None, phrasing: str | None = None) -> str:
    """An arm's name: ``sketch``, ``text:trained``, ``text:trained@human``, ``text:trained+preference``."""
    text = f"text:{interpreter}{'@' + phrasing if phrasing else ''}"
    if kind in COMBINED_KINDS:
        return text + "+" + kind.split("+", 1)[1]
    return text if kind == "text" else kind


def parse_kind_part(part: str) -> tuple[str, str | None, str | None]:
    """One kind of an arm: ``"text:trained@human"`` → ``("text", "trained", "human")``, ``"sketch"`` →
    ``("sketch", None, None)``. Raises :class:`NlfError` with the valid choices."""
    from nlfeedback.critics.phrasebank import SPLITS
    from nlfeedback.language.interpreters.base import INTERPRETERS

    kind, sep, rest = part.strip().partition(":")
    interp, at, phrasing = rest.partition("@")
    if kind not in ALL_KINDS:
        raise NlfError(f"unknown kind {kind!r} (valid: {', '.join(ALL_KINDS)}; text takes an "
                       f"interpreter, e.g. \"text:trained\")")
    if kind != "text":
        if sep:
            raise NlfError(f"only text takes an interpreter; write \"{kind}\"")
        return kind, None, None
    if not sep:
        raise NlfError(f"text needs its interpreter, e.g. \"text:trained\" (interpreters: {', '.join(INTERPRETERS)})")
    if interp not in INTERPRETERS:
        raise NlfError(f"unknown interpreter {interp!r} (valid: {', '.join(INTERPRETERS)})")
    if at and phrasing not in SPLITS:
        raise NlfError(f"unknown phrasing {phrasing!r} after '@' (the critic's phrase banks: {', '.join(SPLITS)})")
    return "text", interp, (phrasing if at else None)


def _problem(message: str, **problems: Any) -> PydanticCustomError:
    """A validation error carrying its own message (no "Value error, " prefix); ``problems`` may hold
    ``at``: a list of ``(sub-path, message)`` pairs, reported as one problem each."""
    return PydanticCustomError("nlf", "{message}", {"message": message, **problems})


def _positive_int(v: Any) -> int:
    if not _is_int(v) or v <= 0:
        raise _problem(f"must be a positive integer, got {v!r}")
    return v


PositiveCount = Annotated[int, BeforeValidator(_positive_int)]


def _count(v: Any) -> int:
    if not _is_int(v) or v < 0:
        raise _problem(f"must be a whole number, 0 or more, got {v!r}")
    return v


class RunSettings(BaseModel):
    """The ``[run]`` table: the online loop's settings, the same for every cell. These are the defaults of
    :class:`nlfeedback.experiments.online.OnlineConfig` and of the matching ``nlf train-agent`` options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: PositiveCount = Field(150_000, description="PPO environment steps per run")
    steps_per_task: dict[str, PositiveCount] = Field(
        default_factory=dict, description="PPO steps for the named grid tasks instead of steps, e.g. "
                                          "{ \"doorkey-6x6\" = 400000 } (a harder task needs a longer run)")
    rounds: PositiveCount = Field(5, description="feedback rounds (the reward model is refitted after each)")
    eval_every: PositiveCount = Field(10_000, description="environment steps between evaluations")
    eval_episodes: PositiveCount = Field(20, description="episodes per evaluation")
    eval_actions: Literal["deterministic", "sampled"] = Field(
        "deterministic", description="evaluations take the policy's most likely action (deterministic) or sample "
                                     "its actions as PPO trained it (sampled; seeded). Under partial observation "
                                     "a deterministic policy can loop where the sampled one solves the task")
    ent_coef: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.01, description="PPO's entropy bonus (a larger one keeps exploring longer: keys-distractor-train needs 0.05)")
    reward_view: Literal["partial", "full"] = Field(
        "partial", description="what the reward model sees: partial (the agent's 7x7 view) or full (the whole grid)")
    initial: Literal["noisy-expert", "random"] = Field(
        "noisy-expert", description="round 0's trajectories: a noisy expert's, or a random policy's (wandering)")
    reward_form: Literal["shaped", "action"] = Field(
        "shaped", description="the learned reward's form: shaped (potential-based, no loop of states pays) or "
                              "action (a plain r(s, a), which can pay for loops; nlfeedback.reward.model)")
    reward_updates: Annotated[int, BeforeValidator(_count)] = Field(
        0, description="cap on each reward fit's gradient steps: epochs = min(epochs, ceil(reward_updates / batches "
                       "per epoch)), whole epochs (as the reward-quality curves fit); 0: no cap")
    guard_every: Annotated[int, BeforeValidator(_count)] = Field(
        0, description="with rounds = 1: environment steps between the disagreement guard's checks (fresh "
                       "feedback on the agent's newest episodes against the fixed reward); 0: off")
    guard_items: PositiveCount = Field(10, description="the disagreement guard's episodes and feedback items per check")
    guard_action: Literal["stop", "refit"] = Field(
        "stop", description="what a firing check does: stop (keep the policy of the check before; the run goes on "
                            "to give the unguarded end too) or refit (the reward, with the checks' feedback)")

    @model_validator(mode="after")
    def _check_guard(self) -> RunSettings:
        if self.guard_every and self.rounds != 1:
            raise _problem("guard with refits", at=[("guard_every", f"the disagreement guard checks a fixed reward: "
                                                                   f"it needs rounds = 1, not {self.rounds}")])
        return self


# The online loop's run settings and their defaults, by name.
RUN_DEFAULTS: dict[str, Any] = {name: f.default for name, f in RunSettings.model_fields.items()
                                if name != "steps_per_task"}  # a grid setting, resolved into each cell's steps


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
    eval_tasks: tuple[str, ...] = ()  # tasks the trained policy is also evaluated on (grid.eval_tasks)
    phrasing: str | None = None  # text arms: the critic's phrase bank when the arm names one (text:trained@human)

    @property
    def label(self) -> str:
        """The arm's name in reports: ``text:trained``, ``text:trained@human``, ``sketch``, ``oracle``."""
        return KindSpec(self.kind, self.interpreter, self.phrasing).label

    @property
    def key(self) -> str:
        """A file-name-safe unique name, e.g. ``doorkey-5x5__text-trained__b150__noise-off__s0``."""
        if self.kind in REFERENCE_KINDS:
            return f"{self.task}__{self.kind}__s{self.seed}"
        label = self.label.replace(":", "-")
        return f"{self.task}__{label}__b{self.budget}__{noise_slug(self.noise)}__s{self.seed}"

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        if self.eval_tasks:
            d["eval_tasks"] = list(self.eval_tasks)
        else:
            del d["eval_tasks"]  # as before the option existed
        if self.phrasing is None:
            del d["phrasing"]  # likewise
        return {"key": self.key, "label": self.label, **d}

    def online_kwargs(self, run: RunSettings) -> dict[str, Any]:
        """Keyword arguments for ``OnlineConfig`` (nlfeedback.experiments.online)."""
        kw: dict[str, Any] = {"task": self.task, "kind": self.kind, "seed": self.seed, **run.model_dump()}
        kw["steps"] = kw.pop("steps_per_task").get(self.task, run.steps)
        # settings added after the first runs are left out at their defaults, so older runs' specs still match
        for name in ("reward_view", "initial", "reward_form", "reward_updates", "guard_every", "guard_items",
                     "guard_action", "eval_actions", "ent_coef"):
            if kw[name] == RunSettings.model_fields[name].default:
                del kw[name]
        if self.kind in REFERENCE_KINDS:  # no learned reward to guard, nor a form for it
            for name in ("guard_every", "guard_items", "guard_action", "reward_form", "reward_updates"):
                kw.pop(name, None)
        else:
            kw["budget"] = self.budget
            kw["noise"] = self.noise
        if self.interpreter is not None:
            kw["interpreter"] = self.interpreter
        if self.phrasing is not None:
            kw["phrasing"] = self.phrasing
        if self.eval_tasks:  # only when set, so the specs of older runs (without it) still match on resume
            kw["eval_tasks"] = list(self.eval_tasks)
        return kw


@dataclass(frozen=True)
class AblationConfig:
    tasks: tuple[str, ...]
    kinds: tuple[KindSpec, ...]
    budgets: tuple[int, ...]
    noise: tuple[str, ...]
    seeds: tuple[int, ...]
    run: RunSettings = field(default_factory=RunSettings)
    eval_tasks: tuple[str, ...] = ()
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
                if spec.kind in REFERENCE_KINDS:
                    out.extend(Cell(task, spec.kind, None, None, "", s, self.eval_tasks) for s in self.seeds)
                    continue
                for budget in self.budgets:
                    for noise in self.noise:
                        out.extend(Cell(task, spec.kind, spec.interpreter, budget, noise, s, self.eval_tasks,
                                        spec.phrasing) for s in self.seeds)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "source": self.source,
                "grid": {"tasks": list(self.tasks), "kinds": [k.label for k in self.kinds],
                         "budgets": list(self.budgets), "noise": list(self.noise), "seeds": list(self.seeds),
                         **({"eval_tasks": list(self.eval_tasks)} if self.eval_tasks else {})},
                "run": self.run.model_dump()}


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
            if cell.kind in REFERENCE_KINDS and name in ("budget", "noise"):
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


# the configs installed with the package (resources/ablations/)
BUNDLED = ("quick", "default", "acceptance", "misgeneralisation", "misgeneralisation-full", "gaming", "gaming-full",
           "gaming-shaped", "gaming-refit", "harder-task", "study")


def find_config(name_or_path: str | Path) -> Path:
    """An ablation config's file: ``name_or_path`` itself when it is a file, else the bundled config of that
    name (``quick`` — the quickstart —, ``default``, ``acceptance``; installed as package data)."""
    from nlfeedback.data import resource

    p = Path(name_or_path)
    if p.is_file():
        return p
    if str(name_or_path) in BUNDLED:
        return resource("ablations", f"{name_or_path}.toml")
    raise NlfError(f"{p}: no such config file (bundled configs: {', '.join(BUNDLED)})")


def load_config(path: str | Path) -> AblationConfig:
    """Read and validate a TOML ablation config (a file, or a bundled config's name: :func:`find_config`);
    raises :class:`ConfigError` naming every bad key."""
    p = find_config(path)
    return parse_config(p.read_text(encoding="utf-8"), source=p.name)


def parse_config(text: str, source: str = "<config>") -> AblationConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(source, [f"invalid TOML: {e}"]) from None
    try:
        file = ConfigFile.model_validate(data)
    except ValidationError as e:
        raise ConfigError(source, _problems(e)) from None
    g = file.grid
    return AblationConfig(tasks=g.tasks, kinds=g.kinds, budgets=g.budgets or (), noise=g.noise, seeds=g.seeds,
                          run=file.run, eval_tasks=g.eval_tasks or (),
                          name=Path(source).stem if file.name is None else file.name,
                          description=file.description, source=source)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# -- the file's models: each field checks its own value; a problem names the key's path (see _problems)


def _string(v: Any) -> str:
    if not isinstance(v, str):
        raise _problem(f"must be a string, got {v!r}")
    return v


def _nonempty_list(v: Any) -> list[Any]:
    if not isinstance(v, list):
        raise _problem(f"must be a list, got {v!r}")
    if not v:
        raise _problem("must not be empty")
    return v


def _no_duplicates(values: list[Any], shown: list[Any] | None = None) -> list[Any]:
    """``values`` without repeats (first kept); a repeat is a problem at its index."""
    seen: set[Any] = set()
    at = []
    for i, v in enumerate(values):
        if v in seen:
            at.append((f"[{i}]", f"duplicate {(shown or values)[i]!r}"))
        seen.add(v)
    if at:
        raise _problem("duplicates", at=at)
    return list(dict.fromkeys(values))


def _task(t: Any) -> str:
    from nlfeedback.envs.tasks import task_names

    if not isinstance(t, str):
        raise _problem(f"must be a task name (string), got {t!r}")
    valid = task_names()
    if t not in valid:
        close = difflib.get_close_matches(t, valid, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise _problem(f"unknown task {t!r}{hint} (valid: {', '.join(valid)})")
    return t


def _kind(k: Any) -> KindSpec:
    if isinstance(k, KindSpec):
        return k
    if not isinstance(k, str):
        raise _problem(f"must be a string such as \"sketch\" or \"text:trained\", got {k!r}")
    first, plus, rest = k.partition("+")  # a combined arm: "text:trained+preference"
    try:
        kind, interp, phrasing = parse_kind_part(first)
    except NlfError as exc:
        raise _problem(str(exc)) from None
    if plus:
        if kind != "text" or f"text+{rest}" not in COMBINED_KINDS:
            raise _problem(f"unknown combined kind {k!r} (valid: "
                           + ", ".join(c.replace("text", "text:<interpreter>") for c in COMBINED_KINDS) + ")")
        return KindSpec(f"text+{rest}", interp, phrasing)
    return KindSpec(kind, interp, phrasing)


def _noise_spec(spec: Any) -> str:
    if not isinstance(spec, str):
        raise _problem(f"must be a noise spec string such as \"mistake=0.1\" or \"\" (off), got {spec!r}")
    try:
        return canonical_noise(spec)
    except NlfError as e:
        raise _problem(str(e).removeprefix("--noise: ")) from None


def _seed(s: Any) -> int:
    if not _is_int(s) or s < 0:
        raise _problem(f"must be a non-negative integer, got {s!r}")
    return s


def _seeds(v: Any) -> Any:
    """A count ``n`` means seeds ``0..n-1``."""
    if _is_int(v):
        if v <= 0:
            raise _problem(f"a count must be a positive integer, got {v!r}")
        return list(range(v))
    return _nonempty_list(v)


def _unique(v: Any) -> Any:
    return tuple(_no_duplicates(list(v)))


def _unique_kinds(v: Any) -> Any:
    return tuple(_no_duplicates(list(v), [k.label for k in v]))


def _sorted_unique(v: Any) -> Any:
    return tuple(sorted(_no_duplicates(list(v))))


def _list_of(item: Any, after: Any = _unique, before: Any = _nonempty_list) -> Any:
    """A TOML list read into a tuple: ``before`` checks the list, ``item`` each value, ``after`` the result."""
    return Annotated[tuple[Annotated[Any, BeforeValidator(item)], ...], BeforeValidator(before),
                     AfterValidator(after)]


class GridSection(BaseModel):
    """The ``[grid]`` table: the values each axis of the ablation grid takes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tasks: _list_of(_task) = Field(description="task short names (`nlf tasks`)")  # type: ignore[valid-type]
    kinds: _list_of(_kind, _unique_kinds) = Field(  # type: ignore[valid-type]
        description='feedback kinds; text names its interpreter ("text:trained"); "oracle" is the task\'s reward, '
                    '"judgement" the dense judgement')
    budgets: _list_of(_positive_int, _sorted_unique) | None = Field(  # type: ignore[valid-type]
        None, description="feedback items per run, ascending (oracle and judgement cells ignore it); required "
                          "unless every kind is one of those")
    noise: _list_of(_noise_spec) = Field(  # type: ignore[valid-type]
        ("",), description='teacher-noise specs as in `nlf critique --noise`, canonical; "" = off')
    seeds: _list_of(_seed, before=_seeds) = Field(  # type: ignore[valid-type]
        description="a count n (seeds 0..n-1) or a list of seeds")
    eval_tasks: _list_of(_task) | None = Field(  # type: ignore[valid-type]
        None, description="tasks each cell's trained policy is also evaluated on (deterministic episodes, the "
                          "task's true reward), e.g. keys-distractor-test beside keys-distractor-train")

    @model_validator(mode="after")
    def _check_axes(self) -> GridSection:
        from nlfeedback.critics.noise import TEXT_ONLY

        if self.budgets is None and not all(k.kind in REFERENCE_KINDS for k in self.kinds):
            raise _problem("missing", at=[("budgets", "missing (required)")])
        non_text = sorted({k.kind for k in self.kinds if k.kind not in ("text", *REFERENCE_KINDS)})
        at = []
        for i, canon in enumerate(self.noise):
            text_only = [n for n in TEXT_ONLY if f"{n}=" in canon]
            if text_only and non_text:
                at.append((f"noise[{i}]", f"{', '.join(text_only)} applies to text feedback only, but the grid "
                                          f"also has {', '.join(non_text)}"))
        for i, t in enumerate(self.eval_tasks or ()):
            if t in self.tasks:
                at.append((f"eval_tasks[{i}]", f"{t!r} is also a training task (grid.tasks): every cell is already "
                                               "evaluated on its own task"))
        if at:
            raise _problem("grid problems", at=at)
        return self


class ConfigFile(BaseModel):
    """An ablation config file, as written (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, BeforeValidator(_string)] | None = Field(
        None, description="shown in reports; default: the file's name without .toml")
    description: Annotated[str, BeforeValidator(_string)] = Field("", description="free text")
    grid: GridSection = Field(description="the grid's axes")
    run: RunSettings = Field(default_factory=RunSettings, description="the online loop's settings")

    @model_validator(mode="after")
    def _check_budgets_cover_rounds(self) -> ConfigFile:
        at = [(f"grid.budgets[{i}]", f"{b} is fewer items than run.rounds ({self.run.rounds}); every round needs "
                                     "at least one item")
              for i, b in enumerate(self.grid.budgets or ()) if b < self.run.rounds]
        at += [(f"run.steps_per_task.{t}", f"{t!r} is not a grid task ({', '.join(self.grid.tasks)})")
               for t in self.run.steps_per_task if t not in self.grid.tasks]
        if self.run.guard_every:
            at += [(f"grid.kinds[{i}]", f"{k.label}: the disagreement guard (run.guard_every) checks one kind of "
                                        "feedback, not a combined arm")
                   for i, k in enumerate(self.grid.kinds) if k.kind in COMBINED_KINDS]
        if at:
            raise _problem("budgets below rounds, a guarded combined arm or steps for another task", at=at)
        return self


_SECTIONS: dict[str, type[BaseModel]] = {"": ConfigFile, "grid": GridSection, "run": RunSettings}
_MISSING = {"grid": "missing table [grid] (required)",
            "grid.seeds": "missing (required): a count n (seeds 0..n-1) or a list of seeds"}


def _path(loc: tuple[Any, ...]) -> str:
    """``("grid", "budgets", 2)`` → ``grid.budgets[2]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problems(e: ValidationError) -> list[str]:
    """Each of pydantic's errors as ``key.path: what is wrong``, in the file's terms."""
    out = []
    for err in e.errors():
        loc = tuple(part for part in err["loc"] if not (isinstance(part, str) and part.startswith("function-")))
        path, ctx = _path(loc), err.get("ctx") or {}
        if ctx.get("at"):
            out.extend(f"{path}{'' if not path or sub.startswith('[') else '.'}{sub}: {msg}" for sub, msg in ctx["at"])
        elif err["type"] == "nlf":
            out.append(f"{path}: {ctx['message']}")
        elif err["type"] == "extra_forbidden":
            section, key = _path(loc[:-1]), str(loc[-1])
            valid = tuple(_SECTIONS[section].model_fields)
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            out.append(f"{path}: unknown key{hint} (valid: {', '.join(valid)})")
        elif err["type"] == "missing":
            out.append(f"{path}: {_MISSING.get(path, 'missing (required)')}")
        elif err["type"] == "model_type":
            out.append(f"{path}: must be a table, got {err['input']!r}")
        else:  # not expected: every field checks its own type
            out.append(f"{path}: {err['msg']}")
    return out
