"""Where the project's data files live (phrase banks, ablation configs, examples)."""

from __future__ import annotations

import os
from pathlib import Path

from nlfeedback.errors import NlfError


def data_dir() -> Path:
    """``$NLF_DATA_DIR`` if set, else the repository's ``data/`` folder (editable install)."""
    env = os.environ.get("NLF_DATA_DIR")
    path = Path(env) if env else Path(__file__).resolve().parent.parent / "data"
    if not path.is_dir():
        raise NlfError(f"data folder {path} not found (set NLF_DATA_DIR to the repository's data/ folder)")
    return path
