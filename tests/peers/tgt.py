"""A real iSCSI target (tgt's user-space tgtd) on 127.0.0.1, for iscsi tests. Root only.

Each server has its own portal port and its own control port (``-C N``,
the socket ``/var/run/tgtd/socket.N``), so it never touches a system tgtd
or another test's. Targets are file-backed 64 MB LUNs that accept only the
initiator address 127.0.0.1.
"""

from __future__ import annotations

import random
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .agent import free_port, is_root
from .processes import Daemon, signal_tree, stop, wait_for

TGTD = "/usr/sbin/tgtd"
CONTROL_DIR = Path("/var/run/tgtd")
LUN_SIZE = 64 * 1024 * 1024


def available() -> str | None:
    """None when tgtd, tgtadm and libiscsi's tools can run here, else the reason to skip."""
    if not is_root():
        return "needs root: tgtd"
    for tool in ("tgtd", "tgtadm", "iscsi-ls", "iscsi-inq"):
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            return f"needs {tool} (apt-get install tgt libiscsi-bin)"
    return None


@dataclass(frozen=True, slots=True)
class Target:
    tid: int
    iqn: str
    chap: tuple[str, str] | None


class TgtServer(Daemon):
    """``tgtd -f`` with private ports; ``start()`` returns once ``iscsi-ls`` lists every target."""

    def __init__(self, workdir: Path, *, port: int | None = None) -> None:
        """``port``: the portal's port, a free one unless given (clients that cannot name one use 3260)."""
        self.workdir = workdir
        self.port = port or free_port()
        self.control = _free_control_port()
        self.targets: list[Target] = []
        self.process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "tgtd.log"

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [TGTD, "-f", "--iscsi", f"portal=127.0.0.1:{self.port}", "-C", str(self.control)],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        wait_for(self._control_answers, timeout=10, what="tgtd's control socket")
        for target in self.targets:
            self._create(target)
        self.wait_ready()

    def add_target(self, iqn: str, *, chap: tuple[str, str] | None = None) -> Target:
        """A target with one 64 MB file-backed LUN; created now if the server runs."""
        target = Target(len(self.targets) + 1, iqn, chap)
        self.targets.append(target)
        if self.process is not None and self.process.poll() is None:
            self._create(target)
            self.wait_ready()
        return target

    def wait_ready(self, timeout: float = 10.0) -> None:
        wait_for(self._lists_targets, timeout=timeout, what="iscsi-ls listing the targets")

    def stop(self) -> None:
        """tgtd ignores SIGTERM: delete the targets, then the system, then wait; SIGKILL last."""
        if self.process is None:
            return
        if self.process.poll() is None:
            signal_tree(self.process, signal.SIGCONT)
            for target in self.targets:
                self._tgtadm(
                    "--op",
                    "delete",
                    "--mode",
                    "target",
                    "--tid",
                    str(target.tid),
                    "--force",
                    check=False,
                )
            self._tgtadm("--op", "delete", "--mode", "system", check=False)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                stop(self.process, signal.SIGKILL)
        for leftover in (f"socket.{self.control}", f"socket.{self.control}.lock"):
            (CONTROL_DIR / leftover).unlink(missing_ok=True)
        self.process = None



    # -- what clients use ------------------------------------------------------

    def info(
        self,
        target: Target,
        *,
        password: str | None = None,
        tpgt: int | None = None,
        iface: str | None = None,
    ) -> dict[str, Any]:
        """An iscsi ConnectionInfo for ``target``; CHAP with its account (or ``password``)."""
        wire: dict[str, Any] = {
            "portal": {"hostname": "127.0.0.1", "port": self.port},
            "iqn": target.iqn,
        }
        if tpgt is not None:
            wire["tpgt"] = tpgt
        params: dict[str, Any] = {"target": wire}
        if iface is not None:
            params["iface"] = iface
        if target.chap is not None:
            user, secret = target.chap
            params["credentials"] = {
                "type": "chap",
                "params": {"username": user, "password": password or secret},
            }
        return {"type": "iscsi", "params": params}

    # -- helpers -----------------------------------------------------------------

    def _create(self, target: Target) -> None:
        image = self.workdir / f"lun{target.tid}.img"
        with image.open("wb") as f:
            f.truncate(LUN_SIZE)
        tid = str(target.tid)
        self._tgtadm("--mode", "target", "--op", "new", "--tid", tid, "--targetname", target.iqn)
        self._tgtadm(
            "--mode",
            "logicalunit",
            "--op",
            "new",
            "--tid",
            tid,
            "--lun",
            "1",
            "--backing-store",
            str(image),
        )
        self._tgtadm(
            "--mode", "target", "--op", "bind", "--tid", tid, "--initiator-address", "127.0.0.1"
        )
        if target.chap is not None:
            user, password = target.chap
            self._tgtadm("--mode", "account", "--op", "new", "--user", user, "--password", password)
            self._tgtadm("--mode", "account", "--op", "bind", "--tid", tid, "--user", user)

    def _tgtadm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = ["tgtadm", "-C", str(self.control), "--lld", "iscsi", *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip() or done.stdout.strip()}")
        return done

    def _control_answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(
                f"tgtd exited with {self.process.returncode}:\n{self.log.read_text()}"
            )
        return self._tgtadm("--mode", "system", "--op", "show", check=False).returncode == 0

    def _lists_targets(self) -> bool:
        listing = subprocess.run(
            ["iscsi-ls", f"iscsi://127.0.0.1:{self.port}/"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return listing.returncode == 0 and all(t.iqn in listing.stdout for t in self.targets)


def _free_control_port() -> int:
    """A control port no tgtd uses (its socket file does not exist); tgtd takes 0-32767."""
    CONTROL_DIR.mkdir(parents=True, exist_ok=True)
    while True:
        number = random.randint(1000, 32767)
        if not (CONTROL_DIR / f"socket.{number}").exists():
            return number


def node_records(iqn: str) -> Path:
    """Where iscsiadm keeps the node records of ``iqn`` (tests clean up after themselves)."""
    return Path("/etc/iscsi/nodes") / iqn


def remove_node_records(iqn: str, port: int) -> None:
    """Forget ``iqn``'s node records and discovery records of the portal 127.0.0.1:``port``."""
    shutil.rmtree(node_records(iqn), ignore_errors=True)
    shutil.rmtree(Path("/etc/iscsi/send_targets") / f"127.0.0.1,{port}", ignore_errors=True)


class BareTgtd(Daemon):
    """``tgtd -f`` with private portal and control ports and no targets: the code under test makes them.

    ``stop()`` deletes whatever targets exist (with ``--force``), then the
    system; ``kill()`` (SIGKILL, as a crash) then ``start()`` again gives a
    tgtd that has lost everything on the same ports, as after a restart.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.control = _free_control_port()
        self.process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "tgtd.log"

    @property
    def portal(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        # A killed tgtd's lock is released once it is reaped (Daemon.kill waits).
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [TGTD, "-f", "--iscsi", f"portal=127.0.0.1:{self.port}", "-C", str(self.control)],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        wait_for(self._answers, timeout=10, what="tgtd's control socket")
        wait_for(self._portal_answers, timeout=10, what="tgtd's portal")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            signal_tree(self.process, signal.SIGCONT)
            show = self.tgtadm("--mode", "target", "--op", "show", check=False).stdout
            for line in show.splitlines():
                if line.startswith("Target "):
                    tid = line.split()[1].rstrip(":")
                    self.tgtadm("--op", "delete", "--mode", "target", "--tid", tid, "--force",
                                check=False)
            self.tgtadm("--op", "delete", "--mode", "system", check=False)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                stop(self.process, signal.SIGKILL)
        for leftover in (f"socket.{self.control}", f"socket.{self.control}.lock"):
            (CONTROL_DIR / leftover).unlink(missing_ok=True)
        self.process = None

    def tgtadm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """tgtadm on this server's control port: only for non-secret checks in tests."""
        argv = ["tgtadm", "-C", str(self.control), "--lld", "iscsi", *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip() or done.stdout.strip()}")
        return done

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"tgtd exited with {self.process.returncode}:\n{self.log.read_text()}")
        return self.tgtadm("--mode", "system", "--op", "show", check=False).returncode == 0

    def _portal_answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False
