"""A real GlusterFS server on 127.0.0.1: glusterd and a one-brick volume. Root only.

glusterd runs in the foreground (``-N``) as pytest's child, with its working,
run and log directories under a temporary directory and its sockets bound to
127.0.0.1. The brick daemon (``glusterfsd``) is started by glusterd and
detaches itself (its parent is PID 1), so it is found by its command line.

Gluster still writes a few things in the host's own directories whatever its
options say (``/run/gluster/<hash>.socket``, ``/var/lib/glusterd/ss_brick``,
the FUSE clients' logs under ``/var/log/glusterfs``): :meth:`GlusterServer.stop`
removes what appeared there while the server ran, and nothing that was there
before.

Timings seen here: CLI answers ~0.1 s after glusterd starts; create ~0.1 s,
start ~0.2 s, stop ~1.1 s; a killed brick is reaped by PID 1 after ~2 s and
``volume start VOL force`` brings it back (on a new port) in ~0.25 s.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterable
from pathlib import Path

from storconn.agent.system import mountinfo

from .processes import stop, wait_for

GLUSTERD = "/usr/sbin/glusterd"
GLUSTER = "/usr/sbin/gluster"
GLUSTERFSD = "/usr/sbin/glusterfsd"
MOUNT_GLUSTERFS = "/usr/sbin/mount.glusterfs"
STOCK_VOL = Path("/etc/glusterfs/glusterd.vol")
STOCK_WORKDIR = Path("/var/lib/glusterd")
GLUSTERD_PORT = 24007  # clients fetch the volume file here; mount.glusterfs assumes it
HOSTS = Path("/etc/hosts")
ADDED_NAME = "storconn-gluster"

# Where gluster writes outside its own directories; cleaned by difference.
_HOST_DIRS = (Path("/run/gluster"), Path("/var/log/glusterfs"), STOCK_WORKDIR)
_HOST_GLOBS = (Path("/run"), "gluster*")


def available() -> str | None:
    """None when a GlusterFS server can run here, else the reason to skip."""
    for tool in (GLUSTERD, GLUSTER, GLUSTERFSD, MOUNT_GLUSTERFS, str(STOCK_VOL)):
        if not Path(tool).exists():
            return f"needs glusterfs-server and glusterfs-client ({tool} is missing)"
    if not Path("/dev/fuse").exists():
        return "needs FUSE (/dev/fuse is missing)"
    if not _port_free(GLUSTERD_PORT):
        return f"127.0.0.1:{GLUSTERD_PORT} is taken: another glusterd runs here"
    return None


def loopback_name() -> str:
    """A host name other than localhost that resolves to 127.0.0.1.

    ``volume create`` refuses ``localhost`` and ``127.0.0.1``. The machine's
    own name is used when it resolves to 127.0.0.1, else another loopback
    name from /etc/hosts; failing both, ``127.0.0.1 storconn-gluster`` is
    appended to /etc/hosts (once: later runs find it there).
    """
    candidates = [socket.gethostname()]
    for line in HOSTS.read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and fields[0] == "127.0.0.1":
            candidates += fields[1:]
    for name in candidates:
        if name.startswith("localhost") or not name:
            continue
        try:
            if socket.gethostbyname(name) == "127.0.0.1":
                return name
        except OSError:
            continue
    with HOSTS.open("a") as hosts:
        hosts.write(f"127.0.0.1 {ADDED_NAME}\n")
    return ADDED_NAME


class GlusterServer:
    """glusterd plus a started one-brick volume; ``spec`` is what a client mounts."""

    def __init__(self, workdir: Path, *, volume: str = "storconn") -> None:
        self.workdir = workdir
        self.volume = volume
        self.host = loopback_name()
        self.brick = workdir / "brick"
        self.lib = workdir / "lib"
        self.run_dir = workdir / "run"
        self.log_dir = workdir / "log"
        self.socket = self.run_dir / "glusterd.socket"
        self.config = workdir / "glusterd.vol"
        self.process: subprocess.Popen[bytes] | None = None
        self._killed_brick: int | None = None
        self._before: set[Path] = set()
        for directory in (self.brick, self.lib, self.run_dir, self.log_dir):
            directory.mkdir(parents=True, exist_ok=True)
        shutil.copytree(STOCK_WORKDIR / "groups", self.lib / "groups", dirs_exist_ok=True)
        # The hooks' directories, not their scripts: the stock scripts edit
        # the host's Samba and CTDB set-up on volume start and stop.
        for hooks, _, _ in os.walk(STOCK_WORKDIR / "hooks"):
            (self.lib / Path(hooks).relative_to(STOCK_WORKDIR)).mkdir(parents=True, exist_ok=True)
        self.config.write_text(_glusterd_vol(self.lib, self.run_dir, self.socket, self.log_dir))

    @property
    def spec(self) -> str:
        """``HOST:/VOLUME``, as in a glusterfs ConnectionInfo and for mount(8)."""
        return f"{self.host}:/{self.volume}"

    # -- whole server ------------------------------------------------------

    def start(self) -> None:
        """glusterd up, the volume created and started, a client able to use it."""
        self._before = _host_entries()
        self._start_glusterd()
        self.cli("volume", "create", self.volume, f"{self.host}:{self.brick}", "force")
        self.cli("volume", "start", self.volume)
        self.wait_ready()

    def kill(self) -> None:
        """The server goes down at once: glusterd and the brick, both SIGKILLed."""
        if self.brick_pid() is not None:
            self.kill_brick()
        if self.process is not None:
            stop(self.process, signal.SIGKILL)

    def restart(self) -> None:
        """glusterd again after :meth:`kill`; it starts the brick of the started volume itself."""
        self._wait_brick_reaped()
        self._start_glusterd()
        try:
            wait_for(lambda: self.brick_pid() is not None, timeout=5, what="glusterd restarting the brick")
        except TimeoutError:
            self.cli("volume", "start", self.volume, "force")
        self.wait_ready()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ensure_up(self) -> None:
        """Bring back whatever an earlier test left down."""
        if not self.running():
            self.restart()
        elif self.brick_pid() is None:
            self.start_brick()

    def stop(self) -> None:
        """Volume stopped and deleted, glusterd stopped, the host's directories as they were."""
        try:
            if self.running():
                for args in (("volume", "stop", self.volume, "force"), ("volume", "delete", self.volume)):
                    self.cli(*args, check=False)
                assert self.process is not None
                stop(self.process)
            pid = self.brick_pid()
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
        finally:
            self._unmount_probe()
            _remove_new_entries(self._before)

    # -- the brick ---------------------------------------------------------

    def brick_pid(self) -> int | None:
        """The live glusterfsd serving this server's brick, if any."""
        brick = str(self.brick).encode()
        for pid, argv in _processes():
            if (argv[0].endswith(b"glusterfsd") and _arg_after(argv, b"--brick-name") == brick
                    and _state(pid) not in ("Z", "X", None)):
                return pid
        return None

    def kill_brick(self) -> None:
        """SIGKILL the brick daemon: clients get ENOTCONN at once; glusterd stays up."""
        pid = self.brick_pid()
        assert pid is not None, "the brick is not running"
        os.kill(pid, signal.SIGKILL)
        self._killed_brick = pid
        wait_for(lambda: _state(pid) in ("Z", "X", None), timeout=10, what="the brick dying")

    def start_brick(self, *, ready: bool = True) -> None:
        """``volume start VOL force`` once the killed brick is reaped; with ``ready``, until a client can use it."""
        self._wait_brick_reaped()
        self.cli("volume", "start", self.volume, "force")
        if ready:
            self.wait_ready()

    def _wait_brick_reaped(self) -> None:
        # glusterd asks whether the old pid is alive, and a zombie is: until
        # PID 1 reaps it (~2 s here) a forced start would not start a brick.
        pid = self._killed_brick
        if pid is not None:
            wait_for(lambda: _state(pid) is None, timeout=30, interval=0.05, what=f"brick {pid} reaped")
            self._killed_brick = None

    # -- readiness and the CLI ---------------------------------------------

    def wait_ready(self, *, timeout: float = 30.0) -> None:
        """Until a real client mounts the volume and lists its root."""
        wait_for(self._client_works, timeout=timeout, interval=0.05, what=f"a client mounting {self.spec}")

    def _client_works(self) -> bool:
        point = self.workdir / "probe"
        point.mkdir(exist_ok=True)
        self._unmount_probe()
        mounted = subprocess.run(
            ["mount", "-t", "glusterfs", "-o", f"log-file={self.log_dir / 'probe-client.log'}",
             self.spec, str(point)],
            capture_output=True, timeout=30, check=False,
        )
        if mounted.returncode != 0:
            return False
        try:
            os.listdir(point)
            return True
        except OSError:
            return False
        finally:
            self._unmount_probe()

    def _unmount_probe(self) -> None:
        point = str(self.workdir / "probe")
        if point in mountinfo.read():
            subprocess.run(["umount", "-l", point], capture_output=True, timeout=15, check=False)

    def cli(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            [GLUSTER, f"--glusterd-sock={self.socket}", f"--log-file={self.log_dir / 'cli.log'}",
             "--mode=script", *args],
            capture_output=True, timeout=60, check=False,
        )
        output = (result.stdout + result.stderr).decode(errors="replace").strip()
        if check and result.returncode != 0:
            raise RuntimeError(f"gluster {' '.join(args)} failed ({result.returncode}): {output}")
        return output

    def _start_glusterd(self) -> None:
        log = (self.workdir / "glusterd.out").open("ab")
        self.process = subprocess.Popen(
            [GLUSTERD, "-N", "-f", str(self.config), "-p", str(self.workdir / "glusterd.pid"),
             "-l", str(self.log_dir / "glusterd.log")],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL,
        )
        log.close()
        wait_for(lambda: self._cli_answers(), timeout=30, interval=0.05, what="glusterd answering")

    def _cli_answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"glusterd exited with {self.process.returncode}: see {self.log_dir / 'glusterd.log'}")
        try:
            self.cli("volume", "list")
        except (RuntimeError, subprocess.TimeoutExpired):
            return False
        return True


def _glusterd_vol(lib: Path, run_dir: Path, sock: Path, log_dir: Path) -> str:
    """The stock glusterd.vol, moved into our directories and onto 127.0.0.1."""
    lines = []
    for line in STOCK_VOL.read_text().splitlines():
        if line.strip().startswith("option working-directory"):
            lines += [f"    option working-directory {lib}", f"    option run-directory {run_dir}",
                      f"    option glusterd-sockfile {sock}", f"    option logging-directory {log_dir}"]
            continue
        lines.append(line)
        if line.strip() == "option transport-type socket":
            lines.append("    option transport.socket.bind-address 127.0.0.1")
    return "\n".join(lines) + "\n"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _processes() -> Iterable[tuple[int, list[bytes]]]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield int(entry.name), (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue


def _arg_after(argv: list[bytes], flag: bytes) -> bytes | None:
    for i, arg in enumerate(argv[:-1]):
        if arg == flag:
            return argv[i + 1]
    return None


def _state(pid: int) -> str | None:
    """The process's state letter (R, S, D, Z...), or None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _host_entries() -> set[Path]:
    found: set[Path] = set()
    for top in _HOST_DIRS:
        for directory, dirs, files in os.walk(top):
            found.update(Path(directory) / name for name in dirs + files)
    run, pattern = _HOST_GLOBS
    found.update(run.glob(pattern))
    return found


def _remove_new_entries(before: set[Path]) -> None:
    """Remove, deepest first, what gluster created in the host's directories since ``before``."""
    for path in sorted(_host_entries() - before, key=lambda p: len(p.parts), reverse=True):
        if path in _HOST_DIRS:
            continue
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        except OSError:
            pass
