"""Shared set-up for the connection vocabulary tests."""

from __future__ import annotations

import sys
from pathlib import Path

# The tests import their hypothesis strategies from connection_strategies.py
# beside them. pytest's default import mode puts this directory on sys.path;
# --import-mode=importlib does not, so it is added here for both to work.
_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
