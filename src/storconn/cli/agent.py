"""``storconn agent serve``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from storconn.connection import InvalidParameter

app = typer.Typer(no_args_is_help=True, help="Run the host agent.")

Seconds = Annotated[float | None, typer.Option(min=0, show_default=False)]


def _split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise typer.BadParameter(f"{listen!r} is not HOST:PORT", param_hint="--listen")
    return host.strip("[]") or "127.0.0.1", int(port)


@app.command()
def serve(
    state_dir: Annotated[Path | None, typer.Option(envvar="STORCONN_AGENT_STATE_DIR", help="References, ownership records and the token. [default: /var/lib/storconn/agent]")] = None,
    mount_root: Annotated[Path | None, typer.Option(envvar="STORCONN_AGENT_MOUNT_ROOT", help="Where targets are mounted. [default: /run/storconn/mnt]")] = None,
    listen: Annotated[str | None, typer.Option(envvar="STORCONN_AGENT_LISTEN", help="HOST:PORT; anything but loopback needs TLS. [default: 127.0.0.1:54321]")] = None,
    tls_cert: Annotated[Path | None, typer.Option(envvar="STORCONN_AGENT_TLS_CERT")] = None,
    tls_key: Annotated[Path | None, typer.Option(envvar="STORCONN_AGENT_TLS_KEY")] = None,
    config: Annotated[Path | None, typer.Option(envvar="STORCONN_AGENT_CONFIG", help="TOML file with an [agent] table; flags and variables win over it.")] = None,
    period: Annotated[float | None, typer.Option(envvar="STORCONN_AGENT_PERIOD", help="Reconcile period, s. [default: 1]")] = None,
    grace: Annotated[float | None, typer.Option(envvar="STORCONN_AGENT_GRACE", help="Last release → disconnect, s. [default: 2]")] = None,
    probe_interval: Annotated[float | None, typer.Option(envvar="STORCONN_AGENT_PROBE_INTERVAL", help="s. [default: 2]")] = None,
    probe_timeout: Annotated[float | None, typer.Option(envvar="STORCONN_AGENT_PROBE_TIMEOUT", help="s. [default: 2]")] = None,
    backoff_base: Annotated[float | None, typer.Option(envvar="STORCONN_AGENT_BACKOFF_BASE", help="s. [default: 0.25]")] = None,
    backoff_cap: Annotated[float | None, typer.Option(envvar="STORCONN_AGENT_BACKOFF_CAP", help="s. [default: 1.5]")] = None,
    pool_size: Annotated[int | None, typer.Option(envvar="STORCONN_AGENT_POOL_SIZE", help="Operations in parallel. [default: 16]")] = None,
    unsupported_retry: Annotated[float | None, typer.Option(envvar="STORCONN_AGENT_UNSUPPORTED_RETRY", help="Retry of what this host cannot do (494), s. [default: 30]")] = None,
    log_format: Annotated[str, typer.Option(envvar="STORCONN_LOG_FORMAT", help="text or json")] = "text",
    log_level: Annotated[str, typer.Option(envvar="STORCONN_LOG_LEVEL")] = "info",
) -> None:
    """Serve the agent's JSON-RPC API and keep every referenced target connected."""
    from storconn.agent.config import AgentConfig, load_toml, tuning
    from storconn.agent.server import serve as run_server

    from .logs import configure, exit_on_sigterm

    configure(level=log_level, fmt=log_format)
    exit_on_sigterm()
    file_values: dict[str, Any] = load_toml(config) if config else {}

    def pick(flag: Any, key: str, default: Any) -> Any:
        return flag if flag is not None else file_values.get(key, default)

    base = AgentConfig()
    host, port = _split_listen(pick(listen, "listen", f"{base.host}:{base.port}"))
    tuned = {
        "period": period, "grace": grace, "probe_interval": probe_interval,
        "probe_timeout": probe_timeout, "backoff_base": backoff_base,
        "backoff_cap": backoff_cap, "pool_size": pool_size, "unsupported_retry": unsupported_retry,
    }
    try:
        reconciler = tuning(base.reconciler, {k: pick(v, k, None) for k, v in tuned.items()})
        settings = replace(
            base,
            state_dir=Path(pick(state_dir, "state_dir", base.state_dir)),
            mount_root=Path(pick(mount_root, "mount_root", base.mount_root)),
            host=host,
            port=port,
            tls_cert=pick(tls_cert, "tls_cert", None),
            tls_key=pick(tls_key, "tls_key", None),
            reconciler=reconciler,
        )
        run_server(settings, log_level=log_level)
    except InvalidParameter as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
