"""What ``storconn volumes`` prints: Rich tables for people, JSON for programs, bare ids and paths for shells.

Single values (a new id, a device path) are printed alone on stdout with
``typer.echo``, never through Rich, so ``dev=$(storconn volumes attach v1)``
gets exactly the path however wide the terminal. JSON is ``json.dumps``
text for the same reason. Secrets are masked everywhere except
``connected(..., as_json=True)``, whose caller asked for the secret.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from rich.table import Table

    from storconn.volumes import CleanupReport, Connection, Snapshot, Volume

__all__ = ["attached", "backends", "cleanup_report", "connected", "created", "done", "errors",
           "key_values", "volume_details", "volumes"]

console = Console()
errors = Console(stderr=True)


def _json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


def _table(title: str, columns: tuple[str, ...]) -> Table:
    from rich.table import Table  # on use: the CLI starts quicker

    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def done(message: str) -> None:
    console.print(escape(message), soft_wrap=True)


def created(item: Volume | Snapshot, *, as_json: bool) -> None:
    if as_json:
        _json(item.json["data"])
    else:
        typer.echo(item.id)


def backends(configured: dict[str, dict[str, Any]], *, as_json: bool) -> None:
    shown = {name: _masked_backend(cfg) for name, cfg in sorted(configured.items())}
    if as_json:
        _json(shown)
        return
    table = _table("volume backends", ("name", "driver", "share", "options"))
    for name, cfg in shown.items():
        options = {k: v for k, v in cfg.items() if k not in ("volume_driver", "share")}
        table.add_row(escape(name), escape(str(cfg.get("volume_driver", "file"))), escape(str(cfg.get("share", ""))),
                      escape(", ".join(f"{k}={v}" for k, v in sorted(options.items()))))
    console.print(table)


def _masked_backend(cfg: dict[str, Any]) -> dict[str, Any]:
    """The backend's configuration with the share as its canonical URI, password masked."""
    from storconn.connection import StorconnError, format_uri
    from storconn.volumes.drivers import parse_share
    from storconn.volumes.records import redact_conn_info

    shown = redact_conn_info(dict(cfg))
    if "share" in cfg:
        try:
            shown["share"] = format_uri(parse_share(cfg["share"]))
        except StorconnError:
            shown["share"] = "(invalid)"
    return dict(shown)


def volumes(rows: list[tuple[Volume, list[str]]], *, as_json: bool) -> None:
    """Each volume with the ids of its connections."""
    if as_json:
        _json([{**v.json["data"], "connections": ids} for v, ids in rows])
        return
    table = _table("volumes", ("id", "name", "size", "status", "multiattach", "connections", "backend"))
    for volume, ids in rows:
        table.add_row(volume.id, escape(volume.name), f"{volume.size} GiB", volume.status,
                      "yes" if volume.multiattach else "no", str(len(ids)), escape(volume._record.backend))
    console.print(table)


def volume_details(volume: Volume, *, as_json: bool) -> None:
    if as_json:
        dumped = volume.dump  # masked: dump never holds a secret
        _json({**dumped["data"], "snapshots": [s["data"] for s in dumped.get("snapshots", [])],
               "connections": [c["data"] for c in dumped.get("connections", [])]})
        return
    data = volume.json["data"]
    fields = ("id", "name", "description", "backend", "size", "status", "multiattach", "format",
              "provider_location", "source_volid", "snapshot_id", "created_at")
    key_values({k: data.get(k) for k in fields}, title=f"volume {volume.id}", as_json=False)
    snapshots = volume.snapshots
    if snapshots:
        table = _table("snapshots", ("id", "name", "status", "size", "created"))
        for snap in snapshots:
            table.add_row(snap.id, escape(snap.name), snap.status, f"{snap.volume_size} GiB", str(snap.created_at))
        console.print(table)
    connections = volume.connections
    if connections:
        table = _table("connections", ("id", "host", "mode", "status", "protocol", "device"))
        for conn in connections:
            device = conn.device or {}
            shown = f"{device.get('type', '')} {device.get('path', '')}".strip()
            table.add_row(conn.id, escape(conn.attached_host or ""), conn.attach_mode, conn.status,
                          conn.protocol or "", escape(shown))
        console.print(table)


def attached(connection_id: str, device: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        _json({"connection": connection_id, "device": device})
    else:
        typer.echo(device.get("path", ""))


def connected(connection: Connection, *, as_json: bool) -> None:
    """The id; with --json also ``connection_info``, CHAP secret included (the node needs it)."""
    if as_json:
        _json({"id": connection.id, "volume_id": connection.volume_id, "attached_host": connection.attached_host,
               "attach_mode": connection.attach_mode, "connection_info": connection.connection_info})
    else:
        typer.echo(connection.id)


def key_values(values: dict[str, Any], *, title: str, as_json: bool) -> None:
    if as_json:
        _json(values)
        return
    table = _table(title, ("key", "value"))
    for key, value in values.items():
        table.add_row(key, escape("" if value is None else str(value)))
    console.print(table)


def cleanup_report(report: CleanupReport, *, as_json: bool) -> None:
    found = asdict(report)
    if as_json:
        _json(found)
        return
    if not any(found.values()):
        console.print("nothing to clean up")
        return
    for kind, ids in found.items():
        for item in ids:
            line = f"{kind.replace('_', ' ')}: {item}"
            if kind == "errors":
                errors.print(f"[red]error:[/] {escape(item)}", soft_wrap=True)
            else:
                console.print(escape(line), soft_wrap=True)
