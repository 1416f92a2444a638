"""Teacher noise (after B-Pref, Lee et al. 2021) for every feedback kind, plus text-only noise.

Every option is off by default. ``parse_noise("mistake=0.1,skip=0.05")`` builds one from the CLI form.

| name | value | preference | scalar | sketch | text |
|---|---|---|---|---|---|
| ``stochastic`` | β > 0 | P(prefer B) = σ(β·(R_B − R_A)) | rating drawn ∝ exp(−β·\\|level − r*\\|) | adds a smooth random wobble of size 1/β | flips the remark's judgement with prob. σ(−β·\\|q\\|) |
| ``mistake`` | ε | flips the answer | reflects the rating (lo + hi − r) | inverts the curve | judges the episode the wrong way round |
| ``skip`` | p | the item is not given (counted, not written) | same | same | same |
| ``equal`` | p | answers "can't tell" (0.5) | gives the scale's midpoint | draws a flat line | a non-committal remark |
| ``myopic`` | γ < 1 | segment values weight step t by γ^(end−1−t) | same | the curve forgets old progress at rate γ | prefers recent moments (weight γ^(T−1−t)) |
| ``wrong_referent`` | p | — | — | — | names a wrong object or colour |
| ``vague`` | p | — | — | — | a vague remark instead of the specific one |

Applied noise is listed in each record's ``intent.noise``, so rates can be measured afterwards.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from nlfeedback.errors import NlfError

TEXT_ONLY = ("wrong_referent", "vague")


@dataclass(frozen=True)
class TeacherNoise:
    stochastic: float = 0.0  # β; 0 = off (perfectly rational)
    mistake: float = 0.0
    skip: float = 0.0
    equal: float = 0.0
    myopic: float = 1.0  # γ; 1 = off
    wrong_referent: float = 0.0
    vague: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "stochastic":
                if v < 0:
                    raise NlfError(f"noise stochastic (β) must be >= 0, got {v}")
            elif not 0.0 <= v <= 1.0:
                raise NlfError(f"noise {f.name} must be in [0, 1], got {v}")

    @property
    def gamma(self) -> float:
        return self.myopic

    def active(self) -> dict[str, float]:
        """The options that are on, as recorded in ``source.noise``."""
        off = TeacherNoise()
        return {k: v for k, v in asdict(self).items() if v != getattr(off, k)}

    def check_kind(self, kind: str) -> None:
        if kind != "text":
            bad = [n for n in TEXT_ONLY if getattr(self, n)]
            if bad:
                raise NlfError(f"noise {', '.join(bad)} applies to text feedback only, not {kind}")


def parse_noise(spec: str | None) -> TeacherNoise:
    """``"mistake=0.1,skip=0.05"`` → :class:`TeacherNoise`; empty or ``None`` → no noise."""
    if not spec or not spec.strip():
        return TeacherNoise()
    names = {f.name for f in fields(TeacherNoise)}
    values: dict[str, float] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise NlfError(f"--noise: expected name=value, got {part!r} (names: {', '.join(sorted(names))})")
        name, _, raw = part.partition("=")
        name = name.strip()
        if name not in names:
            raise NlfError(f"--noise: unknown noise {name!r} (valid: {', '.join(sorted(names))})")
        try:
            values[name] = float(raw)
        except ValueError:
            raise NlfError(f"--noise: {name} needs a number, got {raw!r}") from None
    return TeacherNoise(**values)
