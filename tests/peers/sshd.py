"""A real OpenSSH server on 127.0.0.1, for sshfs tests. Root only (sshd needs it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .agent import free_port
from .processes import Daemon, stop, wait_for

SSHD = "/usr/sbin/sshd"


def available() -> str | None:
    """None when sshd and sshfs are installed, else the reason to skip."""
    for tool in (SSHD, shutil.which("sshfs"), shutil.which("ssh-keygen")):
        if tool is None or not Path(tool).exists():
            return "needs openssh-server and sshfs (scripts/install-test-deps installs them)"
    return None


class SshServer(Daemon):
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.key = workdir / "client_key"
        self.process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        for name in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(workdir / name)],
                           check=True, timeout=30)
        shutil.copy(workdir / "client_key.pub", workdir / "authorized_keys")
        self.config = workdir / "sshd_config"
        self.config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {workdir / 'host_key'}\n"
            f"PidFile {workdir / 'sshd.pid'}\nAuthorizedKeysFile {workdir / 'authorized_keys'}\n"
            "StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "UsePAM no\nPermitRootLogin yes\nSubsystem sftp internal-sftp\n"
        )

    def sshfs_options(self) -> str:
        """What a user gives in posixfs ``options`` to reach this server."""
        return (f"port={self.port},IdentityFile={self.key},StrictHostKeyChecking=no,"
                "UserKnownHostsFile=/dev/null")

    def start(self) -> None:
        Path("/run/sshd").mkdir(exist_ok=True)
        log = (self.workdir / "sshd.log").open("ab")
        self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)], stdout=log, stderr=log)
        wait_for(self._answers, timeout=10, what="sshd answering")

    def _answers(self) -> bool:
        probe = subprocess.run(
            ["ssh", "-p", str(self.port), "-i", str(self.key), "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=2",
             "root@127.0.0.1", "true"],
            capture_output=True, timeout=10, check=False,
        )
        return probe.returncode == 0




    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
