"""Finding and signalling a daemon together with the children it forked."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def descendants(pid: int) -> list[int]:
    """``pid``'s children, grandchildren, ... as the kernel's parent links say now."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def signal_tree(process: subprocess.Popen[bytes], signum: int) -> None:
    for pid in [process.pid, *descendants(process.pid)]:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def stop(process: subprocess.Popen[bytes], signum: int = signal.SIGTERM, *, timeout: float = 10.0) -> None:
    """Signal the whole tree, wait, SIGKILL what is left; returns once ``process`` is reaped."""
    if process.poll() is not None:
        return
    signal_tree(process, signal.SIGCONT)
    signal_tree(process, signum)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        signal_tree(process, signal.SIGKILL)
        process.wait(timeout=timeout)


def wait_for(condition: object, *, timeout: float, interval: float = 0.02, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not met within {timeout} s")


class Daemon:
    """A server a fixture started: crash it, hang it, let it go on."""

    process: subprocess.Popen[bytes] | None = None

    def kill(self) -> None:
        """SIGKILL to it and its children, as a crash would; returns once it is reaped."""
        assert self.process is not None
        stop(self.process, signal.SIGKILL)

    def pause(self) -> None:
        """SIGSTOP everything: a hung server, not a dead one."""
        assert self.process is not None
        signal_tree(self.process, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        signal_tree(self.process, signal.SIGCONT)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None
