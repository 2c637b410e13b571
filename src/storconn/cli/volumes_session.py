"""One ``storconn volumes`` command's session: the configuration read, the library set up, errors printed.

``session(opts)`` is the only place where errors become exit codes, so that
every command behaves the same: a ``ConfigError`` (the file, a flag) exits 2,
a library error (``VolumeError``, ``InvalidParameter``, any ``StorconnError``)
exits 1, each as one ``error: ...`` line on stderr and never a traceback.
Library messages never hold a secret (``InvalidParameter`` names the field,
not its value), so printing them is safe.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from storconn.connection import InvalidParameter, StorconnError

from .volumes_config import (
    DEFAULT_CONFIG,
    ConfigError,
    VolumesConfig,
    load_config,
    make_backends,
    url_has_password,
)

if TYPE_CHECKING:
    from storconn.volumes import Backend, Connection, Snapshot, Volume

__all__ = ["ConfigOpt", "Opts", "PersistenceOpt", "Session", "fail", "session"]

errors = Console(stderr=True)

def _refuse_password_in_argv(ctx: typer.Context, param: typer.CallbackParam, value: str | None) -> str | None:
    """A --persistence URL with a password is refused when it came from argv (``/proc/*/cmdline``
    is world-readable); from ``STORCONN_VOLUMES_DB`` it is accepted (``/proc/*/environ`` is not)."""
    source = ctx.get_parameter_source(param.name) if param.name else None
    if value is not None and source is not None and source.name == "COMMANDLINE" and url_has_password(value):
        raise typer.BadParameter(
            "the URL holds a password, which the command line shows to every user; "
            "put it in persistence.password_file of the configuration, or use STORCONN_VOLUMES_DB"
        )
    return value


ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", envvar="STORCONN_VOLUMES_CONFIG", show_default=False,
    help=f"TOML with \\[persistence] and \\[backends.NAME] tables.  \\[default: {DEFAULT_CONFIG}]")]
PersistenceOpt = Annotated[str | None, typer.Option(
    "--persistence", envvar="STORCONN_VOLUMES_DB", show_default=False, callback=_refuse_password_in_argv,
    help="SQLAlchemy URL replacing persistence.connection (no password here: use persistence.password_file).")]


@dataclass(frozen=True, slots=True)
class Opts:
    config: Path | None
    persistence: str | None
    agent: str | None
    token_file: Path | None


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr; returns the Exit to raise."""
    errors.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


class Session:
    """The checked configuration and its Backends, with lookups that say what is wrong."""

    def __init__(self, config: VolumesConfig, backends: dict[str, Backend]) -> None:
        self.config = config
        self.backends = backends

    def backend(self, name: str) -> Backend:
        found = self.backends.get(name)
        if found is None:
            known = ", ".join(sorted(self.backends)) or "none"
            raise ConfigError(f"BACKEND: {name!r} is not a [backends.NAME] table of {self.config.path} "
                              f"(configured: {known})")
        return found

    def ready(self, backend: Backend) -> Backend:
        """The backend with its storage reached (the share held by the agent).

        Called before a command stores anything: the library records a new
        volume before asking the driver, so an unreachable agent would
        otherwise leave a volume in ``error`` behind a failed ``create``.
        """
        with errors.status(f"reaching backend {backend.id}'s storage…"):
            backend.driver_ready()
        return backend

    def backend_of(self, volume: Volume) -> Backend:
        name = volume._record.backend
        if name not in self.backends:
            raise ConfigError(f"{self.config.path}: backends.{name}: volume {volume.id} is on this backend, "
                              "which the file does not configure")
        return self.backends[name]

    def volume(self, text: str, *, configured: bool = True) -> Volume:
        """The volume whose id is ``text``, else the one volume named ``text``.

        With ``configured`` (every command that acts on the storage) its
        backend must be one of the file's; ``show`` reads records only.
        """
        from storconn.volumes import Backend, Volume

        persistence = Backend.persistence
        try:
            records = persistence.get_volumes(volume_id=text)
        except InvalidParameter:  # not an id at all: try it as a name
            records = []
        if not records:
            records = persistence.get_volumes(volume_name=text)
        if not records:
            raise InvalidParameter("VOLUME", f"no volume has the id or name {text!r}")
        if len(records) > 1:
            ids = ", ".join(r.id for r in records)
            raise InvalidParameter("VOLUME", f"{len(records)} volumes are named {text!r}; give an id ({ids})")
        volume = Volume._wrap(records[0])
        if configured:
            self.backend_of(volume)
        return volume

    def snapshot(self, text: str) -> Snapshot:
        from storconn.volumes import Backend, Snapshot

        persistence = Backend.persistence
        try:
            records = persistence.get_snapshots(snapshot_id=text)
        except InvalidParameter:
            records = []
        if not records:
            records = persistence.get_snapshots(snapshot_name=text)
        if not records:
            raise InvalidParameter("SNAPSHOT", f"no snapshot has the id or name {text!r}")
        if len(records) > 1:
            raise InvalidParameter("SNAPSHOT", f"{len(records)} snapshots are named {text!r}; give an id")
        snapshot = Snapshot._wrap(records[0])
        self.backend(records[0].backend)
        return snapshot

    def connection(self, text: str) -> Connection:
        from storconn.volumes import Backend, Connection

        try:
            records = Backend.persistence.get_connections(connection_id=text)
        except InvalidParameter:
            records = []
        if not records:
            raise InvalidParameter("CONNECTION", f"no connection has the id {text!r}")
        if records[0].backend not in self.backends:
            raise ConfigError(f"{self.config.path}: backends.{records[0].backend}: connection {text} is on "
                              "this backend, which the file does not configure")
        return Connection._wrap(records[0])


@contextmanager
def session(opts: Opts, *, persistence_needed: bool = True) -> Iterator[Session]:
    """Read the configuration, set the library up, run the command, turn errors into exit codes."""
    from storconn import volumes

    opened = False
    try:
        config = load_config(opts.config or DEFAULT_CONFIG, database=opts.persistence)
        token_file = str(opts.token_file) if opts.token_file else None
        if persistence_needed:
            try:
                volumes.setup(persistence_config=config.persistence, agent_url=opts.agent,
                              agent_token_file=token_file)
            except InvalidParameter as exc:
                raise ConfigError(f"{config.path}: persistence.{exc.field.removeprefix('persistence_config.')}: {exc.reason}") from exc
            except StorconnError as exc:
                raise ConfigError(f"cannot open the persistence {config.database_url()}: {exc}") from exc
            opened = True
        else:
            volumes.setup(agent_url=opts.agent, agent_token_file=token_file)
        yield Session(config, make_backends(config))
    except ConfigError as exc:
        raise fail(str(exc), 2) from exc
    except StorconnError as exc:
        raise fail(str(exc), 1) from exc
    except OSError as exc:  # a file the library reads or writes; never a traceback
        raise fail(f"{exc.filename or 'I/O'}: {exc.strerror or exc}", 1) from exc
    finally:
        _close(opened)


def _close(opened: bool) -> None:
    """Leave the library as a fresh process has it, so that commands run in one process
    (tests, a program calling ``app``) never see each other's backends or database."""
    from storconn.volumes import Backend, agent_link, setup

    for backend in list(Backend.backends.values()):
        backend.driver.close()  # keeps the agent's hold on the share: the controller's, by design
    Backend.backends.clear()
    if opened:
        setup(persistence_config={"storage": "memory"})  # closes the database
    agent_link.close_all()  # also forgets the --agent this command configured
