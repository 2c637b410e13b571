"""Mount options: splitting, and the one list of refused options."""

from __future__ import annotations

import pytest

from storconn.connection import (
    MANAGED_OPTIONS,
    REFUSED_OPTIONS,
    InvalidParameter,
    check_options,
    split_options,
)
from storconn.connection.options import option_secrets, redact_options


def test_split_of_nothing_is_empty() -> None:
    assert split_options(None) == []
    assert split_options("") == []


def test_split_strips_items_and_drops_empty_ones() -> None:
    assert split_options(" rw, noatime,,") == ["rw", "noatime"]


def test_split_keeps_commas_inside_quotes() -> None:
    assert split_options('ro,context="u:r:t:s0:c1,c2"') == ["ro", 'context="u:r:t:s0:c1,c2"']


def test_ordinary_options_pass() -> None:
    check_options("nfs", "rw,noatime,rsize=65536", field="params.options")


def test_no_options_pass() -> None:
    check_options("nfs", None, field="params.options")


def test_error_names_the_given_field() -> None:
    with pytest.raises(InvalidParameter) as caught:
        check_options("posixfs", "-o", field="params.x")
    assert caught.value.field == "params.x"


@pytest.mark.parametrize("options", ["-oProxyCommand=sh", "rw,-x", "rw, -x"])
def test_an_option_starting_with_dash_is_refused(options: str) -> None:
    with pytest.raises(InvalidParameter, match="'-'"):
        check_options("posixfs", options, field="params.options")


@pytest.mark.parametrize(
    "options",
    [
        "reconnect,ssh_command=/tmp/evil",
        "ssh_command",
        "SSH_Command=x",
        "ssh_protocol=1",
        "sftp_server=/bin/sh",
        "directport=22",
        "ProxyCommand=nc evil 22",
    ],
)
def test_options_that_run_commands_are_refused(options: str) -> None:
    with pytest.raises(InvalidParameter, match="refused"):
        check_options("posixfs", options, field="params.options")


def test_refused_message_names_the_option_but_not_its_value() -> None:
    with pytest.raises(InvalidParameter) as caught:
        check_options("posixfs", "ssh_command=/tmp/evil-script", field="params.options")
    assert "ssh_command" in caught.value.message
    assert "evil" not in caught.value.message


@pytest.mark.parametrize("options", ["rw\nro", "rw\x00", "a\tb"])
def test_control_characters_are_refused(options: str) -> None:
    with pytest.raises(InvalidParameter, match="control"):
        check_options("posixfs", options, field="params.options")


def test_unbalanced_quotes_are_refused() -> None:
    with pytest.raises(InvalidParameter, match="quote"):
        check_options("posixfs", 'context="a,b', field="params.options")


@pytest.mark.parametrize("name", sorted(MANAGED_OPTIONS["nfs"]))
def test_nfs_options_the_agent_manages_are_refused(name: str) -> None:
    with pytest.raises(InvalidParameter, match="set by storconn"):
        check_options("nfs", f"rw,{name}=3", field="params.options")


def test_managed_option_flags_are_refused_without_a_value() -> None:
    with pytest.raises(InvalidParameter, match="'v4.1'"):
        check_options("nfs", "v4.1", field="params.options")


def test_nfs_flags_ovirt_passes_through_are_accepted() -> None:
    check_options("nfs", "soft,nosharecache,hard,nolock,sharecache,lock", field="params.options")


def test_glusterfs_backup_servers_option_is_managed() -> None:
    with pytest.raises(InvalidParameter, match="set by storconn"):
        check_options("glusterfs", "backup-volfile-servers=a:b", field="params.options")


def test_nfs_managed_options_are_allowed_for_other_types() -> None:
    check_options("posixfs", "vers=3,soft,timeo=10", field="params.options")


def test_managed_and_refused_lists_are_lower_case() -> None:
    names = REFUSED_OPTIONS.union(*MANAGED_OPTIONS.values())
    assert all(name == name.lower() for name in names)


def test_option_secrets_are_the_password_values() -> None:
    assert option_secrets('username=u,password=hunter2,pass="a,b"') == ["hunter2", '"a,b"', "a,b"]


def test_redact_options_masks_password_values() -> None:
    assert redact_options("username=u,password=hunter2") == "username=u,password=********"


# --- issue 7: bind-like options, helper options naming files or programs ------------------


@pytest.mark.parametrize(
    "options",
    [
        "bind",
        "rbind",
        "ro,bind",
        "move",
        "remount,rw",
        "make-shared",
        "make-rprivate",
        "shared",
        "rslave",
        "unbindable",
        "X-mount.mkdir=0755",
        "X-mount.subdir=etc",
        "x-systemd.requires=x",
        "helper=udisks2",
        "suid",
        "dev",
    ],
)
def test_bind_like_and_helper_options_are_refused_for_every_type(options: str) -> None:
    for kind in ("ext4", "tmpfs", "nfs", "glusterfs", "fuse.sshfs"):
        with pytest.raises(InvalidParameter) as caught:
            check_options(kind, options, field="params.options")
        assert caught.value.field == "params.options"


@pytest.mark.parametrize(
    "options",
    [
        "log-file=/etc/cron.d/x",
        "volfile=/tmp/evil.vol",
        "dump-fuse=/root/x",
        "xlator-option=*.log-file=/x",
        "fuse-mountopts=allow_other",
        "volume-id=other",
        "volfile-id=other",
        "subdir-mount=/x",
        "log-level=INFO --log-file=/x",
        "log-level=*",
        "no-root-squash",
        "frobnicate",
    ],
)
def test_glusterfs_accepts_only_its_known_options_with_plain_values(options: str) -> None:
    # Defect 2: log-file=/any/path made the client write a root-owned file anywhere.
    with pytest.raises(InvalidParameter):
        check_options("glusterfs", options, field="params.options")


def test_glusterfs_known_options_pass() -> None:
    check_options(
        "glusterfs", "ro,acl,log-level=WARNING,transport=tcp,attribute-timeout=0", field="o"
    )


@pytest.mark.parametrize(
    "options",
    [
        "ControlPath=/tmp/other-user-socket",
        "ControlMaster=yes",
        "IdentityAgent=/tmp/ssh-x/agent.1",
        "Include=/tmp/evil.conf",
        "UserKnownHostsFile=/etc/cron.d/x",
        "GlobalKnownHostsFile=/root/x",
        "IdentityFile=relative/key",
        "IdentityFile=/a/../root/key",
        "IdentityFile=~/.ssh/id_rsa",
        "IdentityFile=/keys/%u",
        "RemoteForward=8000 127.0.0.1:22",
        "LocalForward=1 2",
        "Hostname=elsewhere",
        "XAuthLocation=/tmp/x",
        "uidfile=/etc/shadow",
        "setuid=nobody",
    ],
)
def test_sshfs_refuses_ssh_options_naming_files_programs_or_forwards(options: str) -> None:
    with pytest.raises(InvalidParameter):
        check_options("fuse.sshfs", options, field="params.options")


def test_sshfs_accepts_a_key_file_and_no_known_hosts_file() -> None:
    check_options(
        "fuse.sshfs",
        "IdentityFile=/var/lib/storconn/keys/id_ed25519,StrictHostKeyChecking=no,"
        "UserKnownHostsFile=/dev/null,reconnect,Port=2222",
        field="params.options",
    )


def test_loop_takes_only_a_loop_device() -> None:
    check_options("ext4", "loop", field="o")
    check_options("ext4", "loop=/dev/loop3", field="o")
    with pytest.raises(InvalidParameter):
        check_options("ext4", "loop=/etc/passwd", field="o")
