"""The benchmark suite behind ``make bench``.

Every benchmark measures one figure of the agent and, in the same run and on
the same disk, the limit it is judged against: what the machine itself needs
for the same work (a bare SQLite commit, a bare ``json.dumps``, raw ``mount``
calls) or a fixed budget. Speed is reported, never asserted: a missed target
shows in the table, and only a benchmark that crashes makes the run fail.

    .venv/bin/python -m benchmarks                       # all of them
    .venv/bin/python -m benchmarks --only acquire_one    # one
    .venv/bin/python -m benchmarks --markdown docs/benchmarks.md

Each module holds one benchmark with ``NAME``, ``DESCRIPTION`` and
``run(workspace) -> list[Row]``; :mod:`benchmarks.__main__` lists them.
"""

from __future__ import annotations

from .report import Row
from .workspace import Workspace

__all__ = ["Row", "Workspace"]
