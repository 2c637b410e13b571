"""The kernel's mount table, read from ``/proc/self/mountinfo``.

``os.path.ismount`` is wrong for a dead FUSE mount (stat fails with ENOTCONN),
so the agent trusts only this table for "is it mounted".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")


@dataclass(frozen=True, slots=True)
class MountEntry:
    mount_id: int
    mountpoint: str
    fstype: str
    source: str
    options: str
    super_options: str = ""  # the file system's own (tmpfs size=, nfs vers=), after the source
    device: str = ""  # "major:minor" of the file system's device (st_dev of its files)


def _unescape(field: str) -> str:
    # The kernel octal-escapes space, tab, newline and backslash in paths.
    if "\\" not in field:
        return field
    out: list[str] = []
    i = 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse(text: str) -> list[MountEntry]:
    """Parse mountinfo text; later entries stack on earlier ones at the same point."""
    entries: list[MountEntry] = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            sep = fields.index("-", 6)
        except ValueError:
            continue
        entries.append(
            MountEntry(
                mount_id=int(fields[0]),
                mountpoint=_unescape(fields[4]),
                fstype=fields[sep + 1],
                source=_unescape(fields[sep + 2]),
                options=fields[5],
                super_options=fields[sep + 3] if len(fields) > sep + 3 else "",
                device=fields[2],
            )
        )
    return entries


def _escape(path: str) -> str:
    return path.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011").replace("\n", "\\012")


def read(only: str | None = None, *, path: Path = MOUNTINFO) -> dict[str, MountEntry]:
    """Mount point → the topmost entry mounted there; with ``only``, just that mount point.

    ``only`` skips parsing the table unless the mount point is in it: the
    check every mount operation makes costs a substring search, not a parse
    of hundreds of lines.
    """
    text = path.read_text()
    if only is None:
        return {entry.mountpoint: entry for entry in parse(text)}
    return {e.mountpoint: e for e in parse(_lines_mentioning(text, only)) if e.mountpoint == only}


def _lines_mentioning(text: str, mountpoint: str) -> str:
    """The lines of ``text`` that mention ``mountpoint``, as a field.

    Only those are parsed: with hundreds of mounts a full parse costs three
    times the read itself, and every connect and disconnect checks its mount.
    """
    needle = f" {_escape(mountpoint)} "
    lines: list[str] = []
    found = text.find(needle)
    while found != -1:
        begin = text.rfind("\n", 0, found) + 1
        end = text.find("\n", found)
        end = len(text) if end == -1 else end
        lines.append(text[begin:end])
        found = text.find(needle, end)
    return "\n".join(lines)


def stack(mountpoint: str, *, path: Path = MOUNTINFO) -> list[MountEntry]:
    """Every entry mounted at ``mountpoint``, bottom first: the last one is what a path lookup sees."""
    return [e for e in parse(_lines_mentioning(path.read_text(), mountpoint)) if e.mountpoint == mountpoint]


def loop_backing_file(device: str) -> str | None:
    """The file behind a loop device (``/dev/loop3``), from sysfs; None if it is not one."""
    name = device.rsplit("/", 1)[-1]
    if not device.startswith("/dev/loop") or not name[4:].isdigit():
        return None
    try:
        return Path(f"/sys/block/{name}/loop/backing_file").read_text().strip() or None
    except OSError:
        return None
