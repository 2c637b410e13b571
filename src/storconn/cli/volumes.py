"""``storconn volumes``: cinderlib's volumes from a shell — backends, volumes, snapshots, connections.

Configuration (flags win over variables, variables over the file):

- ``--config FILE`` / ``STORCONN_VOLUMES_CONFIG`` (default
  ``/etc/storconn/volumes.toml``): a ``[persistence]`` table
  (cinderlib's ``persistence_config``: ``storage = "db"``, ``connection``,
  optional ``key_file`` and ``password_file``) and one ``[backends.NAME]``
  table per backend holding its driver configuration (``volume_driver =
  "file"``, ``share = "glusterfs://..."``, ...). See ``volumes_config``.
- ``--persistence URL`` / ``STORCONN_VOLUMES_DB``: replaces
  ``persistence.connection``.
- ``--agent URL`` / ``STORCONN_AGENT_URL`` and ``--token-file`` /
  ``STORCONN_TOKEN_FILE``: this host's agent, given to
  ``setup(agent_url=..., agent_token_file=...)``.

VOLUME is a volume's id or its name when one volume has it. Errors are one
line ``error: ...`` on stderr: exit 1 when the library refuses or fails,
exit 2 for a bad configuration or usage. Secrets never reach the screen,
except in ``connect --json``: a host needs the CHAP secret to attach.

Attaching here means what ``Volume.attach`` does, with a mode: connect with
this host's connector, then make the device through the local agent, which
shares the share's mount (or the target's session) with every other volume.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from . import volumes_output as out
from .volumes_session import ConfigOpt, Opts, PersistenceOpt, fail, session

if TYPE_CHECKING:
    from storconn.volumes import Connection, Volume

app = typer.Typer(
    no_args_is_help=True,
    help=(
        "cinderlib-style volumes on storconn: create, attach, connect, snapshot, clone, extend, delete.\n\n"
        "Configuration: --config FILE (STORCONN_VOLUMES_CONFIG, default /etc/storconn/volumes.toml) holds a "
        "\\[persistence] table (storage = \"db\", connection = \"sqlite:////var/lib/storconn/volumes.db\", "
        "optional key_file and password_file) and one \\[backends.NAME] table per backend with its driver "
        "configuration (volume_driver = \"file\", share = \"glusterfs://server/volume\", ...). "
        "--persistence URL (STORCONN_VOLUMES_DB) replaces the connection; --agent (STORCONN_AGENT_URL) and "
        "--token-file (STORCONN_TOKEN_FILE) name this host's agent.\n\n"
        "VOLUME is an id, or a name that one volume has. Errors: 'error: ...' on stderr, exit 1 when the "
        "library refuses, 2 for a bad configuration or usage."
    ),
)

AgentOpt = Annotated[str | None, typer.Option("--agent", envvar="STORCONN_AGENT_URL", show_default=False,
                                              help="This host's agent.  \\[default: http://127.0.0.1:54321]")]
TokenOpt = Annotated[Path | None, typer.Option("--token-file", envvar="STORCONN_TOKEN_FILE", show_default=False,
                                               help="The agent's token file.  \\[default: /var/lib/storconn/agent/token]")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
VolumeArg = Annotated[str, typer.Argument(metavar="VOLUME", help="A volume id, or a name one volume has.")]
Size = Annotated[int, typer.Option("--size", help="GiB, a whole number.")]
Mode = Annotated[str, typer.Option("--mode", help="rw or ro: a block device is made read-only; a file path is only marked ro.")]


def _opts(config: Path | None, persistence: str | None, agent: str | None, token_file: Path | None) -> Opts:
    return Opts(config=config, persistence=persistence, agent=agent, token_file=token_file)


@app.command()
def backends(
    as_json: AsJson = False, config: ConfigOpt = None, persistence: PersistenceOpt = None,
    agent: AgentOpt = None, token_file: TokenOpt = None,
) -> None:
    """List the configured backends (no storage is reached)."""
    with session(_opts(config, persistence, agent, token_file), persistence_needed=False) as s:
        out.backends(s.config.backends, as_json=as_json)


@app.command()
def create(
    backend: Annotated[str, typer.Argument(metavar="BACKEND", help="A \\[backends.NAME] of the configuration.")],
    size: Size,
    name: Annotated[str, typer.Option(help="A name to find it by.")] = "",
    description: Annotated[str, typer.Option()] = "",
    multiattach: Annotated[bool, typer.Option(help="Allow several connections (hosts) at once.")] = False,
    as_json: AsJson = False, config: ConfigOpt = None, persistence: PersistenceOpt = None,
    agent: AgentOpt = None, token_file: TokenOpt = None,
) -> None:
    """Create a volume of SIZE GiB on BACKEND; prints its id."""
    with session(_opts(config, persistence, agent, token_file)) as s:
        chosen = s.ready(s.backend(backend))
        volume = chosen.create_volume(size=size, name=name, description=description, multiattach=multiattach)
        out.created(volume, as_json=as_json)


@app.command("list")
def list_volumes(
    backend: Annotated[str | None, typer.Option("--backend", help="Only this backend's volumes.")] = None,
    as_json: AsJson = False, config: ConfigOpt = None, persistence: PersistenceOpt = None,
    agent: AgentOpt = None, token_file: TokenOpt = None,
) -> None:
    """List volumes: id, name, size, status, multiattach, connections."""
    from storconn.volumes import Backend, Volume

    with session(_opts(config, persistence, agent, token_file)) as s:
        if backend is not None:
            s.backend(backend)
        records = Backend.persistence.get_volumes(backend_name=backend)
        # One read of the connections for the whole listing, not one per volume.
        by_volume: dict[str, list[str]] = {}
        for connection in Backend.persistence.get_connections():
            by_volume.setdefault(connection.volume_id, []).append(connection.id)
        out.volumes([(Volume._wrap(r), by_volume.get(r.id, [])) for r in records], as_json=as_json)


@app.command()
def show(
    volume: VolumeArg, as_json: AsJson = False, config: ConfigOpt = None,
    persistence: PersistenceOpt = None, agent: AgentOpt = None, token_file: TokenOpt = None,
) -> None:
    """Show a volume with its snapshots and connections (secrets masked)."""
    with session(_opts(config, persistence, agent, token_file)) as s:
        out.volume_details(s.volume(volume, configured=False), as_json=as_json)


@app.command()
def attach(
    volume: VolumeArg,
    device_type: Annotated[str | None, typer.Option(
        "--device-type", show_default=False,
        help="file (the volume file's path) or block (a loop device over it, or the iSCSI disk). "
             "\\[default: the backend's device_type, else file on a share and block on iSCSI]")] = None,
    mode: Mode = "rw",
    as_json: Annotated[bool, typer.Option("--json", help="Print the connection id and the device as JSON.")] = False,
    config: ConfigOpt = None, persistence: PersistenceOpt = None,
    agent: AgentOpt = None, token_file: TokenOpt = None,
) -> None:
    """Attach on this host through the local agent; prints the device path."""
    from storconn.connection import InvalidParameter
    from storconn.volumes import get_connector_properties
    from storconn.volumes.connection import DEVICE_TYPES

    with session(_opts(config, persistence, agent, token_file)) as s:
        # Checked before connecting, so that a bad flag leaves nothing stored changed.
        if device_type is not None and device_type not in DEVICE_TYPES:
            raise InvalidParameter("device_type", "must be 'file' or 'block'")
        if mode not in ("rw", "ro"):
            raise InvalidParameter("attach_mode", "must be 'rw' or 'ro'")
        found = s.volume(volume)
        backend = s.backend_of(found)
        connector = get_connector_properties(multipath=backend.use_multipath,
                                             enforce_multipath=backend.enforce_multipath)
        connection = found.connect(connector, attached_host=connector["host"], attach_mode=mode)
        try:
            with out.errors.status(f"attaching {found.id}…"):
                device = connection.attach(device_type=device_type)
        except BaseException:
            _disconnect_quietly(connection)
            raise
        out.attached(connection.id, device, as_json=as_json)


def _disconnect_quietly(connection: Connection) -> None:
    """Undo the connect of a failed attach; the attach's error is the one to report."""
    try:
        connection.disconnect()
    except Exception as exc:  # noqa: BLE001 - reported, then the first error goes on
        out.errors.print(f"[yellow]warning:[/] disconnecting {connection.id} failed too: {escape(str(exc))}",
                         soft_wrap=True)


@app.command()
def detach(
    volume: VolumeArg,
    force: Annotated[bool, typer.Option(help="Go on when the agent fails; the connection ends anyway.")] = False,
    config: ConfigOpt = None, persistence: PersistenceOpt = None,
    agent: AgentOpt = None, token_file: TokenOpt = None,
) -> None:
    """Detach the volume's attachment on this host and end its connection."""
    with session(_opts(config, persistence, agent, token_file)) as s:
        found = s.volume(volume)
        found.detach(force=force)
        out.done(f"detached {found.id}")


@app.command()
def connect(
    volume: VolumeArg,
    connector_file: Annotated[Path, typer.Option("--connector-file", help=(
        "JSON of the node's connector properties ('storconn volumes connector --json' on the node)."))],
    host: Annotated[str | None, typer.Option("--host", metavar="NODE",
                                             help="The node's name.  \\[default: the connector's host]")] = None,
    mode: Mode = "rw",
    as_json: Annotated[bool, typer.Option("--json", help=(
        "Print the connection's connection_info, which the node needs to attach. "
        "It holds the CHAP secret: keep the output private."))] = False,
    config: ConfigOpt = None, persistence: PersistenceOpt = None,
    agent: AgentOpt = None, token_file: TokenOpt = None,
) -> None:
    """Export VOLUME to another node; prints the connection id (--json: with the secret connection_info)."""
    connector = _read_connector(connector_file)
    with session(_opts(config, persistence, agent, token_file)) as s:
        found = s.volume(volume)
        s.backend_of(found)
        connection = found.connect(connector, attached_host=host or connector.get("host"), attach_mode=mode)
        out.connected(connection, as_json=as_json)


def _read_connector(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise fail(f"--connector-file: cannot read {path}: {exc.strerror}", 2) from exc
    try:
        connector = json.loads(text)
    except ValueError as exc:
        raise fail(f"--connector-file: {path} is not JSON: {exc}", 2) from exc
    if not isinstance(connector, dict):
        raise fail(f"--connector-file: {path} must hold a JSON object (get_connector_properties())", 2)
    return connector


@app.command()
def disconnect(
    connection: Annotated[str, typer.Argument(metavar="CONNECTION", help="A connection id.")],
    force: Annotated[bool, typer.Option(help="End it even if the storage refuses to unexport.")] = False,
    config: ConfigOpt = None, persistence: PersistenceOpt = None,
    agent: AgentOpt = None, token_file: TokenOpt = None,
) -> None:
    """End a connection; the volume's export goes with its last one."""
    with session(_opts(config, persistence, agent, token_file)) as s:
        found = s.connection(connection)
        found.disconnect(force=force)
        out.done(f"disconnected {found.id}")


@app.command()
def extend(
    volume: VolumeArg, size: Size, config: ConfigOpt = None, persistence: PersistenceOpt = None,
    agent: AgentOpt = None, token_file: TokenOpt = None,
) -> None:
    """Grow VOLUME to SIZE GiB; devices attached on this host see it at once."""
    with session(_opts(config, persistence, agent, token_file)) as s:
        found = s.volume(volume)
        found.extend(size)
        out.done(f"extended {found.id} to {found.size} GiB" if found.size == size else f"extended {found.id}")


@app.command()
def snapshot(
    volume: VolumeArg,
    name: Annotated[str, typer.Option()] = "",
    description: Annotated[str, typer.Option()] = "",
    as_json: AsJson = False, config: ConfigOpt = None, persistence: PersistenceOpt = None,
    agent: AgentOpt = None, token_file: TokenOpt = None,
) -> None:
    """Snapshot VOLUME (a reflink where the share can); prints the snapshot id."""
    with session(_opts(config, persistence, agent, token_file)) as s:
        found = s.volume(volume)
        s.ready(s.backend_of(found))
        made = found.create_snapshot(name=name, description=description)
        out.created(made, as_json=as_json)


@app.command("snapshot-delete")
def snapshot_delete(
    snapshot_id: Annotated[str, typer.Argument(metavar="SNAPSHOT", help="A snapshot id, or a name one snapshot has.")],
    config: ConfigOpt = None, persistence: PersistenceOpt = None,
    agent: AgentOpt = None, token_file: TokenOpt = None,
) -> None:
    """Delete a snapshot."""
    with session(_opts(config, persistence, agent, token_file)) as s:
        found = s.snapshot(snapshot_id)
        found.delete()
        out.done(f"deleted snapshot {found.id}")


@app.command()
def clone(
    volume: VolumeArg,
    name: Annotated[str, typer.Option(help="The clone's name.")] = "",
    as_json: AsJson = False, config: ConfigOpt = None, persistence: PersistenceOpt = None,
    agent: AgentOpt = None, token_file: TokenOpt = None,
) -> None:
    """A new volume with VOLUME's data; prints its id."""
    with session(_opts(config, persistence, agent, token_file)) as s:
        found = s.volume(volume)
        s.ready(s.backend_of(found))
        made: Volume = found.clone(name=name)
        out.created(made, as_json=as_json)


@app.command()
def delete(
    volume: VolumeArg, config: ConfigOpt = None, persistence: PersistenceOpt = None,
    agent: AgentOpt = None, token_file: TokenOpt = None,
) -> None:
    """Delete VOLUME; refused while it has connections or snapshots."""
    with session(_opts(config, persistence, agent, token_file)) as s:
        found = s.volume(volume)
        found.delete()
        out.done(f"deleted {found.id}")


@app.command()
def connector(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: the file 'connect --connector-file' reads.")] = False,
    agent: AgentOpt = None, token_file: TokenOpt = None,
) -> None:
    """This host's connector properties (os-brick's keys, plus its agent's URL); needs no configuration."""
    from storconn.volumes import get_connector_properties, setup

    setup(agent_url=agent, agent_token_file=str(token_file) if token_file else None)
    out.key_values(get_connector_properties(), title="connector properties", as_json=as_json)


@app.command()
def cleanup(
    host_side: Annotated[bool, typer.Option(help=(
        "Also detach this host's volume attachments whose connection the database does not hold, and "
        "release volumes: references no attachment holds. Turn it off when controllers with other "
        "databases share this host's agent."))] = True,
    as_json: AsJson = False, config: ConfigOpt = None, persistence: PersistenceOpt = None,
    agent: AgentOpt = None, token_file: TokenOpt = None,
) -> None:
    """Finish or undo what crashes left (volumes, connections, this host's attachments); exit 1 on errors."""
    from storconn.volumes import cleanup as run_cleanup

    with session(_opts(config, persistence, agent, token_file)):
        report = run_cleanup(host_side=host_side)
        out.cleanup_report(report, as_json=as_json)
        if report.errors:
            raise typer.Exit(1)
