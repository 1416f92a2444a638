"""The ``nlf`` command line: thin typer wrappers over :mod:`nlfeedback`."""
