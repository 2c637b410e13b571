"""What the figures were measured on: they mean little without it."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

from storconn.agent.system import mountinfo


def _uname() -> str:
    try:
        return subprocess.run(
            ["uname", "-srm"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        uname = platform.uname()
        return f"{uname.system} {uname.release} {uname.machine}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown memory"


def _file_system(path: Path) -> str:
    """The file system holding ``path``: fsync costs nothing on tmpfs and a lot on a slow disk."""
    best: mountinfo.MountEntry | None = None
    target = str(path.resolve())
    for point, entry in mountinfo.read().items():
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) > len(best.mountpoint)):
            best = entry
    if best is None:
        return "unknown file system"
    return f"{best.fstype} on {best.source}"


def describe(temp_root: Path) -> list[tuple[str, str]]:
    """(label, value) pairs for the header of the table."""
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return [
        ("machine", _uname()),
        ("CPU", f"{_cpu_model()}, {os.cpu_count()} cores"),
        ("memory", _memory()),
        ("disk", f"{temp_root} ({_file_system(temp_root)})"),
        ("python", sys.version.split()[0]),
        ("load average", f"{load} at start"),
        ("date", datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")),
    ]
