"""Package versions written next to every result (models, runs), so a run says what it ran with."""

from __future__ import annotations

import hashlib
import importlib
import platform
import subprocess
from functools import lru_cache
from pathlib import Path


def package_versions(*modules: str) -> dict[str, str]:
    """``{"nlfeedback": …, "torch": …, <each of modules>: …, "python": …}`` from the modules' ``__version__``."""
    names = ("nlfeedback", "torch", *modules)
    out = {name: str(importlib.import_module(name).__version__) for name in dict.fromkeys(names)}
    out["python"] = platform.python_version()
    return out


@lru_cache(maxsize=1)
def source_revision() -> str | None:
    """The git commit of the nlfeedback checkout this runs from, ``+dirty`` if tracked files differ from
    it; ``None`` outside a git checkout (an installed wheel) or without git."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def file_sha256(path: str | Path) -> str:
    """A file's SHA-256, as hex digits (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_digest(path: str | Path) -> str:
    """The first 16 hex digits of a file's SHA-256 (which model file a run used)."""
    return file_sha256(path)[:16]
