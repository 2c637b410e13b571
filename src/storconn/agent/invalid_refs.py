"""Stored references whose connection info no longer validates.

An older agent, or one from before validation was tightened, may have stored
an info the current one refuses (``ssh_command=...``, ``vfsType=fuse.awk``,
``bind``), or a row that is not even JSON. Such a row must not stop the
agent: it loads as a *reference in error* — listed with this module's error
and its info redacted, never connected, releasable — so that its owner sees
why and can release it.
"""

from __future__ import annotations

import json
from typing import Any

from storconn.connection import SECRET_MASK, ErrorCode, option_secrets, redact_text

_SECRET_KEYS = frozenset({"password", "passwd", "pass", "secret", "token"})
_MAX_DEPTH = 20  # a stored document deeper than this is shown no further


def load_error(reason: str) -> tuple[int, str]:
    """The ``lastError`` of a reference whose stored info is refused for ``reason``."""
    return (
        int(ErrorCode.INVALID_PARAMETER),
        f"the stored connection info is no longer accepted ({reason}); "
        "this reference is never connected: release it and acquire a valid one",
    )


def redacted_wire(info_json: str) -> dict[str, Any] | None:
    """The stored info as a status shows it, secrets masked; None if it is not a JSON object.

    A document that no model accepts cannot be redacted by its model, so
    this masks by name: every value under a key such as ``password``, every
    secret mount option, and each of those values wherever else it appears.
    """
    try:
        document = json.loads(info_json)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    secrets: set[str] = set()
    _collect_secrets(document, secrets, depth=0)
    shown = _mask(document, secrets, depth=0)
    return shown if isinstance(shown, dict) else None


def _collect_secrets(value: object, found: set[str], *, depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and key.lower() in _SECRET_KEYS and isinstance(item, str):
                found.add(item)
            elif key == "options" and isinstance(item, str):
                found.update(option_secrets(item))
            else:
                _collect_secrets(item, found, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            _collect_secrets(item, found, depth=depth + 1)


def _mask(value: object, secrets: set[str], *, depth: int) -> object:
    if depth > _MAX_DEPTH:
        return SECRET_MASK
    if isinstance(value, dict):
        return {
            key: SECRET_MASK if isinstance(key, str) and key.lower() in _SECRET_KEYS
            else _mask(item, secrets, depth=depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_mask(item, secrets, depth=depth + 1) for item in value]
    if isinstance(value, str):
        return redact_text(value, secrets)
    return value
