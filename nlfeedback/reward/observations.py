"""What a reward model sees: MiniGrid's partial 7×7 view (egocentric) or the full grid, one-hot encoded.

The one explicit HWC→CHW conversion of the project for reward models lives here (:func:`one_hot`):
images arrive as ``(..., H, W, 3)`` uint8 ``(object, colour, state)`` triples, as the raw env gives
them, and leave as ``(..., 20, H, W)`` float32 tensors (11 object + 6 colour + 3 state channels). Observations
that SB3 has already transposed to channels-first must be passed with ``channels_first=True``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from nlfeedback.policies.checkpoint import full_grid_obs
from nlfeedback.trajectory import Trajectory, checked_replay_steps, replay_key

N_OBJECTS, N_COLORS, N_STATES = 11, 6, 3
CHANNELS = N_OBJECTS + N_COLORS + N_STATES
OBS_MODES = ("partial", "full")


_OFFSETS = torch.tensor([0, N_OBJECTS, N_OBJECTS + N_COLORS])
_LAST = torch.tensor([N_OBJECTS - 1, N_COLORS - 1, N_STATES - 1])


def one_hot(images: np.ndarray, channels_first: bool = False) -> torch.Tensor:
    """``(N, H, W, 3)`` (or ``(N, 3, H, W)`` with ``channels_first``) uint8 → ``(N, 20, H, W)`` float32 tensor.

    Out-of-range codes are clipped into range. The result is a channels-last view (torch's convolutions
    take it as it is); one scatter, since the agent wrapper calls this on every environment step."""
    x = torch.from_numpy(np.ascontiguousarray(images)).long()
    if channels_first:
        x = x.permute(0, 2, 3, 1)
    x = torch.minimum(x.clamp(min=0), _LAST) + _OFFSETS
    out = torch.zeros(*x.shape[:3], CHANNELS)
    out.scatter_(3, x, 1.0)
    return out.permute(0, 3, 1, 2)


def env_observation(env: Any, obs: dict[str, Any], mode: str) -> np.ndarray:
    """The ``(H, W, 3)`` image a reward model of ``mode`` sees in this state."""
    return np.asarray(obs["image"], dtype=np.uint8) if mode == "partial" else full_grid_obs(env)


_CACHE: dict[tuple[object, str], np.ndarray] = {}


def trajectory_states(traj: Trajectory, mode: str = "partial") -> np.ndarray:
    """``(T+1, H, W, 3)`` uint8: every observation of ``traj``, the final one included (by replay, checked
    against ``obs_digest`` in the same pass: :class:`~nlfeedback.errors.ReplayMismatch` if it differs; cached
    by the record's content, so the check costs nothing the second time)."""
    if mode not in OBS_MODES:
        raise ValueError(f"obs mode must be one of {OBS_MODES}, got {mode!r}")
    key = (replay_key(traj), mode)
    if key not in _CACHE:
        frames = [env_observation(st.env.unwrapped, st.obs, mode) for st in checked_replay_steps(traj)]
        _CACHE[key] = np.stack(frames).astype(np.uint8)
        if len(_CACHE) > 20_000:
            _CACHE.clear()
    return _CACHE[key]


def trajectory_observations(traj: Trajectory, mode: str = "partial") -> np.ndarray:
    """``(T, H, W, 3)`` uint8: the observation before each action of ``traj``."""
    return trajectory_states(traj, mode)[:-1]
