"""Training data for reward models, one builder per feedback kind (see the table in docs/design.md).

| kind | what the model is fitted to |
|---|---|
| text | interpreter targets per step (``Targets``, read by the caller), weighted (general rules spread to every trajectory they match) |
| sketch | the curve as a potential: Φ(state after each step) ≈ the curve (``potential``, default for the shaped form; the state an episode ends in is read by the terminal value G); or per-step targets from the curve: its differences (progress made by the step; default for the action form) or its values |
| scalar | the mean reward over the rated segment ≈ the rating mapped to [−1, 1] |
| preference | Bradley–Terry: P(other segment preferred) = σ(R_other − R_this), R = summed reward |

Every builder works on one task's trajectories; steps are addressed by (trajectory index, step).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from nlfeedback.errors import NlfError
from nlfeedback.feedback.schema import FeedbackBase, PreferenceFeedback, ScalarFeedback, SketchFeedback, TextFeedback
from nlfeedback.targets import Targets
from nlfeedback.trajectory import Trajectory

SKETCH_MODES = ("potential", "difference", "value")


@dataclass(frozen=True)
class StepRow:
    """A regression target for the reward of one step."""

    traj: int
    """Index of the trajectory in :attr:`RewardData.trajectories`."""
    step: int
    """The step, 0..T−1."""
    target: float
    """What the step's reward should be."""
    weight: float
    """The row's weight in the regression (> 0)."""


@dataclass(frozen=True)
class StateRow:
    """A regression target for the potential Φ of one state (shaped models only)."""

    traj: int
    """Index of the trajectory in :attr:`RewardData.trajectories`."""
    state: int
    """The state, 0..T (state k is the one after step k−1; T is the state the episode ends in)."""
    value: float
    """What Φ of the state should be."""
    weight: float
    """The row's weight in the regression."""


@dataclass(frozen=True)
class SegmentRow:
    """A rated segment: the mean reward over steps ``start..end−1`` should be ``value``."""

    traj: int
    """Index of the trajectory in :attr:`RewardData.trajectories`."""
    start: int
    """First step of the segment."""
    end: int
    """One past the segment's last step."""
    value: float
    """The rating mapped to [−1, 1]."""


@dataclass(frozen=True)
class PairRow:
    """A preference between two segments (Bradley–Terry on their summed rewards)."""

    traj: int
    """Index of the first segment's trajectory in :attr:`RewardData.trajectories`."""
    start: int
    """First step of the first segment."""
    end: int
    """One past the first segment's last step."""
    other_traj: int
    """Index of the second segment's trajectory."""
    other_start: int
    """First step of the second segment."""
    other_end: int
    """One past the second segment's last step."""
    preferred: float
    """The probability that the second segment is preferred."""


@dataclass
class RewardData:
    """Everything a reward model of one task trains on: per-step targets (:class:`StepRow`), potential
    targets (:class:`StateRow`, shaped models only), rated segments (:class:`SegmentRow`) and preferences
    between segments (:class:`PairRow`). Rows address trajectories by their index in ``trajectories``.
    """

    trajectories: list[Trajectory]
    steps: list[StepRow] = field(default_factory=list)
    states: list[StateRow] = field(default_factory=list)
    segments: list[SegmentRow] = field(default_factory=list)
    pairs: list[PairRow] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    sketch_mode: str | None = None  # how sketch curves became targets (None: no sketches)

    def __len__(self) -> int:
        return len(self.steps) + len(self.states) + len(self.segments) + len(self.pairs)


def build_reward_data(items: Sequence[FeedbackBase], trajectories: Mapping[str, Trajectory], kind: str, *,
                      targets: Iterable[Targets] | None = None, sketch_mode: str | None = None,
                      form: str = "shaped") -> RewardData:
    """Turn feedback of ``kind`` (``text``, ``sketch``, ``scalar``, ``preference`` or ``mixed``) into data
    for a reward model of ``form`` (``shaped`` or ``action``).

    Text feedback comes as ``targets``: what an interpreter read from the text items, general rules spread
    (``nlfeedback.language.apply.interpret_feedback(items, trajectories, interpreter)``). They are read only
    once the feedback has passed its checks, so a lazy iterator interprets nothing when a check fails;
    targets on trajectories of another task (a rule spread over every trajectory given) are left out.
    """
    if sketch_mode is None:
        sketch_mode = "potential" if form == "shaped" else "difference"
    if sketch_mode not in SKETCH_MODES:
        raise NlfError(f"sketch mode must be one of {SKETCH_MODES}")
    if sketch_mode == "potential" and form != "shaped":
        raise NlfError("sketch mode 'potential' fits the potential of a shaped reward model (form 'shaped')")
    kinds = ("text", "sketch", "scalar", "preference") if kind == "mixed" else (kind,)
    chosen = [fb for fb in items if fb.kind in kinds]
    if not chosen:
        raise NlfError(f"no {kind} feedback among the {len(items)} items given")
    missing = sorted({fb.trajectory_id for fb in chosen if fb.trajectory_id not in trajectories}
                     | {fb.other_trajectory_id for fb in chosen
                        if isinstance(fb, PreferenceFeedback) and fb.other_trajectory_id not in trajectories})
    if missing:
        raise NlfError(f"feedback refers to {len(missing)} trajectories missing from the trajectory files: "
                       + ", ".join(missing[:5]) + (" …" if len(missing) > 5 else ""))
    env_ids = {trajectories[fb.trajectory_id].env_id for fb in chosen}
    if len(env_ids) > 1:
        raise NlfError(f"a reward model is trained for one task; the feedback covers {sorted(env_ids)}")
    trajs = list(trajectories.values())
    trajs = [t for t in trajs if t.env_id in env_ids]
    index = {t.id: i for i, t in enumerate(trajs)}
    data = RewardData(trajs)
    text = [fb for fb in chosen if isinstance(fb, TextFeedback)]
    if text:
        if targets is None:
            raise NlfError("text feedback needs an interpreter (e.g. --interpreter trained)")
        for t in targets:
            if t.trajectory_id not in index:
                continue
            i = index[t.trajectory_id]
            for s in np.flatnonzero(t.weights > 0):
                data.steps.append(StepRow(i, int(s), float(t.targets[s]), float(t.weights[s])))
    for fb in chosen:
        i = index[fb.trajectory_id]
        a, b = fb.segment
        if isinstance(fb, SketchFeedback):
            curve = np.asarray(fb.curve, dtype=np.float64)
            if sketch_mode == "potential":
                # Φ(state after step a+k) ≈ curve[k]; a whole episode starts at Φ = 0.
                data.states += [StateRow(i, a + k + 1, float(v), 1.0) for k, v in enumerate(curve)]
                if a == 0:
                    data.states.append(StateRow(i, 0, 0.0, 1.0))
                continue
            if sketch_mode == "value":
                rows = [StepRow(i, a + k, float(v), 1.0) for k, v in enumerate(curve)]
            else:
                prev = np.concatenate([[0.0 if a == 0 else curve[0]], curve[:-1]])
                diffs = curve - prev
                rows = [StepRow(i, a + k, float(d), 0.0 if (k == 0 and a > 0) else 1.0) for k, d in enumerate(diffs)]
            data.steps += [r for r in rows if r.weight > 0]
        elif isinstance(fb, ScalarFeedback):
            lo, hi = fb.scale
            data.segments.append(SegmentRow(i, a, b, float(2 * (fb.value - lo) / (hi - lo) - 1)))
        elif isinstance(fb, PreferenceFeedback):
            j = index[fb.other_trajectory_id]
            c, d = fb.other_segment
            data.pairs.append(PairRow(i, a, b, j, c, d, float(fb.preferred)))
    if any(isinstance(fb, SketchFeedback) for fb in chosen):
        data.sketch_mode = sketch_mode
    data.counts = {"feedback": len(chosen), "step_rows": len(data.steps), "state_rows": len(data.states),
                   "segments": len(data.segments),
                   "pairs": len(data.pairs)}
    if not len(data):
        raise NlfError(f"the {kind} feedback gave no usable training signal (did the interpreter abstain on all?)")
    return data
