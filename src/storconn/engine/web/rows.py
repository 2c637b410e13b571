"""The Storage table's rows as HTML: the one part of a page written in Python rather than a template.

A page of 1,000 domains on 10 hosts prints about 70,000 values. Jinja wraps
each in a Markup object to escape it (~4 µs apiece), which made the rows
template ten times the cost of every read behind the page together. Here
each value is escaped once with ``html.escape``, what repeats (a host's cell
in a given state, an action's form) is built once per render and reused,
and the rows come back as one Markup that ``storage_rows.html`` prints as is.
The markup is the template's was, and the page tests read it the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from .views import DomainRow, HostCell

__all__ = ["storage_rows_html"]


def storage_rows_html(
    rows: Sequence[DomainRow], *, page_query: str, csrf_field: str, csrf_token: str | None
) -> Markup:
    """The ``<tr>`` of each row; with a ``csrf_token`` (an admin's), each row's action forms."""
    forms = _ActionForms(page_query, csrf_field, csrf_token) if csrf_token is not None else None
    out: list[str] = []
    for row in rows:
        domain = row.domain
        domain_id, name = escape(domain.id), escape(domain.name)
        hosts = "<br>".join(_cell(cell) for cell in row.hosts) or "—"
        out.append(
            f'<tr id="domain-{domain_id}">\n'
            f'  <th scope="row"><a href="/storage/{domain_id}/edit" data-dialog>{name}</a></th>\n'
            f'  <td class="status">{domain.status.value}</td>\n'
            f"  <td>{escape(domain.domain_type)}</td>\n"
            f"  <td>{domain.storage_type.value}</td>\n"
            f"  <td>{escape(row.connection)}</td>\n"
            f"  <td>{escape(row.data_center) or '—'}</td>\n"
            f'  <td class="hosts">{hosts}</td>\n'
        )
        if forms is not None:
            out.append(f'  <td class="actions">{forms.for_row(row, domain_id, name)}</td>\n')
        out.append("</tr>\n")
    return Markup("".join(out))


def _cell(cell: HostCell) -> str:
    """One host's state in a domain's row, printed once a cell.

    The cells that do not depend on the domain are shared by every row, and
    the others live as long as the agent's answer they come from
    (views._HostColumn): a page printed again from the same answer reuses them.
    """
    if cell.html is None:
        # A connected cell's detail (the agent's mount path) is on the host's page; here it would
        # be most of the page's bytes. Every other state's detail is its reason, kept as the title.
        title = "" if cell.state == "connected" else f' title="{escape(cell.detail)}"'
        cell.html = f'<span class="host-state {cell.state}"{title}>{escape(cell.text)}</span>'
    return cell.html


class _ActionForms:
    """Each action's form, with the page's query and the session's CSRF token filled in once."""

    def __init__(self, page_query: str, csrf_field: str, csrf_token: str) -> None:
        query = escape(page_query)
        hidden = f'<input type="hidden" name="{escape(csrf_field)}" value="{escape(csrf_token)}">'
        self._parts = {
            action: (
                '<form method="post" action="/storage/',
                f'/{action}?{query}" class="inline">{hidden}'
                f'<button type="submit" aria-label="{action.capitalize()} ',
                f'">{action.capitalize()}</button></form>',
            )
            for action in ("maintenance", "activate", "detach", "remove")
        }

    def for_row(self, row: DomainRow, domain_id: str, name: str) -> str:
        """The forms of the actions the row's status allows (edit is the name's link)."""
        forms = []
        for action in row.actions:
            if action != "edit":
                start, middle, end = self._parts[action]
                forms.append(f"{start}{domain_id}{middle}{name}{end}")
        return "".join(forms)
