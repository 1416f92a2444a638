"""Where the package's own files live: package data under ``nlfeedback/resources/`` (phrase banks, the
shipped checkpoint, the bundled ablation configs). The repository's ``data/`` folder (human data, stored
results) is not installed."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from nlfeedback.errors import NlfError


def resource(*parts: str) -> Path:
    """A file installed with the package under ``nlfeedback/resources/`` (phrase banks, the shipped
    checkpoint, ablation configs), found with :func:`importlib.resources.files`: ``resource("phrasebanks", "train.toml")``."""
    ref = files("nlfeedback").joinpath("resources", *parts)
    if not isinstance(ref, Path):  # an install that is not a plain folder (a zip): torch and tomllib need a file
        raise NlfError(f"nlfeedback's package data is not on the file system ({ref}); install nlfeedback unpacked")
    return ref
