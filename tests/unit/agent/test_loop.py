"""Loop devices by ioctl: real devices over files in a tmpfs (root only)."""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from storconn.agent.system import loop
from storconn.connection import ErrorCode, StorconnError
from tests.conftest import needs_root

MiB = 1024 * 1024


@pytest.fixture
def backing(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "volume"
    with path.open("wb") as file:
        file.truncate(2 * MiB)
    yield path
    for entry in Path("/sys/block").glob("loop*"):
        if loop.backing_file(entry.name) == str(path):
            try:
                loop.detach(loop.device_of(entry.name))
            except StorconnError:
                pass


def _attach(path: Path, *, read_only: bool = False) -> loop.LoopDevice:
    fd = os.open(path, os.O_RDONLY if read_only else os.O_RDWR)
    try:
        return loop.attach(fd, str(path), read_only=read_only)
    finally:
        os.close(fd)


@needs_root
def test_attach_writes_reach_the_file_and_detach_unbinds(backing: Path) -> None:
    device = _attach(backing)
    assert device.backing_file == str(backing)
    st = backing.stat()
    assert (device.st_dev, device.st_ino) == (st.st_dev, st.st_ino)
    assert Path(f"/sys/block/{device.name}/loop/autoclear").read_text().strip() == "0"
    fd = os.open(device.path, os.O_WRONLY)
    try:
        os.write(fd, b"z" * 4096)
        os.fsync(fd)
    finally:
        os.close(fd)
    assert backing.read_bytes()[:4096] == b"z" * 4096
    assert loop.find(str(backing), st.st_dev, st.st_ino) == [device]
    loop.detach(device)
    assert loop.backing_file(device.name) != str(backing)  # another test may reuse the number at once
    assert loop.find(str(backing), st.st_dev, st.st_ino) == []
    loop.detach(device)  # gone already: nothing to do


@needs_root
def test_read_only_device_refuses_writes(backing: Path) -> None:
    device = _attach(backing, read_only=True)
    assert device.read_only
    assert Path(f"/sys/block/{device.name}/ro").read_text().strip() == "1"
    with pytest.raises(OSError) as refused:
        fd = os.open(device.path, os.O_WRONLY)
        try:
            os.write(fd, b"x" * 4096)
        finally:
            os.close(fd)
    assert refused.value.errno in (errno.EPERM, errno.EROFS, errno.EACCES)
    loop.detach(device)


@needs_root
def test_set_capacity_follows_the_file(backing: Path) -> None:
    device = _attach(backing)
    with backing.open("r+b") as file:
        file.truncate(5 * MiB)
    assert loop.set_capacity(device.name) == 5 * MiB
    loop.detach(device)


@needs_root
def test_a_device_open_by_a_process_is_busy_and_cleared_on_close(backing: Path) -> None:
    device = _attach(backing)
    holder = os.open(device.path, os.O_RDONLY)
    try:
        with pytest.raises(StorconnError) as busy:
            loop.detach(device, settle=0.2)
        assert busy.value.code == ErrorCode.BUSY and "open by a process" in busy.value.message
    finally:
        os.close(holder)
    deadline = time.monotonic() + 5
    while loop.backing_file(device.name) == str(backing) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert loop.backing_file(device.name) != str(backing)  # another test may reuse the number at once


@needs_root
def test_a_reused_number_bound_to_another_file_is_left_alone(backing: Path, tmp_path: Path) -> None:
    device = _attach(backing)
    loop.detach(device)
    other = tmp_path / "other"
    with other.open("wb") as file:
        file.truncate(MiB)
    reused = _attach(other)
    try:
        stale = loop.LoopDevice(reused.name, device.backing_file, device.st_dev, device.st_ino, False)
        loop.detach(stale)  # not ours any more
        assert loop.backing_file(reused.name) == str(other)
    finally:
        loop.detach(reused)


def test_bad_names_are_refused() -> None:
    for name in ("sda", "loop", "loop1/../sda", "../loop0"):
        with pytest.raises(loop.LoopError):
            loop.device_of(name)


def test_bounded_answers_at_the_deadline_and_undoes_a_late_result() -> None:
    release = threading.Event()
    undone: list[int] = []

    def slow() -> int:
        release.wait(5)
        return 42

    started = time.monotonic()
    with pytest.raises(StorconnError) as late:
        loop.bounded(slow, 0.1, "a slow call", undo=undone.append)
    assert late.value.code == ErrorCode.TIMEOUT and time.monotonic() - started < 1
    release.set()
    deadline = time.monotonic() + 5
    while not undone and time.monotonic() < deadline:
        time.sleep(0.01)
    assert undone == [42]
    assert loop.bounded(lambda: 7, 1, "a quick call") == 7
    with pytest.raises(ZeroDivisionError):
        loop.bounded(lambda: 1 // 0, 1, "a failing call")
