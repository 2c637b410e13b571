"""volumes_iscsi_100: export + connect + disconnect of 100 volumes on one shared tgtd target, vs raw tgtadm.

A real tgtd on loopback with private ports (tests/peers/tgt.py). The
library's ``iscsi`` backend (``shared_targets=True``: one target for the
backend, the volumes its LUNs) keeps its volume files on a local
directory. For each of 100 volumes, one after the other:
``Volume.connect(connector)`` (the export: a new LUN on the shared target,
the connector's initiator name bound to the target's ACL) then
``Connection.disconnect()`` (the ACL entry and the LUN removed with the
last connection).

The limit is the same work as raw tgtadm calls on another target of the
same tgtd, on the same files: ``--mode logicalunit --op new``,
``--mode target --op bind --initiator-name``, ``--op unbind``,
``--mode logicalunit --op delete``. Target ≤ 1.5×. Rounds of 100 a side
alternate; the figure is the median round.
"""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from .report import Row
from .volumes_rig import library_problem, reset_library, skipped, use_library
from .workspace import Workspace

NAME = "volumes_iscsi_100"
DESCRIPTION = "export + connect + disconnect of 100 volumes on one shared tgtd target vs the raw tgtadm calls"
TARGET = 1.5
COUNT = 100
ROUNDS = 5
INITIATOR = "iqn.2026-11.org.storconn:bench-host"
RAW_IQN = "iqn.2026-11.org.storconn:bench-raw"
RAW_TID = 900
COMMAND_TIMEOUT = 30.0


def run(work: Workspace) -> list[Row]:
    from tests.peers import tgt

    problem = library_problem() or tgt.available() or _driver_problem()
    if problem:
        return [skipped(NAME, "s", TARGET, problem)]
    if shutil.which("tgtadm") is None:
        return [skipped(NAME, "s", TARGET, "needs tgtadm (apt-get install tgt)")]
    import storconn.volumes as cl

    bare_tgtd = getattr(tgt, "BareTgtd", None)
    if bare_tgtd is None:
        return [skipped(NAME, "s", TARGET, "needs tests/peers/tgt.BareTgtd (issue 8 part 4, not merged yet)")]
    server = bare_tgtd(work.dir("tgt"))
    process = work.agent()
    library_times: list[float] = []
    raw_times: list[float] = []
    try:
        server.start()
        use_library(process.url, process.state_dir / "token")
        backend = cl.Backend(
            "bench-iscsi",
            volume_driver="iscsi",
            share=f"localfs://{work.dir('luns')}",
            target_ip_address="127.0.0.1",
            target_port=server.port,
            tgt_control_port=server.control,
            shared_targets=True,
        )
        volumes = [backend.create_volume(size=1) for _ in range(COUNT)]
        files = [work.root / "luns" / str(v.provider_location) for v in volumes]
        connector = cl.get_connector_properties(initiator=INITIATOR)
        raw = _RawTgt(server.control)
        raw("--mode", "target", "--op", "new", "--tid", str(RAW_TID), "--targetname", RAW_IQN)
        # Warm-up, untimed: the backend's shared target is made by its first export. It also
        # checks once that a connect really exports (the LUN and the ACL entry are in tgtd).
        connection = volumes[0].connect(connector)
        shown = raw("--mode", "target", "--op", "show")
        if str(files[0]) not in shown or INITIATOR not in shown:
            raise RuntimeError(f"after connect, tgtd does not show the LUN and the ACL:\n{shown}")
        connection.disconnect()
        raw.cycle(1, files[0])

        def library_round() -> float:
            started = time.perf_counter()
            for volume in volumes:
                connection = volume.connect(connector)
                if connection.conn_info["data"]["target_lun"] < 1:
                    raise RuntimeError(f"no LUN in {connection.conn_info['data']}")
                connection.disconnect()
            return time.perf_counter() - started

        def raw_round() -> float:
            started = time.perf_counter()
            for lun, path in enumerate(files, start=1):
                raw.cycle(lun, path)
            return time.perf_counter() - started

        for number in range(ROUNDS):
            if number % 2 == 0:
                library_times.append(library_round())
                raw_times.append(raw_round())
            else:
                raw_times.append(raw_round())
                library_times.append(library_round())
        left = _luns_of_backend(raw, backend)
        if left:
            raise RuntimeError(f"LUNs left on the backend's target after the last disconnect: {left}")
        for volume in volumes:
            volume.delete()
        raw("--mode", "target", "--op", "delete", "--tid", str(RAW_TID), "--force")
        backend.destroy()
    finally:
        reset_library()
        server.stop()

    figure, limit = statistics.median(library_times), statistics.median(raw_times)
    return [
        Row(
            NAME,
            figure,
            limit,
            "s",
            target=TARGET,
            note=(
                f"{COUNT} × (Volume.connect + Connection.disconnect) on a shared target vs {COUNT} × 4 tgtadm "
                f"(LUN new, bind initiator, unbind, LUN delete), medians of {ROUNDS} interleaved rounds; "
                f"{figure / COUNT * 1000:.3g} vs {limit / COUNT * 1000:.3g} ms a volume; memory persistence"
            ),
        )
    ]


class _RawTgt:
    """``tgtadm`` against the benchmark's tgtd (its private control port), each call with a timeout."""

    def __init__(self, control: int) -> None:
        self.control = control

    def __call__(self, *args: str) -> str:
        import subprocess

        argv = ["tgtadm", "-C", str(self.control), "--lld", "iscsi", *args]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"tgtadm {' '.join(args)} failed: {(result.stdout + result.stderr).strip()}")
        return result.stdout

    def cycle(self, lun: int, path: Path) -> None:
        tid = str(RAW_TID)
        self("--mode", "logicalunit", "--op", "new", "--tid", tid, "--lun", str(lun), "--backing-store", str(path))
        self("--mode", "target", "--op", "bind", "--tid", tid, "--initiator-name", INITIATOR)
        self("--mode", "target", "--op", "unbind", "--tid", tid, "--initiator-name", INITIATOR)
        self("--mode", "logicalunit", "--op", "delete", "--tid", tid, "--lun", str(lun))


def _luns_of_backend(raw: _RawTgt, backend: Any) -> list[str]:
    """Backing stores tgtd still exports on targets other than the raw one."""
    shown = raw("--mode", "target", "--op", "show")
    left: list[str] = []
    current_tid = None
    for line in shown.splitlines():
        stripped = line.strip()
        if line.startswith("Target "):
            current_tid = int(line.split()[1].rstrip(":"))
        elif stripped.startswith("Backing store path:") and current_tid != RAW_TID:
            path = stripped.split(":", 1)[1].strip()
            if path not in ("None", ""):
                left.append(path)
    return left


def _driver_problem() -> str | None:
    try:
        from storconn.volumes.drivers import iscsi  # noqa: F401
    except ImportError:
        return "needs the iscsi volume driver (issue 8 part 4, not merged yet)"
    return None
