"""Log set-up: one line per event, as text or as JSON lines."""

from __future__ import annotations

import json
import logging
import signal
import sys
from typing import Any


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def exit_on_sigterm() -> None:
    """Make SIGTERM end the process through SystemExit, so ``finally`` blocks run.

    uvicorn shuts down gracefully on SIGTERM, then restores the handler it
    found and raises the signal again: with the default handler the process
    would die right there, before the engine or agent is closed.
    """
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))


def configure(*, level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries that narrate every request or migration step: their news is
    # the engine's own log lines, so only their warnings are kept.
    for chatty in ("httpx", "httpcore", "alembic"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
