"""Mount options: splitting them, and the one list of what is refused.

The agent and the engine both validate with ``check_options``, so nothing
the engine accepts is refused by every agent. Two kinds of options are
refused:

- *managed* ones (``MANAGED_OPTIONS``), which the agent sets itself from
  dedicated parameters (NFS ``vers`` comes from ``params.version``); letting
  a user set them too would make two infos with different options mean the
  same mount, or the same options mean different mounts;
- *dangerous* ones (``REFUSED_OPTIONS``), which would run a command as root
  on the host or talk the mount helper out of its job.
"""

from __future__ import annotations

from .errors import InvalidParameter
from .redact import SECRET_MASK

__all__ = [
    "MANAGED_OPTIONS",
    "REFUSED_OPTIONS",
    "SECRET_OPTIONS",
    "check_options",
    "option_name",
    "option_secrets",
    "redact_options",
    "split_options",
]

MANAGED_OPTIONS: dict[str, frozenset[str]] = {
    "nfs": frozenset(
        # Set from params.version, params.timeout and params.retrans.
        ["vers", "nfsvers", "minorversion", "v2", "v3", "v4", "v4.0", "v4.1", "v4.2"]
        + ["timeo", "retrans"]
        # The agent decides how I/O fails, how caches are shared and how the
        # server is reached, so that every mount of one identity behaves alike.
        + ["soft", "hard", "sharecache", "nosharecache", "lock", "nolock"]
        + ["addr", "clientaddr"]
    ),
    # Set from params.backupServers.
    "glusterfs": frozenset(["backup-volfile-servers", "backupvolfile-server"]),
}

REFUSED_OPTIONS: frozenset[str] = frozenset(
    # sshfs: each runs a program of the caller's choosing, as root.
    ["ssh_command", "ssh_protocol", "sftp_server", "directport", "passive", "slave"]
    # ssh options that sshfs passes through: they run commands or load helpers.
    + ["proxycommand", "proxyjump", "localcommand", "permitlocalcommand"]
    + ["knownhostscommand", "remotecommand", "pkcs11provider", "securitykeyprovider"]
)

# Options whose value is a secret (cifs and friends take passwords inline).
SECRET_OPTIONS: frozenset[str] = frozenset({"password", "pass", "passwd", "password2"})


def split_options(options: str | None) -> list[str]:
    """``"rw, noatime,,context=\\"a,b\\""`` gives ``["rw", "noatime", 'context="a,b"']``.

    Commas inside double quotes do not split, as in mount(8); items are
    stripped and empty ones dropped.
    """
    if not options:
        return []
    items: list[str] = []
    current: list[str] = []
    quoted = False
    for char in options:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def option_name(option: str) -> str:
    """The lower-cased name of ``name=value`` (or of a bare flag)."""
    return option.partition("=")[0].strip().lower()


def check_options(vfs_type: str, options: str | None, *, field: str) -> None:
    """Raise ``InvalidParameter(field, ...)`` if ``options`` may not be used.

    ``vfs_type`` selects the managed list (``"nfs"``, ``"glusterfs"``); a type
    without one gets only the checks that apply to every type. Messages name
    the option, never its value.
    """
    if options is None:
        return
    if any(ord(char) < 0x20 or char == "\x7f" for char in options):
        raise InvalidParameter(field, "options may not contain control characters")
    if options.count('"') % 2:
        raise InvalidParameter(field, "options have an unbalanced quote")
    managed = MANAGED_OPTIONS.get(vfs_type, frozenset())
    for option in split_options(options):
        name = option_name(option)
        if option.startswith("-"):
            raise InvalidParameter(field, "an option may not start with '-'")
        if not name:
            raise InvalidParameter(field, "an option has no name")
        if name in REFUSED_OPTIONS:
            raise InvalidParameter(
                field, f"option {_show(name)} is refused: it could run a command on the host"
            )
        if name in managed:
            raise InvalidParameter(
                field, f"option {_show(name)} is set by storconn and may not be given"
            )


def option_secrets(options: str | None) -> list[str]:
    """The values of secret options (``password=...``), for redaction."""
    found: list[str] = []
    for option in split_options(options):
        name, sep, value = option.partition("=")
        if sep and value and name.strip().lower() in SECRET_OPTIONS:
            found.append(value)
            if len(value) > 2 and value[0] == value[-1] == '"':
                found.append(value[1:-1])
    return found


def redact_options(options: str) -> str:
    """``options`` with each secret option's value replaced by the mask."""
    redacted = []
    for option in split_options(options):
        name, sep, value = option.partition("=")
        if sep and value and name.strip().lower() in SECRET_OPTIONS:
            option = f"{name}={SECRET_MASK}"
        redacted.append(option)
    return ",".join(redacted)


def _show(name: str) -> str:
    return repr(name if len(name) <= 40 else name[:40] + "...")
