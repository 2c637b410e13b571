"""``storconn refs``: acquire, release, list and wait for connection references."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from storconn.connection import ErrorCode, StorconnError, format_uri, parse_info, parse_uri

if TYPE_CHECKING:
    from rich.table import Table

    from storconn.agent.client import AgentClient

app = typer.Typer(no_args_is_help=True, help="Connection references on one host's agent.")
console = Console()
errors = Console(stderr=True)

DEFAULT_URL = "http://127.0.0.1:54321"

DEFAULT_TOKEN_FILE = Path("/var/lib/storconn/agent/token")

AgentUrl = Annotated[str, typer.Option("--agent", envvar="STORCONN_AGENT_URL", help="The agent's URL.")]
TokenFile = Annotated[
    Path, typer.Option("--token-file", envvar="STORCONN_TOKEN_FILE", help="The agent's token file.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _client(agent: str, token_file: Path) -> AgentClient:
    from storconn.agent.client import AgentClient

    try:
        return AgentClient(agent, token_file=token_file)
    except OSError as exc:
        errors.print(f"[red]error:[/] cannot read the token file {token_file}: {exc.strerror}")
        raise typer.Exit(2) from exc


def _fail(message: str, code: int = 1) -> typer.Exit:
    errors.print(f"[red]error:[/] {message}")
    return typer.Exit(code)


def _code_name(code: int) -> str:
    try:
        return ErrorCode(code).name.lower().replace("_", " ")
    except ValueError:
        return f"error {code}"


@app.command()
def acquire(
    ref_id: Annotated[str, typer.Argument(metavar="ID")],
    uri: Annotated[str, typer.Argument(help="e.g. localfs:///srv/data or nfs://server/export")],
    password_file: Annotated[
        Path | None, typer.Option(help="A file holding the CHAP password (never on the command line).")
    ] = None,
    agent: AgentUrl = DEFAULT_URL,
    token_file: TokenFile = DEFAULT_TOKEN_FILE,
) -> None:
    """Acquire a reference: the agent stores it durably and connects in the background."""
    try:
        password = password_file.read_text().strip() if password_file is not None else None
        info = parse_uri(uri, password=password)
    except StorconnError as exc:
        raise _fail(str(exc), 2) from exc
    except OSError as exc:
        raise _fail(f"cannot read {password_file}: {exc.strerror}", 2) from exc
    with _client(agent, token_file) as client:
        code = _call(lambda: client.acquire({ref_id: info}))[ref_id]
    if code != 0:
        raise _fail(f"{ref_id}: {_code_name(code)} ({code})")
    console.print(f"acquired [bold]{ref_id}[/]: {format_uri(info)}")


@app.command()
def release(
    ref_ids: Annotated[list[str] | None, typer.Argument(metavar="ID...")] = None,
    prefix: Annotated[list[str] | None, typer.Option(help="Release every id starting with this (ends with ':').")] = None,
    agent: AgentUrl = DEFAULT_URL,
    token_file: TokenFile = DEFAULT_TOKEN_FILE,
    as_json: AsJson = False,
) -> None:
    """Release references by id or by prefix."""
    if not ref_ids and not prefix:
        raise _fail("give at least one ID or --prefix", 2)
    with _client(agent, token_file) as client:
        results = _call(lambda: client.release(ref_ids or [], prefixes=prefix or []))
    if as_json:
        console.print_json(json.dumps(results))
    else:
        for ref_id, code in results.items():
            if code == 0:
                console.print(f"released [bold]{ref_id}[/]")
            else:
                errors.print(f"[red]{ref_id}: {_code_name(code)} ({code})[/]")
    if any(code != 0 for code in results.values()):
        raise typer.Exit(1)


@app.command("list")
def list_refs(
    watch: Annotated[bool, typer.Option(help="Refresh every second until interrupted.")] = False,
    agent: AgentUrl = DEFAULT_URL,
    token_file: TokenFile = DEFAULT_TOKEN_FILE,
    as_json: AsJson = False,
) -> None:
    """List references (and unmanaged connections) with their state and last error."""
    with _client(agent, token_file) as client:
        if as_json:
            console.print_json(json.dumps(_call(client.statuses)))
            return
        if not watch:
            console.print(_table(_call(client.statuses)))
            return
        from rich.live import Live

        with Live(_table(_call(client.statuses)), console=console, refresh_per_second=2) as live:
            try:
                while True:
                    time.sleep(1)
                    live.update(_table(_call(client.statuses)))
            except KeyboardInterrupt:
                pass


@app.command()
def wait(
    ref_ids: Annotated[list[str], typer.Argument(metavar="ID...")],
    timeout: Annotated[float, typer.Option(min=0, max=300, help="Seconds to wait at most.")] = 30.0,
    agent: AgentUrl = DEFAULT_URL,
    token_file: TokenFile = DEFAULT_TOKEN_FILE,
    as_json: AsJson = False,
) -> None:
    """Wait until the references are connected; exit 1 and say why if one is not."""
    with _client(agent, token_file) as client, ThreadPoolExecutor(1) as pool:
        # The agent decides when waiting is over (connected, or an attempt made
        # after the call failed); meanwhile the progress line polls statuses.
        answer = pool.submit(client.wait, ref_ids, timeout)
        started = time.monotonic()
        with console.status("waiting…") as progress:
            while not answer.done():
                try:
                    now = client.statuses(ref_ids)
                except StorconnError:
                    now = {}
                connected = sum(1 for s in now.values() if s["connected"])
                elapsed = time.monotonic() - started
                progress.update(f"{connected}/{len(ref_ids)} connected, {elapsed:.0f}/{timeout:g} s")
                time.sleep(0.2)
        statuses = _call(answer.result)
    connected = sum(1 for s in statuses.values() if s["connected"])
    if as_json:
        console.print_json(json.dumps(statuses))
    for ref_id, status in statuses.items():
        if status["connected"]:
            if not as_json:
                console.print(f"[green]{ref_id}: connected[/] {status['path'] or ''}")
            continue
        code, message = status["lastError"]
        reason = f"{message} ({code})" if code else f"not connected within {timeout:g} s"
        errors.print(f"[red]{ref_id}: {reason}[/]")
    if connected != len(ref_ids):
        raise typer.Exit(1)


@app.command()
def discover(
    portal: Annotated[str, typer.Argument(help="HOST[:PORT] of an iSCSI portal ([v6addr]:port for IPv6).")],
    iface: Annotated[str, typer.Option(help="The iSCSI interface to discover through.")] = "default",
    agent: AgentUrl = DEFAULT_URL,
    token_file: TokenFile = DEFAULT_TOKEN_FILE,
    as_json: AsJson = False,
) -> None:
    """List the targets an iSCSI portal offers (SendTargets discovery, run by the agent)."""
    host, port = _split_portal(portal)
    with _client(agent, token_file) as client:
        targets = _call(lambda: client.discover(host, port, iface=iface))
    if as_json:
        console.print_json(json.dumps(targets))
        return
    from rich.table import Table

    table = Table(title=f"targets at {portal}")
    for column in ("iqn", "portal", "tpgt", "uri"):
        table.add_column(column, overflow="fold")
    for target in targets:
        address = target["portal"]["hostname"]
        shown = f"[{address}]" if ":" in address else address
        tpgt = target.get("tpgt")
        uri = f"iscsi://{shown}:{target['portal']['port']}/{target['iqn']}" + (f";portal={tpgt}" if tpgt is not None else "")
        table.add_row(target["iqn"], f"{shown}:{target['portal']['port']}", "" if tpgt is None else str(tpgt), uri)
    console.print(table)


def _split_portal(portal: str) -> tuple[str, int]:
    host, port = portal, 3260
    if portal.startswith("["):
        host, _, rest = portal[1:].partition("]")
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
    elif portal.count(":") == 1:
        host, _, text = portal.partition(":")
        if not text.isdigit():
            raise _fail(f"{portal!r}: the port must be a number", 2)
        port = int(text)
    return host, port


def _call(fn: Any) -> Any:
    try:
        return fn()
    except StorconnError as exc:
        raise _fail(str(exc)) from exc


def _target(info: dict[str, Any] | None) -> str:
    if info is None:
        return ""
    try:
        return format_uri(parse_info(info))
    except StorconnError:
        return json.dumps(info.get("params", {}))


def _table(statuses: dict[str, dict[str, Any]]) -> Table:
    from rich.table import Table

    table = Table(title=f"references on {os.uname().nodename}")
    for column in ("id", "type", "target", "connected", "managed", "path", "last error"):
        table.add_column(column, overflow="fold")
    for ref_id, status in sorted(statuses.items()):
        info = status.get("connectionInfo") or {}
        code, message = status["lastError"]
        table.add_row(
            ref_id,
            info.get("type", ""),
            _target(info),
            "[green]yes[/]" if status["connected"] else "[red]no[/]",
            "yes" if status["managed"] else "[yellow]no[/]",
            status.get("path") or "",
            f"{code} {message}" if code else "",
        )
    return table
