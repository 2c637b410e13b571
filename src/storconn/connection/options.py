"""Mount options: splitting them, and the one list of what is refused.

The agent and the engine both validate with ``check_options``, so nothing
the engine accepts is refused by every agent. Two kinds of options are
refused:

- *managed* ones (``MANAGED_OPTIONS``), which the agent sets itself from
  dedicated parameters (NFS ``vers`` comes from ``params.version``); letting
  a user set them too would make two infos with different options mean the
  same mount, or the same options mean different mounts;
- *dangerous* ones (``REFUSED_OPTIONS``, ``REFUSED_PREFIXES``), which would
  run a command as root on the host, mount a host path under the mount root
  (``bind``, ``X-mount.*``), make a helper write or read a file of the
  caller's choosing (glusterfs ``log-file``, ssh ``ControlPath``), or talk
  the mount helper out of its job.

Some types have rules of their own: glusterfs accepts only the options its
helper knows (``GLUSTERFS_OPTIONS``, values without spaces or globs: the
helper is a shell script that splits words), and sshfs accepts the ssh
options that name files only in a safe form (``UserKnownHostsFile=/dev/null``,
``IdentityFile=`` an absolute path). ``docs/mount-types.md`` has the list.
"""

from __future__ import annotations

import re

from .errors import InvalidParameter
from .paths import normalize_path
from .redact import SECRET_MASK

__all__ = [
    "MANAGED_OPTIONS",
    "GLUSTERFS_OPTIONS",
    "REFUSED_OPTIONS",
    "REFUSED_PREFIXES",
    "SECRET_OPTIONS",
    "check_options",
    "is_refused",
    "option_name",
    "option_problem",
    "option_secrets",
    "redact_options",
    "refusal_reason",
    "split_options",
]

MANAGED_OPTIONS: dict[str, frozenset[str]] = {
    # Exactly what oVirt manages (its engine refuses these in custom mount
    # options): set from params.version, params.timeout and params.retrans,
    # and the addresses, which the kernel derives from the export. Other
    # flags oVirt passes through (soft, nosharecache, nolock, ...) come after
    # the agent's defaults, so the administrator's word wins.
    "nfs": frozenset(
        ["vers", "nfsvers", "protocol_version", "minorversion", "v2", "v3", "v4", "v4.0", "v4.1", "v4.2"]
        + ["timeo", "retrans"]
        + ["addr", "clientaddr"]
    ),
    # Set from params.backupServers.
    "glusterfs": frozenset(["backup-volfile-servers", "backupvolfile-server"]),
}

_RUNS_A_COMMAND = "it could run a command on the host"
_EXPOSES_HOST = "it would mount or change host paths and mounts"
_NAMES_A_FILE = "it makes the helper read or write a host file of the caller's choosing"
_OPENS_THE_HOST = "it would reuse or open connections into the host"
_UNSAFE_FILES = "it lets set-user-id files or device nodes of the storage act on the host"

# Each refused option with the reason its error gives.
_REFUSED: dict[str, str] = {
    # sshfs: each runs a program of the caller's choosing, as root; ssh
    # options that sshfs passes through and that run commands or load code;
    # Include and Match read configuration (ProxyCommand) from any file;
    # mount.fuse's setuid runs the helper through su.
    **dict.fromkeys(
        ["ssh_command", "ssh_protocol", "sftp_server", "directport", "passive", "slave"]
        + ["proxycommand", "proxyjump", "localcommand", "permitlocalcommand"]
        + ["knownhostscommand", "remotecommand", "pkcs11provider", "securitykeyprovider"]
        + ["include", "match", "xauthlocation", "forwardx11", "forwardx11trusted"]
        + ["setuid", "drop_privileges", "helper", "uhelper"],
        _RUNS_A_COMMAND,
    ),
    # ssh: another user's multiplexed connection or agent, forwards and
    # tunnels into the host; a host name other than the spec's would make
    # the identity lie.
    **dict.fromkeys(
        ["controlpath", "controlmaster", "controlpersist", "identityagent", "forwardagent"]
        + ["localforward", "remoteforward", "dynamicforward", "gatewayports", "tunnel"]
        + ["tunneldevice", "hostname"],
        _OPENS_THE_HOST,
    ),
    # ssh and sshfs files read as root; glusterfs files written or read as
    # root, and raw options for its translators and for FUSE.
    **dict.fromkeys(
        ["certificatefile", "revokedhostkeys", "uidfile", "gidfile"]
        + ["log-file", "volfile", "dump-fuse", "xlator-option", "fuse-mountopts"],
        _NAMES_A_FILE,
    ),
    # mount(8): bind mounts and moves put host paths under the mount root,
    # remount changes a mount the agent may not own, propagation flags
    # change the host's mount tree.
    **dict.fromkeys(
        ["bind", "rbind", "move", "remount", "shared", "rshared", "private", "rprivate"]
        + ["rslave", "unbindable", "runbindable"],
        _EXPOSES_HOST,
    ),
    # Every local user could run the storage's set-user-id files.
    **dict.fromkeys(["suid", "dev"], _UNSAFE_FILES),
}

REFUSED_OPTIONS: frozenset[str] = frozenset(_REFUSED)
"""Option names refused for every type (lower-cased); ``option_problem`` says why."""

# Refused by prefix: mount(8)'s make-* propagation operations, and x-*/X-mount.*
# options for userspace helpers (X-mount.mkdir creates host directories,
# X-mount.owner chowns them, X-mount.subdir mounts a subtree elsewhere).
REFUSED_PREFIXES: tuple[str, ...] = ("make-", "x-")

# ssh options naming a file ssh writes (known hosts: ssh appends the server's
# key there) are accepted only with the one value that writes nothing.
_ONLY_DEV_NULL = frozenset({"userknownhostsfile", "globalknownhostsfile"})
# ssh options naming a file ssh only reads: an absolute path without '..', '%'
# or '~' tokens; sshfs mounts in the tests give their key this way.
_READ_PATHS = frozenset({"identityfile"})

# mount.glusterfs builds the client's command line by word splitting and
# exits on any option it does not know: only the options below are accepted,
# with values free of spaces, globs and quotes. Left out on purpose:
# volume-id, volfile-id, subdir-mount, volume-name (they mount something else
# than the spec says), io-engine, no-root-squash and root-squash.
GLUSTERFS_OPTIONS: frozenset[str] = frozenset(
    ["ro", "rw", "acl", "selinux", "worm", "mem-accounting", "aux-gfid-mount", "thin-client"]
    + ["resolve-gids", "global-threading", "localtime-logging", "nofail", "auto", "noauto"]
    + ["_netdev", "async", "sync", "dirsync", "mand", "nomand", "silent", "loud"]
    + ["iversion", "noiversion", "atime", "noatime", "diratime", "nodiratime", "relatime"]
    + ["norelatime", "strictatime", "nostrictatime", "lazyatime", "nolazyatime"]
    + ["nodev", "exec", "noexec", "nosuid", "auto_unmount", "fopen-keep-cache"]
    + ["log-level", "transport", "direct-io-mode", "volfile-check", "server-port"]
    + ["attribute-timeout", "entry-timeout", "negative-timeout", "gid-timeout", "lru-limit"]
    + ["invalidate-limit", "background-qlen", "fetch-attempts", "congestion-threshold"]
    + ["oom-score-adj", "use-readdirp", "event-history", "reader-thread-count"]
    + ["auto-invalidation", "kernel-writeback-cache", "attr-times-granularity"]
    + ["fuse-flush-handle-interrupt", "fuse-dev-eperm-ratelimit-ns", "context", "fscontext"]
    + ["defcontext", "rootcontext", "halo-max-latency", "halo-max-replicas"]
    + ["halo-min-replicas", "process-name"]
)
_GLUSTER_VALUE = re.compile(r"[A-Za-z0-9_.:+-]*")
_LOOP_DEVICE = re.compile(r"/dev/loop[0-9]+")

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

    ``vfs_type`` selects the type's own rules: ``"nfs"`` and ``"glusterfs"``
    their managed lists, ``"glusterfs"`` its allow-list, ``"fuse.sshfs"`` the
    ssh options naming files; any other type gets the rules that apply to
    every type. Messages name the option, never its value.
    """
    if options is None:
        return
    if any(ord(char) < 0x20 or char == "\x7f" for char in options):
        raise InvalidParameter(field, "options may not contain control characters")
    if options.count('"') % 2:
        raise InvalidParameter(field, "options have an unbalanced quote")
    for option in split_options(options):
        problem = option_problem(vfs_type, option)
        if problem:
            raise InvalidParameter(field, problem)


def option_problem(vfs_type: str, option: str) -> str | None:
    """Why one option (an item of ``split_options``) is refused for ``vfs_type``, or None."""
    name = option_name(option)
    if option.startswith("-"):
        return "an option may not start with '-'"
    if not name:
        return "an option has no name"
    why = refusal_reason(name)
    if why:
        return f"option {_show(name)} is refused: {why}"
    if name in MANAGED_OPTIONS.get(vfs_type, frozenset()):
        return f"option {_show(name)} is set by storconn and may not be given"
    value = option.partition("=")[2]
    if name == "loop" and value and not _LOOP_DEVICE.fullmatch(value):
        return "option 'loop' takes no value or a /dev/loopN device"
    if vfs_type == "glusterfs":
        return _gluster_problem(name, value)
    if vfs_type == "fuse.sshfs":
        return _ssh_problem(name, value)
    return None


def is_refused(name: str) -> bool:
    """Whether the lower-cased option ``name`` is refused for every type."""
    return refusal_reason(name) is not None


def refusal_reason(name: str) -> str | None:
    """Why the lower-cased option ``name`` is refused for every type, or None."""
    if name in _REFUSED:
        return _REFUSED[name]
    if name.startswith("make-"):
        return _EXPOSES_HOST
    if name.startswith("x-"):
        return "x-* and X-mount.* options make mount(8) create, chown or mount host paths"
    return None


def _gluster_problem(name: str, value: str) -> str | None:
    if name not in GLUSTERFS_OPTIONS:
        return f"option {_show(name)} is not a glusterfs option storconn accepts"
    if not _GLUSTER_VALUE.fullmatch(value):
        return f"the value of option {_show(name)} may hold only letters, digits and _ . : + -"
    return None


def _ssh_problem(name: str, value: str) -> str | None:
    if name in _ONLY_DEV_NULL and value != "/dev/null":
        return f"option {_show(name)} is accepted only as /dev/null: ssh writes to that file"
    if name in _READ_PATHS:
        if not value.startswith("/") or any(c in value for c in "%~\"' ") or ".." in value.split("/"):
            return f"option {_show(name)} must be an absolute path without '..', '%', '~', quotes or spaces"
        if normalize_path(value) != value:
            return f"option {_show(name)} must be a normalized path"
    return None


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
