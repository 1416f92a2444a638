"""nlfeedback: learn reward functions from natural-language feedback and compare feedback kinds.

The library never imports the CLI (``cli/``); every CLI command is a thin wrapper over a function here.
"""

__version__ = "0.1.0"
