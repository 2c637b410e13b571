"""Running external commands, always with a hard timeout.

Every command the agent runs goes through :func:`run`. A storage server that
hangs can leave ``mount`` or ``umount`` in an uninterruptible sleep; the
timeout kills the process group and returns, so no agent thread waits longer
than the budget it was given.

Children get a small environment of their own (:func:`child_environment`),
not the agent's: whatever the agent was started with (a ``STORCONN_*``
password, a token) would otherwise live on in every FUSE daemon for as long
as the mount stays, and the C locale keeps the tools' messages in the
English the error translation reads.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from storconn.connection import redact_text

log = logging.getLogger(__name__)

# What a mount helper, iscsiadm or ssh (under sshfs) may need from the agent's
# environment; everything else stays behind.
_PASSED_ON = ("PATH", "HOME", "TMPDIR", "TZ", "SSH_AUTH_SOCK")
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True, slots=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def message(self) -> str:
        """The command's own words about what went wrong, on one line."""
        text = (self.stderr.strip() or self.stdout.strip()).replace("\n", "; ")
        return text or f"exit status {self.returncode}"


class CommandTimeout(Exception):
    """The command did not finish within its budget and was killed."""

    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        super().__init__(f"{argv[0]} did not finish within {timeout:g} s")
        self.argv = tuple(argv)
        self.timeout = timeout


class CommandNotFound(Exception):
    """The program is not installed on this host."""


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    secrets: Iterable[str] = (),
    env: dict[str, str] | None = None,
) -> CommandResult:
    """Run ``argv`` and return its result; raise CommandTimeout after ``timeout`` seconds.

    Each command starts in a session of its own: a timeout kills the whole
    group, and daemons it forks (FUSE file systems) outlive the agent and are
    not hit by signals sent to the agent's process group. ``env`` holds
    variables added to :func:`child_environment` (a secret there is readable
    by root only, in ``/proc/PID/environ``, unlike one in ``argv``).
    """
    shown = redact_text(" ".join(argv), secrets)
    log.debug("running %s", shown)
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_environment(env),
            start_new_session=True,
            close_fds=True,
        )
    except FileNotFoundError as exc:
        raise CommandNotFound(f"{argv[0]} is not installed") from exc
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill_group(proc)
        raise CommandTimeout(argv, timeout) from exc
    return CommandResult(
        tuple(redact_text(a, secrets) for a in argv),
        proc.returncode,
        redact_text(stdout, secrets),
        redact_text(stderr, secrets),
    )


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a command runs with: a few of the agent's variables, LC_ALL=C, ``extra``."""
    env = {name: os.environ[name] for name in _PASSED_ON if name in os.environ}
    env.setdefault("PATH", _DEFAULT_PATH)
    env["LC_ALL"] = "C"
    env.update(extra or {})
    return env


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        # A process stuck in D state cannot be reaped now; leave it to the kernel
        # rather than block the caller.
        proc.communicate(timeout=0.5)
    except subprocess.TimeoutExpired:
        log.warning("process %d did not exit after SIGKILL; leaving it", proc.pid)
