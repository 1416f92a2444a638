"""Reading the project's torch checkpoints with clear errors (missing, unreadable, wrong format)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nlfeedback.errors import NlfError


def load_checkpoint(path: str | Path, fmt: str, what: str, missing_hint: str = "") -> dict[str, Any]:
    """The checkpoint dict at ``path`` whose ``format`` is ``fmt``; otherwise an :class:`NlfError`."""
    import torch

    path = Path(path)
    if not path.exists():
        raise NlfError(f"{path}: no {what} checkpoint at this path{missing_hint}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
        raise NlfError(f"{path}: not a readable checkpoint ({e})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != fmt:
        raise NlfError(f"{path}: not an nlfeedback {what} checkpoint (format {fmt})")
    return ckpt
