"""The Storage table's rows as rows.py writes them: escaped, with an admin's forms only, cells as the agents said."""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from storconn.engine.model import (
    DomainStatus,
    Host,
    HostStatus,
    StorageConnection,
    StorageDomain,
    StorageType,
)
from storconn.engine.service.host_state import HostReferences
from storconn.engine.web import views
from storconn.engine.web.rows import storage_rows_html

HOST = Host(id="h1", name="host-1", address="127.0.0.1", port=1, data_center_id="dc", status=HostStatus.UP)


def _row(name: str = "sd1", status: DomainStatus = DomainStatus.ACTIVE, path: str = "/srv/a") -> list[views.DomainRow]:
    domain = StorageDomain(
        id="d1", name=name, storage_type=StorageType.POSIXFS, data_center_id="dc", status=status,
        connection_ids=["c1"],
    )
    conn = StorageConnection(id="c1", type=StorageType.POSIXFS, connection=path, vfs_type="tmpfs")
    answer = HostReferences.answered(HOST, {
        "engine:d1:c1:1": {"connected": True, "path": f"/mnt/{name}", "lastError": [0, ""]},
    })
    return views.domain_rows([domain], {"c1": conn}, {"dc": "dc<1>"}, [answer], views.listing(None, None, None))


class _Text(HTMLParser):
    """What a browser shows of the markup, and every tag it would build."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Text:
    parser = _Text()
    parser.feed(html)
    return parser


# Names as the engine stores them: any printable text (it refuses control characters).
@given(st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40))
def test_any_name_is_shown_as_text_never_as_markup(name: str) -> None:
    parsed = _parse(storage_rows_html(_row(name=name), page_query="q=x&sort=name", csrf_field="csrf_token",
                                      csrf_token="tok"))
    assert set(parsed.tags) <= {"tr", "th", "a", "td", "span", "br", "form", "input", "button"}
    assert name in "".join(parsed.text)


def test_an_admin_gets_the_actions_its_status_allows_and_a_viewer_none() -> None:
    admin = storage_rows_html(_row(), page_query="q=a&sort=name", csrf_field="csrf_token", csrf_token="tok")
    assert 'action="/storage/d1/maintenance?q=a&amp;sort=name"' in admin
    assert 'name="csrf_token" value="tok"' in admin and "/activate" not in admin
    maintenance = storage_rows_html(_row(status=DomainStatus.MAINTENANCE), page_query="", csrf_field="c",
                                    csrf_token="t")
    assert "/activate?" in maintenance and "/detach?" in maintenance and "/maintenance?" not in maintenance
    viewer = storage_rows_html(_row(), page_query="", csrf_field="csrf_token", csrf_token=None)
    assert "<form" not in viewer and "csrf" not in viewer


def test_a_cell_says_what_the_agent_said_and_an_inactive_domain_is_held_nowhere() -> None:
    active = storage_rows_html(_row(), page_query="", csrf_field="c", csrf_token=None)
    assert '<span class="host-state connected">host-1: connected</span>' in active
    assert "<td>dc&lt;1&gt;</td>" in active
    idle = storage_rows_html(_row(status=DomainStatus.MAINTENANCE), page_query="", csrf_field="c", csrf_token=None)
    assert '<span class="host-state idle" title="not held: the domain is not active">host-1: idle</span>' in idle


def test_a_cell_is_derived_once_per_answer() -> None:
    rows = _row()
    again = views.domain_rows(
        [rows[0].domain], {}, {}, [HostReferences.answered(HOST, {})], views.listing(None, None, None)
    )
    first = rows[0].hosts[0]
    assert first.state == "connected" and again[0].hosts[0].state == "connecting"
    shown_twice = views.host_cells(rows[0].domain, [_answer := HostReferences.answered(HOST, {
        "engine:d1:c1:1": {"connected": False, "lastError": [453, "/srv/a does not exist"]}})])
    assert shown_twice[0].text == "host-1: failed — [453] /srv/a does not exist"
    assert views.host_cells(rows[0].domain, [_answer])[0] is shown_twice[0]
