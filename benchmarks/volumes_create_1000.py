"""volumes_create_1000: create 1,000 sparse volumes with the ``db`` persistence on SQLite, vs truncate + commit.

``Backend.create_volume(size=1)`` on a ``file`` backend whose share is a
local directory (``localfs``: the agent links it, nothing is mounted),
persisting to SQLite through the ``db`` plugin (SQLAlchemy, WAL,
``synchronous=FULL``). A create records the volume (``creating``), makes
the sparse file, and records it ``available``: two durable commits.

The limit does the least the same result needs: one sparse 1 GiB file
(``open(O_CREAT)`` + ``ftruncate``, what ``truncate -s 1G`` does, without
spawning a process) and one ``INSERT`` + ``COMMIT`` of a row holding the
volume's JSON, on a bare SQLite file beside the library's, configured as
it is (WAL, ``synchronous=FULL``). Target ≤ 2×: room for the second commit.

Ten interleaved rounds of 100 creates a side; the figure is the total
time of the 1,000.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

from .report import Row
from .timing import Samples, timed
from .volumes_rig import db_persistence_problem, library_problem, reset_library, skipped, use_library
from .workspace import BareStore, Workspace

NAME = "volumes_create_1000"
DESCRIPTION = "create 1,000 sparse volumes with the db persistence on SQLite vs 1,000 × (truncate + one SQLite commit)"
TARGET = 2.0
COUNT = 1000
ROUNDS = 10
DIAGNOSIS = 50
GIB = 1024**3


def run(work: Workspace) -> list[Row]:
    problem = library_problem() or db_persistence_problem()
    if problem:
        return [skipped(NAME, "s", TARGET, problem)]
    import storconn.volumes as cl

    process = work.agent()
    database = work.dir("db") / "volumes.db"
    use_library(
        process.url,
        process.state_dir / "token",
        {"storage": "db", "connection": f"sqlite:///{database}", "key_file": str(work.dir("db") / "key")},
    )
    share = work.dir("share")
    bare_dir = work.dir("bare-files")
    bare = BareStore(work.dir("bare") / "bare.sqlite")
    per_round = COUNT // ROUNDS
    library_times: list[float] = []
    bare_times: list[float] = []
    try:
        backend = cl.Backend("bench-create", volume_driver="file", share=f"localfs://{share}")
        backend.create_volume(size=1).delete()  # warm-up: the schema, the share's link, the first file

        def library_round() -> float:
            started = time.perf_counter()
            for _ in range(per_round):
                backend.create_volume(size=1)
            return time.perf_counter() - started

        def bare_round() -> float:
            started = time.perf_counter()
            for _ in range(per_round):
                _bare_create(bare, bare_dir)
            return time.perf_counter() - started

        for number in range(ROUNDS):
            if number % 2 == 0:
                library_times.append(library_round())
                bare_times.append(bare_round())
            else:
                bare_times.append(bare_round())
                library_times.append(library_round())
        made = len(backend.volumes)
        if made != COUNT:
            raise RuntimeError(f"{made} volumes in the persistence after {COUNT} creates")
        files = sum(1 for p in _share_root(backend).iterdir() if p.name.startswith("volume-"))
        if files != COUNT:
            raise RuntimeError(f"{files} volume files on the share after {COUNT} creates")
        # For the diagnosis: one write of a volume record (a create makes two), and one bare commit.
        record = backend.volumes[0]._record
        writes = Samples()
        commits = Samples()
        for n in range(DIAGNOSIS):
            writes.add(timed(lambda: cl.Backend.persistence.set_volume(record))[0])
            commits.add(timed(lambda: bare.insert([(f"diag-{n}", "{}")]))[0])
        backend.destroy()
    finally:
        bare.close()
        reset_library()

    figure, limit = sum(library_times), sum(bare_times)
    return [
        Row(
            NAME,
            figure,
            limit,
            "s",
            target=TARGET,
            note=(
                f"Backend.create_volume(size=1) ×{COUNT} on a localfs share, db persistence on SQLite, vs "
                f"{COUNT} × (sparse 1 GiB file + INSERT+COMMIT, WAL, synchronous=FULL); "
                f"{figure / COUNT * 1000:.3g} vs {limit / COUNT * 1000:.3g} ms a volume; "
                f"{ROUNDS} interleaved rounds of {per_round}; a create writes its record twice "
                f"(creating, available): one set_volume {writes.median * 1000:.3g} ms vs one bare commit "
                f"{commits.median * 1000:.3g} ms"
            ),
        )
    ]


def _bare_create(bare: BareStore, directory: Path) -> None:
    volume_id = str(uuid.uuid4())
    fd = os.open(directory / f"volume-{volume_id}", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o660)
    try:
        os.ftruncate(fd, GIB)
    finally:
        os.close(fd)
    row = {"id": volume_id, "size": 1, "status": "available", "name": "", "format": "raw", "backend": "bare"}
    bare.insert([(volume_id, json.dumps(row, sort_keys=True))])


def _share_root(backend: object) -> Path:
    return Path(backend.driver.store.root)  # type: ignore[attr-defined]
