"""``storconn``: the agent server and its clients."""

from __future__ import annotations

import typer

from . import agent, engine, refs, volumes

app = typer.Typer(no_args_is_help=True, add_completion=False, help="storconn: storage connections that stay up.")
app.add_typer(agent.app, name="agent")
app.add_typer(refs.app, name="refs")
app.add_typer(engine.app, name="engine")
app.add_typer(volumes.app, name="volumes")

if __name__ == "__main__":
    app()
