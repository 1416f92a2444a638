"""What a person watching a trajectory could comment on: *moments*, read off events and the judgement.

| moment | steps | polarity | referent | general-rule pattern |
|---|---|---|---|---|
| ``lava`` | stepped into lava | −1 | lava | ``entered:lava`` |
| ``wall_bump`` | walked into a wall | −1 | wall | ``bumped:wall`` |
| ``spin`` | runs of ≥3 consecutive turns | −1 | turning | ``spin`` |
| ``drop_key`` | dropped the key while the door was still locked | −1 | key | ``dropped:key:C`` |
| ``wrong_key`` | picked up a key that does not match the locked door | −1 | key | ``picked_up:key:D`` |
| ``locked_door`` | tried the locked door without its key | −1 | door | ``locked_out:door`` |
| ``wasted`` | done / toggling, picking up or dropping nothing | −1 | actions | ``wasted`` |
| ``detour`` | forward moves away from the goal (steps-to-go rises), outside spins | −1 | path | — |
| ``timeout`` | ran out of time: the whole episode | −1 | time | — |
| ``key_pickup`` | picked up the door's key | +1 | key | ``picked_up:key:C`` |
| ``door_open`` | unlocked the door | +1 | door | ``unlocked:door`` |
| ``goal`` | reached the goal | +1 | goal | ``reached:goal`` |

Each moment lists its *occurrences* (a step, or a run of steps for spins and detours).
"""

from __future__ import annotations

from dataclasses import dataclass

from nlfeedback.trajectory import Trajectory
from nlfeedback.truth.judgement import WASTED_VERBS, Judgement

REFERENTS = {
    "lava": "lava", "wall_bump": "wall", "spin": "turning", "drop_key": "key", "wrong_key": "key",
    "locked_door": "door", "wasted": "actions", "detour": "path", "timeout": "time", "key_pickup": "key",
    "door_open": "door", "goal": "goal",
}
POLARITY = {m: (1 if m in ("key_pickup", "door_open", "goal") else -1) for m in REFERENTS}


@dataclass(frozen=True)
class Moment:
    kind: str
    occurrences: tuple[tuple[int, ...], ...]
    polarity: int
    referent: str
    pattern: str | None
    colors: tuple[tuple[str, str], ...] = ()  # slot name → colour, e.g. (("key_color", "blue"),)

    @property
    def steps(self) -> list[int]:
        return sorted({s for occ in self.occurrences for s in occ})

    @property
    def color_map(self) -> dict[str, str]:
        return dict(self.colors)


def _runs(steps: list[int]) -> list[tuple[int, ...]]:
    runs: list[list[int]] = []
    for s in steps:
        if runs and s == runs[-1][-1] + 1:
            runs[-1].append(s)
        else:
            runs.append([s])
    return [tuple(r) for r in runs]


def find_moments(traj: Trajectory, judgement: Judgement) -> list[Moment]:
    """Every moment of ``traj`` (see the module table), in a fixed order."""
    door = judgement.door_color
    wrong_colors = sorted({c for c in judgement.key_colors if c != door}) if door else []
    colors: tuple[tuple[str, str], ...] = ()
    if door:
        colors = (("key_color", door),) + ((("wrong_color", wrong_colors[0]),) if wrong_colors else ())
    by_kind: dict[str, list[int]] = {k: [] for k in REFERENTS}
    wrong_seen: dict[int, str] = {}
    spin_steps = {s for a, b in judgement.spin_runs for s in range(a, b)}
    for t, events in enumerate(traj.events):
        for e in events:
            parts = e.split(":")
            verb = parts[0]
            if e == "entered:lava":
                by_kind["lava"].append(t)
            elif e == "bumped:wall":
                by_kind["wall_bump"].append(t)
            elif verb == "dropped" and parts[1] == "key" and parts[2] == door and judgement.event_values[t] < 0:
                by_kind["drop_key"].append(t)
            elif verb == "picked_up" and parts[1] == "key" and door:
                if parts[2] == door:
                    by_kind["key_pickup"].append(t)
                else:
                    by_kind["wrong_key"].append(t)
                    wrong_seen[t] = parts[2]
            elif verb == "locked_out":
                by_kind["locked_door"].append(t)
            elif verb in WASTED_VERBS:
                by_kind["wasted"].append(t)
            elif verb == "unlocked":
                by_kind["door_open"].append(t)
            elif e == "reached:goal":
                by_kind["goal"].append(t)
        away = judgement.steps_to_go[t + 1] > judgement.steps_to_go[t]  # lava and dead ends read as no change
        if traj.actions[t] == 2 and away and t not in spin_steps and "moved_forward" in events:
            by_kind["detour"].append(t)
    if traj.truncated and not traj.success:
        by_kind["timeout"] = list(range(len(traj)))

    moments = []
    for kind, steps in by_kind.items():
        if not steps:
            continue
        occurrences = _runs(steps) if kind in ("detour",) else [(s,) for s in steps]
        if kind == "timeout":
            occurrences = [tuple(steps)]
        pattern = {
            "lava": "entered:lava", "wall_bump": "bumped:wall", "wasted": "wasted", "locked_door": "locked_out:door",
            "door_open": "unlocked:door", "goal": "reached:goal",
            "key_pickup": f"picked_up:key:{door}", "drop_key": f"dropped:key:{door}",
        }.get(kind)
        kind_colors = colors
        if kind == "wrong_key":
            wrong = wrong_seen[steps[0]]
            pattern = f"picked_up:key:{wrong}"
            kind_colors = (("key_color", door or ""), ("wrong_color", wrong))
        referent = REFERENTS[kind]
        if referent in ("key", "door") and door:
            referent = f"{wrong_seen[steps[0]] if kind == 'wrong_key' else door} {referent}"
        moments.append(Moment(kind, tuple(occurrences), POLARITY[kind], referent, pattern, kind_colors))
    if judgement.spin_runs:
        moments.append(Moment("spin", tuple(tuple(range(a, b)) for a, b in judgement.spin_runs), -1, "turning",
                              "spin", colors))
    return moments


def episode_quality(traj: Trajectory, judgement: Judgement) -> float:
    """How good the whole episode looks, in [−1, 1]: +1 optimal success, −1 lava or no progress at all.

    Success scores ``optimal_length / length`` mapped to [0.2, 1]; failure scores the progress made
    toward the goal mapped to [−1, 0] (lava is always −1).
    """
    if any("entered:lava" in ev for ev in traj.events):
        return -1.0
    if traj.success:
        eff = min(1.0, judgement.optimal_length / max(len(traj), 1))
        return 0.2 + 0.8 * eff
    reached = float(max(judgement.potential.max(), 0.0))
    return -1.0 + reached


def pattern_steps(pattern: str, traj: Trajectory, judgement: Judgement) -> list[int]:
    """Every step of ``traj`` a general rule's event ``pattern`` covers.

    A pattern is an event prefix (``entered:lava``, ``picked_up:key:blue``, ``unlocked:door``) or one of
    the named patterns ``spin`` (steps of spin runs) and ``wasted`` (pointless actions).
    """
    if pattern == "spin":
        return sorted({s for a, b in judgement.spin_runs for s in range(a, b)})
    if pattern == "wasted":
        return [t for t, ev in enumerate(traj.events) if any(e.split(":")[0] in WASTED_VERBS for e in ev)]
    return [t for t, ev in enumerate(traj.events) if any(e == pattern or e.startswith(pattern + ":") for e in ev)]
