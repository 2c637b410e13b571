"""A real NFS server on 127.0.0.1: nfs-ganesha, NFSv4 only (no rpcbind needed). Root only.

ganesha runs in the foreground (``-F``) as pytest's child and exports
``<workdir>/export`` as ``/export``. Readiness is a real NFSv4 client call
through libnfs (``nfs-ls``), which needs no kernel support: ~30 ms after start.
Do not change the export directory behind ganesha's back: clients then see
ESTALE/ENOENT for a while.

The kernel's NFS client, where there is one, reaches the server only on
port 2049 unless told otherwise; libnfs and the agent's ping take any port.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from pathlib import Path

from .agent import free_port
from .processes import Daemon, stop, wait_for

GANESHA = "/usr/bin/ganesha.nfsd"
NFS_PORT = 2049
_PLUGIN_DIRS = (Path("/usr/lib/x86_64-linux-gnu/ganesha"), Path("/usr/lib/aarch64-linux-gnu/ganesha"),
                Path("/usr/lib64/ganesha"), Path("/usr/lib/ganesha"))


def plugins_dir() -> Path | None:
    for directory in _PLUGIN_DIRS:
        if (directory / "libfsalvfs.so").exists():
            return directory
    return None


def available(port: int | None = None) -> str | None:
    """None when ganesha can serve here (on ``port``, if given), else the reason to skip."""
    if not Path(GANESHA).exists() or shutil.which("nfs-ls") is None:
        return "needs nfs-ganesha, nfs-ganesha-vfs and libnfs-utils"
    if plugins_dir() is None:
        return "needs nfs-ganesha-vfs (libfsalvfs.so not found)"
    if port is not None and not port_free(port):
        return f"127.0.0.1:{port} is taken: another NFS server runs here"
    return None


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class NfsServer(Daemon):
    """ganesha.nfsd serving ``/export`` over NFSv4/TCP on 127.0.0.1:``port``."""

    def __init__(self, workdir: Path, *, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port if port is not None else free_port()
        self.export = workdir / "export"
        self.process: subprocess.Popen[bytes] | None = None
        plugins = plugins_dir()
        assert plugins is not None, "check available() first"
        for directory in (self.export, workdir / "recov"):
            directory.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "ganesha.conf"
        self.config.write_text(
            "NFS_CORE_PARAM { Bind_addr=127.0.0.1; "
            f"NFS_Port={self.port}; Protocols=4; Enable_NLM=false; Enable_RQUOTA=false; "
            f'Enable_UDP=false; Plugins_Dir="{plugins}"; }}\n'
            f'NFSv4 {{ Graceless=true; RecoveryRoot="{workdir / "recov"}"; }}\n'
            f'EXPORT {{ Export_Id=1; Path="{self.export}"; Pseudo="/export"; Protocols=4; '
            "Transports=TCP; Access_Type=RW; Squash=No_Root_Squash; SecType=sys; FSAL { Name=VFS; } }\n"
        )

    @property
    def url(self) -> str:
        """The export as a libnfs URL."""
        extra = "" if self.port == NFS_PORT else f"&nfsport={self.port}"
        return f"nfs://127.0.0.1/export?version=4{extra}"

    def start(self) -> None:
        log = (self.workdir / "ganesha.out").open("ab")
        self.process = subprocess.Popen(
            [GANESHA, "-F", "-f", str(self.config), "-L", str(self.workdir / "ganesha.log"),
             "-p", str(self.workdir / "ganesha.pid")],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL,
        )
        log.close()
        wait_for(self._answers, timeout=20, what=f"ganesha answering on port {self.port}")

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"ganesha exited with {self.process.returncode}: see {self.workdir / 'ganesha.log'}")
        listing = subprocess.run(["nfs-ls", self.url], capture_output=True, timeout=10, check=False)
        return listing.returncode == 0





    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, signal.SIGTERM)
