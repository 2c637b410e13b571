"""``storconn engine``: serve the engine, manage its users, and list what it holds."""

from __future__ import annotations

import gc
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, help="The central engine: serve it, add users, list its inventory.")
console = Console()
errors = Console(stderr=True)

DEFAULT_STATE = Path("/var/lib/storconn/engine")
DEFAULT_URL = "http://127.0.0.1:8080"

StateDir = Annotated[Path, typer.Option(envvar="STORCONN_ENGINE_STATE_DIR", help="Key file, admin password, SQLite file.")]
Database = Annotated[str | None, typer.Option("--db", envvar="STORCONN_ENGINE_DB", help="SQLAlchemy URL; default: SQLite in the state directory.")]


def _database(db: str | None, state_dir: Path) -> str:
    return db or f"sqlite:///{state_dir / 'engine.sqlite'}"


def _admin_password(state_dir: Path) -> str:
    """``STORCONN_ADMIN_PASSWORD``, or one generated on first start into ``admin-password`` (0600)."""
    given = os.environ.get("STORCONN_ADMIN_PASSWORD")
    if given:
        return given
    path = state_dir / "admin-password"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    password = secrets.token_urlsafe(18)
    with os.fdopen(fd, "w") as file:
        file.write(password + "\n")
    return password


def _open_engine(db: str | None, state_dir: Path) -> Any:
    from storconn.engine.service import Engine

    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ.setdefault("STORCONN_ADMIN_PASSWORD", _admin_password(state_dir))
    return Engine(_database(db, state_dir), key_file=state_dir / "key")


@app.command()
def serve(
    state_dir: StateDir = DEFAULT_STATE,
    db: Database = None,
    listen: Annotated[str, typer.Option(envvar="STORCONN_ENGINE_LISTEN", help="HOST:PORT")] = "127.0.0.1:8080",
    local_agent: Annotated[str | None, typer.Option(envvar="STORCONN_ENGINE_LOCAL_AGENT", help="Register this agent URL as host 'local'.")] = None,
    local_agent_token_file: Annotated[Path | None, typer.Option(envvar="STORCONN_ENGINE_LOCAL_AGENT_TOKEN_FILE")] = None,
    sync_interval: Annotated[float, typer.Option(envvar="STORCONN_ENGINE_SYNC_INTERVAL", min=1, help="Seconds between host syncs.")] = 30.0,
    log_format: Annotated[str, typer.Option(envvar="STORCONN_LOG_FORMAT", help="text or json")] = "text",
    log_level: Annotated[str, typer.Option(envvar="STORCONN_LOG_LEVEL")] = "info",
) -> None:
    """Serve the REST API (oVirt API v4 compatible) and the web admin at the same address."""
    import uvicorn

    from storconn.engine.api import create_app
    from storconn.engine.web import create_web_app

    from .logs import configure, exit_on_sigterm

    configure(level=log_level, fmt=log_format)
    host, _, port = listen.rpartition(":")
    if not port.isdigit():
        raise typer.BadParameter(f"{listen!r} is not HOST:PORT", param_hint="--listen")
    engine = _open_engine(db, state_dir)
    if local_agent:
        _register_local_agent(engine, local_agent, local_agent_token_file)
    stop = threading.Event()
    syncer = threading.Thread(target=_sync_hosts, args=(engine, sync_interval, stop), daemon=True,
                              name="storconn-host-sync")
    syncer.start()
    exit_on_sigterm()
    api = create_app(engine, web=create_web_app(engine, session_key=engine.web_session_key()))
    # What is loaded by now (the libraries, the app) lives as long as the
    # process: out of the collector's reach, a full collection walks only
    # what requests built. A list of 10,000 builds enough objects to trigger
    # several of them; walking the whole heap each time cost a third of it.
    gc.freeze()
    try:
        uvicorn.run(api, host=host.strip("[]") or "127.0.0.1", port=int(port),
                    log_level=log_level, access_log=False)
    finally:
        stop.set()
        syncer.join(timeout=10)
        engine.close()


def _sync_hosts(engine: Any, interval: float, stop: threading.Event) -> None:
    """Bring hosts that answer again Up and make their references match, every ``interval`` seconds."""
    log = logging.getLogger("storconn.engine.sync")
    while not stop.wait(interval):
        try:
            engine.sync_hosts()
        except Exception:
            log.exception("host sync failed; the next one retries")


def _register_local_agent(engine: Any, url: str, token_file: Path | None) -> None:
    from urllib.parse import urlsplit

    from storconn.engine.errors import NotFound

    parts = urlsplit(url)
    token = token_file.read_text().strip() if token_file else None
    try:
        engine.get_host("local")
    except NotFound:
        engine.add_host("local", address=parts.hostname or "127.0.0.1", port=parts.port or 54321, token=token)


user_app = typer.Typer(no_args_is_help=True, help="Engine users.")
app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="e.g. alice@internal")],
    role: Annotated[str, typer.Option(help="admin or viewer")] = "viewer",
    password_file: Annotated[Path | None, typer.Option(help="A file holding the password; else asked for.")] = None,
    state_dir: StateDir = DEFAULT_STATE,
    db: Database = None,
) -> None:
    """Add a user to the engine's database."""
    from storconn.engine.errors import EngineError
    from storconn.engine.model import Role

    try:
        chosen = Role(role)
    except ValueError as exc:
        raise typer.BadParameter("admin or viewer", param_hint="--role") from exc
    password = password_file.read_text().strip() if password_file else typer.prompt("password", hide_input=True)
    engine = _open_engine(db, state_dir)
    try:
        engine.add_user(name, password, chosen)
    except EngineError as exc:
        errors.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        engine.close()
    console.print(f"added {name} ({chosen.value})")


EngineUrl = Annotated[str, typer.Option("--engine", envvar="STORCONN_ENGINE_URL")]
User = Annotated[str, typer.Option("--user", envvar="STORCONN_ENGINE_USER")]
PasswordFile = Annotated[Path | None, typer.Option(envvar="STORCONN_ENGINE_PASSWORD_FILE")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _get(engine_url: str, user: str, password_file: Path | None, path: str) -> Any:
    import httpx

    try:
        password = password_file.read_text().strip() if password_file else os.environ.get("STORCONN_ENGINE_PASSWORD", "")
    except OSError as exc:
        errors.print(f"[red]error:[/] cannot read the password file {password_file}: {exc.strerror}")
        raise typer.Exit(2) from exc
    try:
        response = httpx.get(f"{engine_url}/ovirt-engine/api/{path}", auth=(user, password),
                             headers={"Accept": "application/json"}, timeout=30)
    except httpx.HTTPError as exc:
        errors.print(f"[red]error:[/] cannot reach the engine at {engine_url}: {exc}")
        raise typer.Exit(1) from exc
    if response.status_code != 200:
        errors.print(f"[red]error:[/] HTTP {response.status_code}: {response.text[:300]}")
        raise typer.Exit(1)
    return response.json()


def _listing(payload: Any, key: str) -> list[dict[str, Any]]:
    items = payload.get(key, []) if isinstance(payload, dict) else payload
    return list(items or [])


def _print_items(
    items: list[dict[str, Any]], *, as_json: bool, title: str, columns: Sequence[str],
    row: Callable[[dict[str, Any]], Sequence[str]],
) -> None:
    """The items as JSON, or as a table of ``columns`` with one ``row(item)`` each."""
    if as_json:
        console.print_json(json.dumps(items))
        return
    from rich.table import Table  # on use, as the other imports here: the CLI starts quicker

    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(*row(item))
    console.print(table)


@app.command("connections")
def list_connections(
    engine: EngineUrl = DEFAULT_URL, user: User = "admin@internal",
    password_file: PasswordFile = None, as_json: AsJson = False,
) -> None:
    """List storage connections."""
    items = _listing(_get(engine, user, password_file, "storageconnections"), "storage_connection")
    _print_items(items, as_json=as_json, title="storage connections", row=_connection_row,
                 columns=("id", "type", "address", "path / target", "port", "vfs_type", "mount_options"))


def _connection_row(item: dict[str, Any]) -> tuple[str, ...]:
    return (item.get("id", ""), item.get("type", ""), item.get("address", "") or "",
            item.get("path") or item.get("target") or "", str(item.get("port") or ""),
            item.get("vfs_type") or "", item.get("mount_options") or "")


@app.command("domains")
def list_domains(
    engine: EngineUrl = DEFAULT_URL, user: User = "admin@internal",
    password_file: PasswordFile = None, as_json: AsJson = False,
) -> None:
    """List storage domains."""
    items = _listing(_get(engine, user, password_file, "storagedomains"), "storage_domain")
    _print_items(items, as_json=as_json, title="storage domains", row=_domain_row,
                 columns=("id", "name", "type", "storage", "status"))


def _domain_row(item: dict[str, Any]) -> tuple[str, ...]:
    storage = item.get("storage") or {}
    return (item.get("id", ""), item.get("name", ""), item.get("type", ""),
            storage.get("type", "") if isinstance(storage, dict) else "", item.get("status", "") or "")
