"""What a reward model sees: MiniGrid's partial 7×7 view (egocentric) or the full grid, one-hot encoded.

The one explicit HWC→CHW conversion of the project for reward models lives here (:func:`one_hot`):
images arrive as ``(..., H, W, 3)`` uint8 ``(object, colour, state)`` triples, as the raw env gives
them, and leave as ``(..., 20, H, W)`` float32 (11 object + 6 colour + 3 state channels). Observations
that SB3 has already transposed to channels-first must be passed with ``channels_first=True``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nlfeedback.policies.checkpoint import full_grid_obs
from nlfeedback.trajectory import Trajectory, replay_steps

N_OBJECTS, N_COLORS, N_STATES = 11, 6, 3
CHANNELS = N_OBJECTS + N_COLORS + N_STATES
OBS_MODES = ("partial", "full")


def one_hot(images: np.ndarray, channels_first: bool = False) -> np.ndarray:
    """``(N, H, W, 3)`` (or ``(N, 3, H, W)`` with ``channels_first``) uint8 → ``(N, 20, H, W)`` float32."""
    x = np.asarray(images)
    if channels_first:
        x = np.moveaxis(x, 1, -1)
    x = x.astype(np.int64)
    n, h, w, _ = x.shape
    out = np.zeros((n, CHANNELS, h, w), dtype=np.float32)
    obj = np.clip(x[..., 0], 0, N_OBJECTS - 1)
    col = np.clip(x[..., 1], 0, N_COLORS - 1)
    st = np.clip(x[..., 2], 0, N_STATES - 1)
    ii, yy, xx = np.meshgrid(np.arange(n), np.arange(h), np.arange(w), indexing="ij")
    out[ii, obj, yy, xx] = 1.0
    out[ii, N_OBJECTS + col, yy, xx] = 1.0
    out[ii, N_OBJECTS + N_COLORS + st, yy, xx] = 1.0
    return out


def env_observation(env: Any, obs: dict[str, Any], mode: str) -> np.ndarray:
    """The ``(H, W, 3)`` image a reward model of ``mode`` sees in this state."""
    return np.asarray(obs["image"], dtype=np.uint8) if mode == "partial" else full_grid_obs(env)


_CACHE: dict[tuple[str, str], np.ndarray] = {}


def trajectory_states(traj: Trajectory, mode: str = "partial") -> np.ndarray:
    """``(T+1, H, W, 3)`` uint8: every observation of ``traj``, the final one included (by replay; cached)."""
    if mode not in OBS_MODES:
        raise ValueError(f"obs mode must be one of {OBS_MODES}, got {mode!r}")
    key = (traj.id, mode)
    if key not in _CACHE:
        frames = [env_observation(st.env.unwrapped, st.obs, mode) for st in replay_steps(traj)]
        _CACHE[key] = np.stack(frames).astype(np.uint8)
        if len(_CACHE) > 20_000:
            _CACHE.clear()
    return _CACHE[key]


def trajectory_observations(traj: Trajectory, mode: str = "partial") -> np.ndarray:
    """``(T, H, W, 3)`` uint8: the observation before each action of ``traj``."""
    return trajectory_states(traj, mode)[:-1]
