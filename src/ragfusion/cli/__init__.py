"""The ``ragfusion`` command line: one module per command group, composed in ``main``."""

from ragfusion.cli.main import app, main

__all__ = ["app", "main"]
