"""fixenv: make Python.h reachable for the Python you actually run, and prove it."""
from __future__ import annotations

__version__ = "0.1.0"
