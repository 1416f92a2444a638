"""What a person is shown: every state of a trajectory, rebuilt by replay and checked against its digest.

``replay_frames(traj)`` gives one :class:`Frame` per state (``T + 1`` of them: state 0 is the reset,
state ``k`` the state after ``k`` actions) with the terminal rendering of ``nlf show`` (glyph rows),
what the agent carries, and the action and caption that led to it. With ``rgb=True`` it also returns
MiniGrid's RGB rendering of each state (``(H, W, 3)`` uint8) for the browser.

A replay that does not reproduce the recorded observations raises :class:`ReplayMismatch`: a person
must never be asked about an episode other than the one the feedback will be filed under.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from nlfeedback.envs.render import carrying_text, render_grid
from nlfeedback.envs.tasks import ACTION_NAMES
from nlfeedback.errors import ReplayMismatch
from nlfeedback.trajectory import ObsDigest, Trajectory, replay_steps

GlyphRows = list[list[tuple[str, "str | None"]]]


@dataclass(frozen=True)
class Frame:
    """State ``step`` of a trajectory (0 = start): glyph rows, what is carried, how we got here."""

    step: int
    grid: GlyphRows
    carrying: str
    action: str | None  # the action that led here (None at the start)
    caption: str  # "start" at step 0


def replay_frames(traj: Trajectory, *, rgb: bool = False) -> tuple[list[Frame], list[np.ndarray] | None]:
    """All ``len(traj) + 1`` frames of ``traj`` (and RGB images when ``rgb``); checks ``obs_digest``."""
    frames: list[Frame] = []
    images: list[np.ndarray] | None = [] if rgb else None
    digest = ObsDigest()
    overrides = {"render_mode": "rgb_array"} if rgb else {}
    for st in replay_steps(traj, **overrides):
        digest.update(st.obs)
        action = None if st.step == 0 else ACTION_NAMES[traj.actions[st.step - 1]]
        caption = "start" if st.step == 0 else traj.captions[st.step - 1]
        frames.append(Frame(st.step, render_grid(st.env), carrying_text(st.env), action, caption))
        if images is not None:
            images.append(np.array(st.env.render(), dtype=np.uint8))
    if digest.hexdigest() != traj.obs_digest:
        raise ReplayMismatch(
            f"trajectory {traj.id}: observation digest mismatch on replay (actions, seed or env changed); "
            "refusing to show it for feedback"
        )
    return frames, images


def png_bytes(image: np.ndarray) -> bytes:
    """Encode an ``(H, W, 3)`` uint8 image as PNG."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()
