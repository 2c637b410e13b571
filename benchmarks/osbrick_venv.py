"""os-brick 7.1.1 in a venv of its own, and a child process of it that the benchmarks drive.

os-brick drags in oslo.* and eventlet; none of it belongs in storconn's
venv, so the benchmarks install it once under the benchmark workspace
(``/var/tmp/storconn-bench/osbrick-venv``, kept between runs) with pip from
PyPI, and run it in a subprocess of that venv. The subprocess
(:data:`DRIVER`, written next to the venv) reads one JSON request a line on
stdin and answers one JSON line on stdout, so a benchmark can interleave
os-brick rounds with its own without paying the venv's start-up each time.
Durations are measured inside the subprocess, around os-brick's calls only.

``os_brick.privileged.default.set_client_mode(False)`` makes os-brick's
privileged calls run in its own process instead of a privsep daemon started
through sudo: the benchmarks run as root, so nothing else is needed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["OSBRICK_VERSION", "OsBrick", "VENV", "ensure_venv", "venv_problem"]

OSBRICK_VERSION = "7.1.1"
BASE = Path(os.environ.get("STORCONN_BENCH_CACHE", "/var/tmp/storconn-bench"))
VENV = BASE / "osbrick-venv"
PYTHON = VENV / "bin" / "python"
DRIVER = BASE / "osbrick_driver.py"
# A cold pip install takes ~25 s here; a slow mirror may take minutes.
INSTALL_TIMEOUT = 900.0
# One request is at most one round of 100 mounts and unmounts.
REQUEST_TIMEOUT = 300.0
_MARKER = VENV / f".os-brick-{OSBRICK_VERSION}"

# The child's program. Kept as text here (not a module of the package) since it
# runs under the other venv's interpreter, where storconn is not installed.
DRIVER_SOURCE = r'''
"""os-brick driven over stdin/stdout, one JSON object a line (see benchmarks/osbrick_venv.py)."""
import json
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from os_brick import privileged
from os_brick.initiator import connector as brick_connector

privileged.default.set_client_mode(False)


def make(base, mount_type):
    # The factory picks RemoteFsConnector for glusterfs/nfs, as Cinder's hosts do.
    return brick_connector.InitiatorConnector.factory(
        mount_type.upper(), "sudo", **{mount_type + "_mount_point_base": base}
    )


def timed(call):
    started = time.perf_counter()
    try:
        result = call()
        return time.perf_counter() - started, None, result
    except Exception as exc:  # reported, counted by the caller
        text = getattr(exc, "stderr", None) or str(exc)
        return time.perf_counter() - started, f"{type(exc).__name__}: {text}".strip()[:300], None


def cycle(request):
    """Connect every volume, then disconnect every volume, on ``threads`` threads."""
    conn = make(request["base"], request["mount_type"])
    props = [
        {"export": request["export"], "name": name, "options": request.get("options")}
        for name in request["names"]
    ]
    out = {"connect": [], "disconnect": [], "errors": []}
    with ThreadPoolExecutor(request["threads"]) as pool:
        started = time.perf_counter()
        connected = list(pool.map(lambda p: timed(lambda: conn.connect_volume(p)), props))
        middle = time.perf_counter()
        infos = [r[2] for r in connected]
        pairs = list(zip(props, infos))
        disconnected = list(pool.map(
            lambda pair: timed(lambda: conn.disconnect_volume(pair[0], pair[1] or {})), pairs
        ))
        ended = time.perf_counter()
    out["connect"] = [r[0] for r in connected]
    out["disconnect"] = [r[0] for r in disconnected]
    out["errors"] = [r[1] for r in connected + disconnected if r[1]]
    out["paths"] = [info["path"] for info in infos if info]
    out["attach_seconds"] = middle - started
    out["detach_seconds"] = ended - middle
    out["seconds"] = ended - started
    return out


def race(request):
    """``threads`` threads released together, each connecting one volume once."""
    conn = make(request["base"], request["mount_type"])
    names = request["names"]
    barrier = threading.Barrier(len(names))
    results = [None] * len(names)

    def one(index):
        props = {"export": request["export"], "name": names[index], "options": request.get("options")}
        barrier.wait()
        results[index] = timed(lambda: conn.connect_volume(props))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(names))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "ok": sum(1 for r in results if r[1] is None),
        "errors": [r[1] for r in results if r[1]],
        "seconds": [r[0] for r in results],
    }


def mount_point(request):
    return {"path": make(request["base"], request["mount_type"])._remotefsclient.get_mount_point(request["export"])}


HANDLERS = {"cycle": cycle, "race": race, "mount_point": mount_point}

print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    if request.get("op") == "quit":
        break
    try:
        answer = {"ok": True, "result": HANDLERS[request["op"]](request)}
    except Exception:
        answer = {"ok": False, "error": traceback.format_exc()[-2000:]}
    print(json.dumps(answer), flush=True)
'''


def venv_problem() -> str | None:
    """Install the venv if needed; None when os-brick is ready, else why the rows needing it must skip.

    A machine without a route to PyPI, or whose Python cannot make a venv,
    cannot run the comparison: that is a skip with its reason, not a crash.
    """
    try:
        ensure_venv()
    except RuntimeError as exc:
        return f"os-brick {OSBRICK_VERSION} could not be installed into {VENV}: {exc}"
    return None


def ensure_venv() -> Path:
    """Install os-brick ``OSBRICK_VERSION`` into :data:`VENV` unless it is there; returns its python.

    RuntimeError naming pip's last lines when the install fails (no network,
    a missing wheel).
    """
    if not (_MARKER.exists() and PYTHON.exists()):
        BASE.mkdir(parents=True, exist_ok=True)
        # The base interpreter, not storconn's venv: the two venvs share nothing.
        base_python = getattr(sys, "_base_executable", sys.executable)
        _run([base_python, "-m", "venv", "--clear", str(VENV)], "python -m venv")
        _run(
            [str(PYTHON), "-m", "pip", "install", "-q", "--disable-pip-version-check",
             f"os-brick=={OSBRICK_VERSION}"],
            f"pip install os-brick=={OSBRICK_VERSION}",
        )
        _MARKER.write_text(f"os-brick {OSBRICK_VERSION}\n")
    # Rewritten every time: cheap, and a changed driver never runs stale.
    DRIVER.write_text(DRIVER_SOURCE)
    return PYTHON


def _run(argv: list[str], what: str) -> None:
    try:
        result = subprocess.run(argv, capture_output=True, timeout=INSTALL_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{what}: not done within {INSTALL_TIMEOUT:.0f} s") from exc
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).decode(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(f"{what} failed ({result.returncode}): {' | '.join(tail)}")


class OsBrick:
    """The driver child process: ``call(op, **params)`` sends one request and returns its result."""

    def __init__(self, log: Path) -> None:
        python = ensure_venv()
        self._log = log.open("ab")
        # stderr to a file: os-brick and oslo.log write there, and a full pipe would block the child.
        self._process = subprocess.Popen(
            [str(python), str(DRIVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env={**_clean_env(), "PYTHONUNBUFFERED": "1"},
        )
        first = self._read(60.0)
        if not first.get("ready"):
            raise RuntimeError(f"os-brick driver did not start: {first}")

    def call(self, op: str, **params: Any) -> dict[str, Any]:
        assert self._process.stdin is not None
        self._process.stdin.write((json.dumps({"op": op, **params}) + "\n").encode())
        self._process.stdin.flush()
        answer = self._read(REQUEST_TIMEOUT)
        if not answer.get("ok"):
            raise RuntimeError(f"os-brick {op} failed: {answer.get('error')}")
        result: dict[str, Any] = answer["result"]
        return result

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self._process.stdout is not None
        # A hung child must not hang the suite: kill it after the timeout.
        timer = threading.Timer(timeout, self._process.kill)
        timer.start()
        try:
            line = self._process.stdout.readline()
        finally:
            timer.cancel()
        if not line:
            raise RuntimeError(
                f"os-brick driver exited ({self._process.poll()}); see {self._log.name}"
            )
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                assert self._process.stdin is not None
                self._process.stdin.write(b'{"op": "quit"}\n')
                self._process.stdin.close()
                self._process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait(timeout=10)
        self._log.close()

    def __enter__(self) -> OsBrick:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _clean_env() -> dict[str, str]:
    """The environment without this venv's: the child must import only its own site-packages."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
