"""How mount(8) is run: secrets never in an argv, FUSE daemons in a scope of their own under systemd."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from storconn.agent.system import mount as mount_cmd
from storconn.agent.system import scope
from storconn.agent.system.command import CommandResult
from storconn.connection import ErrorCode, StorconnError

SECRET = "pw-9f3c-hidden"


class Recorder:
    """Stands in for command.run: keeps each argv and what the private fstab held at that moment."""

    def __init__(self) -> None:
        self.argvs: list[list[str]] = []
        self.fstabs: list[tuple[str, int, int]] = []  # text, file mode, directory mode
        self.secrets: list[list[str]] = []
        self.failures: dict[str, tuple[int, str]] = {}  # program → (exit status, stderr)

    def __call__(self, argv: list[str], *, timeout: float, secrets: Any = ()) -> CommandResult:
        self.argvs.append(list(argv))
        self.secrets.append(list(secrets))
        if "--fstab" in argv:
            path = Path(argv[argv.index("--fstab") + 1])
            self.fstabs.append(
                (
                    path.read_text(),
                    stat.S_IMODE(path.stat().st_mode),
                    stat.S_IMODE(path.parent.stat().st_mode),
                )
            )
        status, stderr = self.failures.get(argv[0], (0, ""))
        return CommandResult(tuple(argv), status, "", stderr)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    fake = Recorder()
    monkeypatch.setattr(mount_cmd, "run", fake)
    return fake


# -- defect 11: secrets in mount options ----------------------------------------------


def test_options_without_secrets_go_on_the_command_line(recorder: Recorder) -> None:
    mount_cmd.mount("/dev/vdb", "/mnt/x", fstype="ext4", options=["noatime"], timeout=5)
    assert recorder.argvs == [["mount", "-t", "ext4", "-o", "noatime", "--", "/dev/vdb", "/mnt/x"]]


def test_options_with_a_secret_travel_in_a_private_fstab(
    recorder: Recorder, tmp_path: Path
) -> None:
    target = tmp_path / "mnt x"
    target.mkdir()
    mount_cmd.mount(
        "/dev/vdb",
        str(target),
        fstype="ext4",
        options=["noatime", f"password={SECRET}"],
        timeout=5,
        secrets=[SECRET],
    )
    (argv,) = recorder.argvs
    assert SECRET not in " ".join(argv)
    assert argv[:2] == ["mount", "--internal-only"]  # no helper program gets the options
    assert argv[-2:] == ["--target", str(target)]
    ((text, file_mode, dir_mode),) = recorder.fstabs
    assert text == f"/dev/vdb {tmp_path}/mnt\\040x ext4 noatime,password={SECRET} 0 0\n"
    assert (file_mode, dir_mode) == (0o600, 0o700)
    assert recorder.secrets == [[SECRET]]  # still masked wherever run() shows the argv
    assert not Path(argv[argv.index("--fstab") + 1]).exists()  # gone once mounted


@pytest.mark.parametrize("fstype", ["fuse.sshfs", "glusterfs", "nfs", "nfs4"])
def test_a_secret_for_a_type_mounted_by_a_helper_is_refused(
    recorder: Recorder, fstype: str
) -> None:
    with pytest.raises(StorconnError) as caught:
        mount_cmd.mount(
            "server:/x", "/mnt/x", fstype=fstype, options=[f"password={SECRET}"], timeout=5,
            secrets=[SECRET],
        )
    assert caught.value.code == ErrorCode.INVALID_PARAMETER
    assert caught.value.message.startswith("params.options:")
    assert SECRET not in caught.value.message
    assert recorder.argvs == []


def test_fstab_fields_escape_what_would_split_or_end_them() -> None:
    assert mount_cmd.fstab_field("a b\tc\\d#e") == "a\\040b\\011c\\134d\\043e"


# -- defect 12: FUSE daemons outside the agent's unit ----------------------------------


def test_under_systemd_a_fuse_mount_runs_in_a_transient_scope(recorder: Recorder) -> None:
    mount_cmd.mount("u@h:/d", "/mnt/posixfs/u@h:%2Fd", fstype="fuse.sshfs", options=["ro"],
                    timeout=5, systemd=True)
    (argv,) = recorder.argvs
    assert argv[:4] == ["systemd-run", "--scope", "--collect", "--quiet"]
    unit = next(a for a in argv if a.startswith("--unit="))
    assert unit.startswith("--unit=storconn-mount-u_h_2Fd-") and unit.endswith(".scope")
    assert argv[argv.index("--") + 1:] == [
        "mount", "-t", "fuse.sshfs", "-o", "ro", "--", "u@h:/d", "/mnt/posixfs/u@h:%2Fd"
    ]


def test_under_systemd_a_glusterfs_mount_runs_in_a_transient_scope(recorder: Recorder) -> None:
    mount_cmd.mount("h:/v", "/mnt/g", fstype="glusterfs", timeout=5, systemd=True)
    assert recorder.argvs[0][0] == "systemd-run"


@pytest.mark.parametrize("fstype", ["nfs4", "ext4", "tmpfs"])
def test_a_kernel_mount_needs_no_scope_even_under_systemd(
    recorder: Recorder, fstype: str
) -> None:
    mount_cmd.mount("s:/x", "/mnt/x", fstype=fstype, timeout=5, systemd=True)
    assert recorder.argvs[0][0] == "mount"


def test_a_scope_systemd_will_not_make_falls_back_to_a_plain_mount(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    recorder.failures["systemd-run"] = (1, "Failed to connect to bus: No such file or directory")
    mount_cmd.mount("u@h:/d", "/mnt/x", fstype="fuse.sshfs", timeout=5, systemd=True)
    assert [argv[0] for argv in recorder.argvs] == ["systemd-run", "mount"]
    assert "no systemd scope" in caplog.text


def test_a_mount_that_fails_inside_its_scope_is_not_run_again(recorder: Recorder) -> None:
    recorder.failures["systemd-run"] = (32, "mount: /mnt/x: special device u@h:/d does not exist.")
    with pytest.raises(StorconnError) as caught:
        mount_cmd.mount("u@h:/d", "/mnt/x", fstype="fuse.sshfs", timeout=5, systemd=True)
    assert "does not exist" in caught.value.message
    assert len(recorder.argvs) == 1


def test_without_systemd_a_fuse_mount_runs_as_before(recorder: Recorder) -> None:
    mount_cmd.mount("u@h:/d", "/mnt/x", fstype="fuse.sshfs", timeout=5, systemd=False)
    assert recorder.argvs == [["mount", "-t", "fuse.sshfs", "--", "u@h:/d", "/mnt/x"]]


def test_systemd_is_detected_by_its_runtime_directory_and_systemd_run(tmp_path: Path) -> None:
    runtime = tmp_path / "run-systemd-system"
    assert not scope.systemd_available(runtime, which="/usr/bin/systemd-run")
    runtime.mkdir()
    assert scope.systemd_available(runtime, which="/usr/bin/systemd-run")
    assert not scope.systemd_available(runtime, which="")


def test_each_mount_gets_a_unit_name_of_its_own() -> None:
    first = scope.unit_name("/mnt/posixfs/x")
    assert first != scope.unit_name("/mnt/posixfs/x")  # a repair mounts while the old scope ends
    assert scope.unit_name("/m/x", token="t") != scope.unit_name("/n/x", token="t")
    long = scope.unit_name("/m/" + "é" * 300, token="t")
    assert len(long) < 256 and long.isascii()
