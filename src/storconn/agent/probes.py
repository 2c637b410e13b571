"""Health probes in child processes that the agent polls and never waits on.

A probe of a hung file system blocks in the kernel, in uninterruptible sleep,
for as long as the server does not answer. Running it in a child keeps that
out of the agent: the agent polls the child on each tick, declares the target
hung at the deadline, and starts no second probe for that target until the
first one has exited.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from storconn.connection import ErrorCode

from .system.command import child_environment

log = logging.getLogger(__name__)

# Failures after which the mount is gone for good: repair at once. A FUSE
# daemon that died leaves ENOTCONN; one that exited on a signal, ECONNABORTED.
_LOST = {errno.ENOTCONN: "ENOTCONN", errno.ECONNABORTED: "ECONNABORTED", errno.ENOENT: "ENOENT"}
_STALE = {errno.ESTALE: "ESTALE", errno.EIO: "EIO"}


@dataclass(frozen=True, slots=True)
class ProbeResult:
    healthy: bool
    code: ErrorCode = ErrorCode.OK
    message: str = ""
    repair_now: bool = False  # the target is certainly dead: do not wait for more failures


@dataclass(slots=True)
class _Running:
    process: subprocess.Popen[bytes]
    path: str
    deadline: float
    reported_hung: bool = False


class Prober:
    """One probe in flight per target key.

    The reconciler's thread starts and polls probes (``start`` outside the
    reconciler's lock, since forks are slow); ``forget`` may come from an
    operation's thread under that lock. Each touches the table of running
    probes in single dict operations, which the GIL keeps whole.
    """

    def __init__(self, *, timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._timeout = timeout
        self._clock = clock
        self._running: dict[str, _Running] = {}

    def running(self) -> bool:
        return bool(self._running)

    def busy(self, key: str) -> bool:
        return key in self._running

    def start(self, key: str, argv: Sequence[str], path: str) -> None:
        if key in self._running:
            return
        try:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
                env=child_environment(),  # never the agent's own (tokens, secrets)
            )
        except OSError as exc:
            log.error("cannot start probe %s for %s: %s", argv[0], path, exc)
            return
        self._running[key] = _Running(process, path, self._clock() + self._timeout)

    def poll(self) -> dict[str, ProbeResult]:
        """Results of probes that finished, and a HUNG result (once) for each past its deadline."""
        now = self._clock()
        results: dict[str, ProbeResult] = {}
        for key, running in list(self._running.items()):
            returncode = running.process.poll()
            if returncode is not None:
                del self._running[key]
                stderr = running.process.stderr.read() if running.process.stderr else b""
                if running.process.stderr:
                    running.process.stderr.close()
                results[key] = _interpret(returncode, stderr.decode(errors="replace"), running.path)
            elif now >= running.deadline and not running.reported_hung:
                running.reported_hung = True
                # The child may be in D state; SIGKILL takes effect when the
                # kernel lets go of it. Until then no second probe starts.
                try:
                    os.killpg(running.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                results[key] = ProbeResult(
                    healthy=False,
                    code=ErrorCode.HUNG,
                    message=f"{running.path} did not answer within {self._timeout:g} s: "
                    "the storage server is hung or unreachable",
                )
        return results

    def forget(self, key: str) -> None:
        """Stop tracking a target's probe (the target went away); the child is left to exit."""
        running = self._running.pop(key, None)
        if running is not None and running.process.poll() is None:
            try:
                os.killpg(running.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _interpret(returncode: int, stderr: str, path: str) -> ProbeResult:
    if returncode == 0:
        return ProbeResult(healthy=True)
    if returncode < 0:
        return ProbeResult(
            healthy=False,
            code=ErrorCode.HUNG,
            message=f"{path} did not answer and its probe was killed",
        )
    for number, name in _LOST.items():
        if os.strerror(number) in stderr:
            return ProbeResult(
                healthy=False,
                code=ErrorCode.CONNECTION_LOST,
                message=f"{path}: {os.strerror(number)} ({name}): the connection is gone",
                repair_now=True,
            )
    for number, name in _STALE.items():
        if os.strerror(number) in stderr:
            return ProbeResult(
                healthy=False,
                code=ErrorCode.STALE,
                message=f"{path}: {os.strerror(number)} ({name})",
            )
    detail = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit status {returncode}"
    return ProbeResult(healthy=False, code=ErrorCode.STALE, message=f"{path}: {detail}")
