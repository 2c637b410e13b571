"""How Manage Domain and the connection forms answer: a fragment for the page's ``<dialog>``, a page without it.

The forms are pages of their own (``/storage/{id}/edit``, ``/connections/…``)
so that they work without JavaScript. With it, ``static/dialog.js`` loads the
same form into the ``<dialog>`` of the list page through htmx, which sends
``HX-Request``: the server then answers the form alone, and after a save a
notice for the page's status region and an event that closes the dialog and
refreshes the rows, instead of a redirect to a whole page.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .kit import Kit
from .probe import wants_fragment
from .session import SessionUser

__all__ = ["SAVED_EVENT", "form_answer", "saved"]

SAVED_EVENT = "storconn-saved"  # what dialog.js listens for: close, refresh the rows, give focus back


def form_answer(
    kit: Kit,
    request: Request,
    user: SessionUser,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
) -> Response:
    """The form as a fragment for the dialog (``_``-prefixed partial), or as its page."""
    if wants_fragment(request):
        return kit.page(
            request, f"_{template}", user, {**context, "dialog": True}, status_code=status_code
        )
    return kit.page(request, template, user, context, status_code=status_code)


def saved(kit: Kit, request: Request, text: str, back: str) -> Response:
    """After a save: the notice, where the dialog's page shows notices; or the flash and a redirect."""
    if not wants_fragment(request):
        kit.flash(request, "ok", text)
        return RedirectResponse(back, status_code=303)
    response = kit.templates.TemplateResponse(
        request, "_notice.html", {"notice": {"kind": "ok", "text": text}}
    )
    # After settling, so that the dialog closes once the notice is in place (and the form gone with it).
    response.headers["HX-Retarget"] = "#notices"
    response.headers["HX-Reswap"] = "innerHTML"
    response.headers["HX-Trigger-After-Settle"] = SAVED_EVENT
    return response
