"""Package versions written next to every result (models, runs), so a run says what it ran with."""

from __future__ import annotations

import importlib
import platform


def package_versions(*modules: str) -> dict[str, str]:
    """``{"nlfeedback": …, "torch": …, <each of modules>: …, "python": …}`` from the modules' ``__version__``."""
    names = ("nlfeedback", "torch", *modules)
    out = {name: str(importlib.import_module(name).__version__) for name in dict.fromkeys(names)}
    out["python"] = platform.python_version()
    return out
