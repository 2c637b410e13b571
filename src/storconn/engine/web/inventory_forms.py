"""The cluster and host forms, read into what the engine's commands take.

As in ``forms.py``: a field the form itself can judge is named before the
engine is asked, with the label the form shows; the engine judges again
(uniqueness, states, data center rules) and its refusal is shown in its words.
The engine's own name and address rules are reused, so the form refuses
exactly what the engine would, but says which field.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from storconn.engine import rules
from storconn.engine.errors import EngineError

from .forms import FormError

__all__ = ["ClusterForm", "HostForm", "read_cluster_form", "read_host_form", "read_move_form"]

_MAX_ADDRESS = 255  # the hosts table's address column
_MAX_DESCRIPTION = 4000


@dataclass(frozen=True, slots=True)
class ClusterForm:
    name: str
    description: str
    data_center_id: str  # "" on edit: a cluster's data center does not change (oVirt)


@dataclass(frozen=True, slots=True)
class HostForm:
    name: str
    address: str
    port: int
    token: str | None
    cluster_id: str


def read_cluster_form(
    form: Mapping[str, str], *, data_centers: Collection[str] | None
) -> ClusterForm:
    """The add form (``data_centers``: the ids one may choose) or the edit form (``None``)."""
    name = _name(form, "Cluster")
    data_center_id = ""
    if data_centers is not None:
        data_center_id = form.get("data_center", "").strip()
        if not data_center_id:
            raise FormError("data_center", "Data center", "is required")
        if data_center_id not in data_centers:
            raise FormError("data_center", "Data center", "must be one of the data centers listed")
    return ClusterForm(name=name, description=_description(form), data_center_id=data_center_id)


def read_host_form(form: Mapping[str, str], *, clusters: Collection[str]) -> HostForm:
    name = _name(form, "Host")
    address = form.get("address", "").strip()
    if not address:
        raise FormError("address", "Address", "is required")
    if len(address) > _MAX_ADDRESS:
        raise FormError("address", "Address", f"must be at most {_MAX_ADDRESS} characters")
    port_text = form.get("port", "").strip()
    if not port_text:
        raise FormError("port", "Port", "is required")
    try:
        port = int(port_text)
    except ValueError:
        raise FormError("port", "Port", "must be a whole number") from None
    try:
        rules.check_host_address(address, port)
    except EngineError as exc:
        field, label = ("port", "Port") if "PORT" in exc.key else ("address", "Address")
        raise FormError(field, label, exc.message) from None
    cluster_id = read_move_form(form, clusters=clusters)
    # The token is the agent's secret: taken as typed (an empty one means the agent wants none).
    token = form.get("token", "")
    # It travels in an HTTP header: printable ASCII without spaces (what the agent's token file holds).
    if any(not 0x21 <= ord(char) <= 0x7E for char in token):
        raise FormError("token", "Agent token", "must be printable ASCII without spaces")
    return HostForm(name=name, address=address, port=port, token=token or None, cluster_id=cluster_id)


def read_move_form(form: Mapping[str, str], *, clusters: Collection[str]) -> str:
    """The cluster chosen, one of ``clusters``."""
    cluster_id = form.get("cluster", "").strip()
    if not cluster_id:
        raise FormError("cluster", "Cluster", "is required")
    if cluster_id not in clusters:
        raise FormError("cluster", "Cluster", "must be one of the clusters listed")
    return cluster_id


def _name(form: Mapping[str, str], entity: str) -> str:
    name = form.get("name", "").strip()
    if not name:
        raise FormError("name", "Name", "is required")
    try:
        rules.check_name(name, entity=entity)
    except EngineError as exc:
        raise FormError("name", "Name", exc.message) from None
    return name


def _description(form: Mapping[str, str]) -> str:
    description = form.get("description", "").strip()
    if len(description) > _MAX_DESCRIPTION:
        raise FormError("description", "Description", f"must be at most {_MAX_DESCRIPTION} characters")
    # PostgreSQL's text refuses NUL; other control characters have no place in a one-line description.
    if any(ord(char) < 0x20 and char not in "\t\n\r" or char == "\x7f" for char in description):
        raise FormError("description", "Description", "must not contain control characters")
    return description
