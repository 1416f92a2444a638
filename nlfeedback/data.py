"""Where the project's files live: package data (phrase banks, the shipped checkpoint) and the
repository's ``data/`` folder (ablation configs, human data, stored results; not installed)."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from nlfeedback.errors import NlfError


def resource(*parts: str) -> Path:
    """A file installed with the package under ``nlfeedback/resources/`` (phrase banks, the shipped
    checkpoint), found with :func:`importlib.resources.files`: ``resource("phrasebanks", "train.toml")``."""
    ref = files("nlfeedback").joinpath("resources", *parts)
    if not isinstance(ref, Path):  # an install that is not a plain folder (a zip): torch and tomllib need a file
        raise NlfError(f"nlfeedback's package data is not on the file system ({ref}); install nlfeedback unpacked")
    return ref


def data_dir() -> Path:
    """``$NLF_DATA_DIR`` if set, else the repository's ``data/`` folder (editable install)."""
    env = os.environ.get("NLF_DATA_DIR")
    path = Path(env) if env else Path(__file__).resolve().parent.parent / "data"
    if not path.is_dir():
        raise NlfError(f"data folder {path} not found (set NLF_DATA_DIR to the repository's data/ folder)")
    return path
