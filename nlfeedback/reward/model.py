"""The reward model: a small CNN over the one-hot observation (what is carried included), in two forms.

``shaped`` (the default, loop-proof): the network reads a potential Φ(s), a terminal value G(s, a)
and (optionally) a penalty C(s, a), and rewards a transition ``(s, a, s′)`` with

    r = γ·Φ(s′) − Φ(s) [+ min(0, C(s, a))]          (the episode goes on, or is cut off by the time limit)
    r = γ·G(s, a) − Φ(s) [+ min(0, C(s, a))]        (the step ends the episode: goal, lava)

with Φ ≥ 0 (a softplus). Positive reward can only be earned as potential gained, so no loop of states
pays: around a cycle of n steps the discounted Φ terms telescope to (γⁿ − 1)·Φ(s) ≤ 0, and C only takes
away; an episode's return is γᵀ·G(end) − Φ(start) (plus the penalties), so what the feedback says about
how episodes end decides what the agent wants, and Φ shapes the way there. G is needed because the
state after the last step says little (the goal cell is hidden under the agent); it is read from the
state and action that ended the episode. This answers the living-reward trap that per-step rewards
learned from feedback fall into (see README): an agent paid a little for every step learns never to
finish.

Training keeps G ≤ 0 on endings the feedback judges bad (``RewardConfig.failure_floor``): fitted to a
per-step target alone, a death is only "a bit worse than the state it left", and where criticism of
wandering has made Φ fall along the way, dying early beats walking on.

The penalty term is off by default (``penalties=True`` turns it on): much negative feedback is about
history, not state — "stop spinning", "that was a detour" — and a Markov C(s, a) fitted to it learns
"turning costs" everywhere. Measured on doorkey-5x5 with oracle-intent text, the penalties summed over
a 10-step path outweighed the goal and the agent learned to stand still doing free no-op actions.

``action``: a plain r(s, a), one column per action (kept as the ablation of the shaped form).

An ensemble averages members. :class:`RewardModel` adds what is needed to use it: the observation mode
and shape it was trained on, the task, and normalisation statistics (the shaped form is only scaled,
never shifted, since a shift would pay or charge for time), saved together in one checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from nlfeedback.checkpoints import load_checkpoint
from nlfeedback.envs.tasks import NUM_ACTIONS
from nlfeedback.errors import NlfError
from nlfeedback.reward.observations import CHANNELS, one_hot

CHECKPOINT_FORMAT = "nlf.reward/2"  # /2: shaped form (Φ, C, G columns)


FORMS = ("shaped", "action")


def net_outputs(form: str) -> int:
    """Columns of the network: Φ, C(·), G(·) for ``shaped``; r(·) for ``action``."""
    return 1 + 2 * NUM_ACTIONS if form == "shaped" else NUM_ACTIONS


def potential(out: torch.Tensor) -> torch.Tensor:
    """Φ(s) ≥ 0 from the network outputs (shaped form)."""
    return F.softplus(out[:, 0])


def terminal_value(out: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """G(s, a): the potential of the end an episode reaches by taking ``a`` in ``s`` (shaped form)."""
    return out[:, 1 + NUM_ACTIONS:].gather(1, actions.view(-1, 1)).squeeze(1)


def penalty(out: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """min(0, C(s, a)) (shaped form)."""
    return out[:, 1:1 + NUM_ACTIONS].gather(1, actions.view(-1, 1)).squeeze(1).clamp(max=0.0)


def shaped_rewards(out: torch.Tensor, out_next: torch.Tensor, actions: torch.Tensor, terminal: torch.Tensor,
                   gamma: float, penalties: bool = False) -> torch.Tensor:
    """Rewards of a batch of transitions from the network outputs for ``s`` and ``s′`` (shaped form)."""
    after = torch.where(terminal, terminal_value(out, actions), potential(out_next))
    r = gamma * after - potential(out)
    return r + penalty(out, actions) if penalties else r


DEFAULT_CHANNELS = (16, 16)
DEFAULT_HIDDEN = 64


class RewardNet(nn.Module):
    """Two 3×3 convolutions (padding 1) over the one-hot image, then an MLP head.

    Sized to cost about what the policy's own CNN costs per observation, since the agent wrapper runs it
    on every environment step (``nlf bench agent``); checkpoints record their sizes."""

    def __init__(self, height: int, width: int, hidden: int = DEFAULT_HIDDEN, outputs: int = NUM_ACTIONS,
                 channels: tuple[int, int] = DEFAULT_CHANNELS) -> None:
        super().__init__()
        c1, c2 = channels
        self.channels = (int(c1), int(c2))
        self.conv = nn.Sequential(
            nn.Conv2d(CHANNELS, c1, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(c2 * height * width, hidden), nn.ReLU(),
                                  nn.Linear(hidden, outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the layers' functions called directly: on the wrapper's per-step batches of ~8 observations,
        # nn.Module's per-call overhead costs about as much as the arithmetic
        (c1, _, c2, _), (_, l1, _, l2) = self.conv, self.head
        h = F.relu(F.conv2d(x, c1.weight, c1.bias, padding=1))
        h = F.relu(F.conv2d(h, c2.weight, c2.bias, padding=1))
        h = F.relu(F.linear(h.flatten(1), l1.weight, l1.bias))
        return F.linear(h, l2.weight, l2.bias)


@dataclass
class RewardModel:
    members: list[RewardNet]
    obs_mode: str
    obs_shape: tuple[int, int, int]  # (H, W, 3) as the env gives it
    env_id: str
    kind: str
    mean: float = 0.0
    std: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)
    form: str = "shaped"  # see the module docstring
    gamma: float = 0.99
    penalties: bool = False  # shaped form: add min(0, C(s, a))

    @property
    def default_scale(self) -> float:
        """How the agent wrapper scales this model's (normalised) rewards unless told otherwise."""
        return 0.1

    def outputs(self, images: np.ndarray, channels_first: bool = False) -> torch.Tensor:
        """The network's outputs for a batch of observations (ensemble mean); see :meth:`rewards_from_outputs`."""
        return self._outputs(images, channels_first)

    def rewards_from_outputs(self, out: torch.Tensor | np.ndarray, out_next: torch.Tensor | np.ndarray | None,
                             actions: np.ndarray, terminated: np.ndarray | None = None) -> np.ndarray:
        """Normalised rewards from :meth:`outputs` (tensors or their numpy arrays) of ``s`` and ``s′``
        (``out_next`` unused by the action form), so a caller that sees every state twice — as ``s′`` and
        then as the next ``s`` — runs the network once per state."""
        return (self._raw_from_outputs(out, out_next, actions, terminated) - self.mean) / self.std

    def _raw_from_outputs(self, out: torch.Tensor | np.ndarray, out_next: torch.Tensor | np.ndarray | None,
                          actions: np.ndarray, terminated: np.ndarray | None) -> np.ndarray:
        """Unnormalised rewards, computed in numpy: at inference there is no graph to keep, and on the agent
        wrapper's small per-step batches numpy's few operations cost a fraction of torch's dispatch. Training
        uses the torch twin :func:`shaped_rewards`; a test keeps the two equal."""
        o = np.asarray(out)
        a = np.asarray(actions, dtype=np.int64).reshape(-1)
        rows = np.arange(len(a))
        if self.form == "action":
            return o[rows, a]
        term = np.zeros(len(a), dtype=bool) if terminated is None else np.asarray(terminated, dtype=bool).reshape(-1)
        after = np.where(term, o[rows, 1 + NUM_ACTIONS + a], np.logaddexp(0.0, np.asarray(out_next)[:, 0]))
        r = self.gamma * after - np.logaddexp(0.0, o[:, 0])
        return r + np.minimum(0.0, o[rows, 1 + a]) if self.penalties else r

    def _outputs(self, images: np.ndarray, channels_first: bool) -> torch.Tensor:
        images = np.asarray(images)
        shape = tuple(images.shape[2:] + images.shape[1:2]) if channels_first else tuple(images.shape[1:])
        if shape != tuple(self.obs_shape):
            raise NlfError(f"reward model expects observations of shape {tuple(self.obs_shape)} "
                           f"({self.obs_mode} view of {self.env_id}), got {shape}")
        x = one_hot(images, channels_first=channels_first)
        with torch.inference_mode():
            if len(self.members) == 1:
                return self.members[0](x)
            return torch.stack([m(x) for m in self.members]).mean(0)

    def raw_transitions(self, obs: np.ndarray, actions: np.ndarray, next_obs: np.ndarray,
                        terminated: np.ndarray | None = None, *, channels_first: bool = False) -> np.ndarray:
        """Unnormalised rewards of a batch of transitions ``(s, a, s′)``; ``terminated`` marks steps that
        ended their episode (goal, lava; not the time limit)."""
        if self.form == "action":
            return self._raw_from_outputs(self._outputs(obs, channels_first), None, actions, None)
        n = len(obs)
        both = self._outputs(np.concatenate([np.asarray(obs), np.asarray(next_obs)]), channels_first)
        return self._raw_from_outputs(both[:n], both[n:], actions, terminated)

    def transition_rewards(self, obs: np.ndarray, actions: np.ndarray, next_obs: np.ndarray,
                           terminated: np.ndarray | None = None, *, channels_first: bool = False) -> np.ndarray:
        """Normalised rewards of a batch of transitions (see :meth:`raw_transitions`)."""
        raw = self.raw_transitions(obs, actions, next_obs, terminated, channels_first=channels_first)
        return (raw - self.mean) / self.std

    def step_rewards(self, traj: Any) -> np.ndarray:
        """``(T,)`` normalised rewards of every step of a trajectory."""
        from nlfeedback.reward.observations import trajectory_states

        states = trajectory_states(traj, self.obs_mode)
        terminal = np.zeros(len(traj.actions), dtype=bool)
        if len(terminal):
            terminal[-1] = bool(traj.terminated)
        return self.transition_rewards(states[:-1], np.asarray(traj.actions), states[1:], terminal)

    def raw(self, images: np.ndarray, actions: np.ndarray, *, channels_first: bool = False) -> np.ndarray:
        """Unnormalised ``r(s, a)`` of an ``action``-form model: images ``(N, H, W, 3)``, actions ``(N,)``."""
        if self.form != "action":
            raise NlfError("a shaped reward model scores transitions (s, a, s′): use transition_rewards")
        return self.raw_transitions(images, actions, images, channels_first=channels_first)

    def __call__(self, images: np.ndarray, actions: np.ndarray, *, channels_first: bool = False) -> np.ndarray:
        """Normalised ``r(s, a)`` of an ``action``-form model: ``(raw − mean) / std``."""
        return (self.raw(images, actions, channels_first=channels_first) - self.mean) / self.std

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"format": CHECKPOINT_FORMAT, "obs_mode": self.obs_mode, "obs_shape": list(self.obs_shape),
                    "env_id": self.env_id, "kind": self.kind, "mean": self.mean, "std": self.std,
                    "form": self.form, "gamma": self.gamma, "penalties": self.penalties,
                    "hidden": self.members[0].head[1].out_features, "channels": list(self.members[0].channels),
                    "meta": self.meta,
                    "state_dicts": [m.state_dict() for m in self.members]}, path)

    @classmethod
    def load(cls, path: str | Path) -> RewardModel:
        ckpt = load_checkpoint(path, CHECKPOINT_FORMAT, "reward")
        h, w, _ = ckpt["obs_shape"]
        members = []
        for state in ckpt["state_dicts"]:
            # checkpoints written before the sizes were configurable used 32 channels in both layers
            m = RewardNet(h, w, ckpt["hidden"], net_outputs(ckpt["form"]), tuple(ckpt.get("channels", (32, 32))))
            m.load_state_dict(state)
            m.eval()
            members.append(m)
        return cls(members, ckpt["obs_mode"], tuple(ckpt["obs_shape"]), ckpt["env_id"], ckpt["kind"],
                   ckpt["mean"], ckpt["std"], ckpt.get("meta", {}), ckpt["form"], ckpt["gamma"], ckpt["penalties"])

    def check_task(self, env_id: str, obs_shape: tuple[int, ...]) -> None:
        """Refuse to score a task or observation shape the model was not trained for."""
        if tuple(obs_shape) != tuple(self.obs_shape):
            raise NlfError(f"reward model was trained on {self.obs_mode} observations of shape "
                           f"{tuple(self.obs_shape)} ({self.env_id}); this task gives {tuple(obs_shape)}")
        if env_id != self.env_id:
            raise NlfError(f"reward model was trained on {self.env_id}, not {env_id}")
