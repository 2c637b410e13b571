"""volumes_attach_block: attach + detach of one ``block`` volume through the library, vs bare losetup.

The share (a tmpfs through a posixfs share, mounted by the agent) is
connected before timing starts: the backend holds it, and the volume is
connected once (``Volume.connect``). Each round then times
``Connection.attach(device_type="block")`` followed by
``Connection.detach()``: two library calls, each one JSON-RPC call to the
agent, which makes the loop device over the volume's file and removes it.
The limit is what the machine needs for the same device:
``losetup --find --show FILE`` then ``losetup -d DEV`` on the same file.
Target ≤ 1.5×: the agent's bookkeeping (recording each step durably,
checking the backing file) must stay within half of two losetup runs.

Rounds are interleaved (library, bare, library, ...; which goes first
alternates) and the figure is the median of each side.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .report import Row
from .timing import Samples, interleave, timed
from .volumes_rig import agent_volumes_problem, library_problem, reset_library, skipped, use_library
from .workspace import BareStore, Workspace

NAME = "volumes_attach_block"
DESCRIPTION = "attach + detach of one block volume on a connected tmpfs share vs losetup --find --show + losetup -d"
TARGET = 1.5
ROUNDS = 100
WARMUP = 5
COMMAND_TIMEOUT = 30.0


def run(work: Workspace) -> list[Row]:
    if os.geteuid() != 0:
        return [skipped(NAME, "ms", TARGET, "needs root: mounts and loop devices")]
    if shutil.which("losetup") is None:
        return [skipped(NAME, "ms", TARGET, "losetup (util-linux) is not installed")]
    problem = library_problem()
    if problem:
        return [skipped(NAME, "ms", TARGET, problem)]

    import storconn.volumes as cl

    process = work.agent()
    client = process.client()
    try:
        problem = agent_volumes_problem(client)
        if problem:
            return [skipped(NAME, "ms", TARGET, problem)]
        use_library(process.url, process.state_dir / "token")
        share = {
            "type": "posixfs",
            "params": {"spec": f"bench-block-{work.root.name[-8:]}", "vfsType": "tmpfs", "options": "size=64m"},
        }
        backend = cl.Backend("bench-block", volume_driver="file", share=share)
        volume = backend.create_volume(size=1)
        connection = volume.connect(cl.get_connector_properties())
        backing = _volume_file(backend, volume)
        devices: list[str] = []
        split = {"attach": Samples(), "detach": Samples()}
        # For the diagnosis: one durable SQLite commit on this disk, which the agent's store pays per step.
        commit = BareStore(work.dir("bare") / "bare.sqlite")

        def library(_: int) -> None:
            seconds, device = timed(lambda: connection.attach(device_type="block"))
            assert isinstance(device, dict)
            if device.get("type") != "block" or not str(device.get("path", "")).startswith("/dev/loop"):
                raise RuntimeError(f"attach did not give a loop device: {device}")
            devices.append(str(device["path"]))
            split["attach"].add(seconds)
            split["detach"].add(timed(connection.detach)[0])

        def bare_commit(n: int) -> None:
            commit.insert([(f"row-{n}", "{}")])

        def bare(_: int) -> None:
            found = _losetup("--find", "--show", str(backing)).strip()
            _losetup("-d", found)

        try:
            samples = interleave(ROUNDS, {"library": library, "bare": bare, "commit": bare_commit}, warmup=WARMUP)
        finally:
            commit.close()
            connection.detach(force=True, ignore_errors=True)
            connection.disconnect(force=True)
            volume.delete()
            backend.destroy()
        left = _loops_over(backing)
        if left:
            raise RuntimeError(f"loop devices left over {backing}: {left}")
    finally:
        client.close()
        reset_library()

    lib, raw = samples["library"], samples["bare"]
    ms = 1000.0
    return [
        Row(
            NAME,
            lib.median * ms,
            raw.median * ms,
            "ms",
            target=TARGET,
            note=(
                f"Connection.attach(device_type='block') + detach() vs losetup --find --show + losetup -d "
                f"on the same 1 GiB sparse file, memory persistence, medians of {ROUNDS} interleaved; "
                f"p99 {lib.p99 * ms:.3g} vs {raw.p99 * ms:.3g} ms; "
                f"{len(set(devices))} distinct loop devices used; split: attach {split['attach'].median * ms:.3g}, "
                f"detach {split['detach'].median * ms:.3g} ms; one bare durable SQLite commit here "
                f"{samples['commit'].median * ms:.3g} ms"
            ),
        )
    ]


def _volume_file(backend: object, volume: object) -> Path:
    """The volume's file on the share, as the backend's own mount of it shows it."""
    store = backend.driver.store  # type: ignore[attr-defined]
    return Path(store.path_of(volume.provider_location))  # type: ignore[attr-defined]


def _losetup(*args: str) -> str:
    result = subprocess.run(
        ["losetup", *args], capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"losetup {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def _loops_over(backing: Path) -> list[str]:
    result = subprocess.run(
        ["losetup", "--noheadings", "--output", "NAME", "--associated", str(backing)],
        capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False,
    )
    return result.stdout.split()
