"""The Test button, shared by Manage Domain and the connection page: unsaved details tried on hosts."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from storconn.engine.errors import EngineError
from storconn.engine.model import ConnectionFields, Host, StorageType

from . import forms

__all__ = ["run_test", "wants_fragment"]


async def run_test(
    engine: Any,
    form: dict[str, str],
    *,
    connection_id: str,
    storage_type: StorageType,
    hosts: list[Host],
    editable: bool,
) -> dict[str, Any]:
    """``{"answers": [...], "problem": str | None}`` for the form's details on the chosen host(s).

    Outside maintenance the stored details are tested: the form's fields are
    disabled then, and what is tested is what the hosts hold.
    """
    chosen = form.get("test_host", "")
    host_ids = [host.id for host in hosts] if chosen == "all" else [chosen]
    try:
        fields = forms.read_connection_fields(form, storage_type) if editable else ConnectionFields()
        answers = await run_in_threadpool(
            lambda: engine.test_fields(connection_id, fields, host_ids=host_ids)
        )
    except forms.FormError as exc:
        return {"answers": [], "problem": str(exc)}
    except EngineError as exc:
        return {"answers": [], "problem": exc.detail.strip("[]")}
    return {"answers": answers, "problem": None}


def wants_fragment(request: Request) -> bool:
    """Whether htmx asked for a part of a page; not when it restores history or follows a boosted link,
    where it wants the whole page."""
    headers = request.headers
    return bool(headers.get("HX-Request")) and not (
        headers.get("HX-History-Restore-Request") or headers.get("HX-Boosted")
    )
