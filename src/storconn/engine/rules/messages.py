"""oVirt's message keys, the texts the engine sends with them, and the action prefixes.

A fault detail is ``[<action> <message>]``: the action ("Cannot add Storage
Connection.") is set by the command (``storconn.engine.service``), the rules
raise errors carrying only the key and the message. Keys are oVirt's
(``AppErrors.properties`` / ``EngineMessage``) wherever oVirt has one, so
that tooling matching on them keeps working; the few that are storconn's
own say so beside them.

Messages name entities by name and id but never quote a secret: a CHAP
password or a mount option's value never reaches a message.
"""

from __future__ import annotations

from collections.abc import Iterable

from storconn.engine.errors import BadRequest, Conflict, NotFound

__all__ = [
    "UNPREFIXED",
    "Action",
    "prefixed",
    "IncompleteParameters",
    "bad_request",
    "conflict",
    "not_found",
]


class Action:
    """The prefixes oVirt puts before a command's messages ("Cannot <verb> <type>.").

    ``$action`` and ``$type`` as oVirt's commands set them (``VAR__ACTION__*``,
    ``VAR__TYPE__*``): a storage domain's type is "Storage".
    """

    ADD_CONNECTION = "Cannot add Storage Connection."
    EDIT_CONNECTION = "Cannot edit Storage Connection."
    REMOVE_CONNECTION = "Cannot remove Storage Connection."
    ATTACH_CONNECTION = "Cannot attach Storage Connection."
    DETACH_CONNECTION = "Cannot detach Storage Connection."
    TEST_CONNECTION = "Cannot test Storage Connection."
    ADD_DOMAIN = "Cannot add Storage."
    EDIT_DOMAIN = "Cannot edit Storage."
    REMOVE_DOMAIN = "Cannot remove Storage."
    ATTACH_DOMAIN = "Cannot attach Storage."
    ACTIVATE_DOMAIN = "Cannot activate Storage."
    DEACTIVATE_DOMAIN = "Cannot deactivate Storage."
    DETACH_DOMAIN = "Cannot detach Storage."
    ADD_DATA_CENTER = "Cannot add Data Center."
    EDIT_DATA_CENTER = "Cannot edit Data Center."
    REMOVE_DATA_CENTER = "Cannot remove Data Center."
    ADD_CLUSTER = "Cannot add Cluster."
    EDIT_CLUSTER = "Cannot edit Cluster."
    REMOVE_CLUSTER = "Cannot remove Cluster."
    ADD_HOST = "Cannot add Host."
    EDIT_HOST = "Cannot edit Host."
    REMOVE_HOST = "Cannot remove Host."
    ADD_DISK = "Cannot add Virtual Disk."
    REMOVE_DISK = "Cannot remove Virtual Disk."
    ADD_VM = "Cannot add VM."
    EDIT_VM = "Cannot edit VM."
    RUN_VM = "Cannot run VM."
    ATTACH_DISK = "Cannot attach Virtual Disk."
    ADD_USER = "Cannot add User."
    ADD_EVENT = "Cannot add External Event."
    REMOVE_EVENT = "Cannot remove Event."


class IncompleteParameters(BadRequest):
    """A required field is missing: oVirt's REST layer answers this one itself.

    Its fault is ``<reason>Incomplete parameters</reason><detail>StorageConnection
    [address, path] required for add</detail>``: no action prefix, no brackets,
    exactly as oVirt's ``validateParameters`` writes it.
    """

    reason = "Incomplete parameters"

    def __init__(self, entity: str, fields: list[str], verb: str) -> None:
        # oVirt's REST layer sends no key; for connections its backend's key fits.
        key = (
            "VALIDATION_STORAGE_CONNECTION_EMPTY_CONNECTION"
            if entity in ("StorageConnection", "StorageDomain")
            else "INCOMPLETE_PARAMETERS"
        )
        super().__init__(key, f"{entity} [{', '.join(fields)}] required for {verb}")
        self.fields = list(fields)

    @property
    def detail(self) -> str:
        return self.message


# Keys whose oVirt text has no "Cannot ${action} ${type}." (AppErrors.properties):
# field validation and a few others. Their fault detail is the text alone.
UNPREFIXED = frozenset(
    {
        "VDS_ADD_STORAGE_SERVER_STATUS_MUST_BE_UP",
        "ACTION_TYPE_FAILED_STORAGE_POOL_NOT_EXIST",
        "USER_FAILED_TO_AUTHENTICATE",
        "USER_IS_NOT_LOGGED_IN",
        "USER_NOT_AUTHORIZED_TO_PERFORM_ACTION",
    }
)
# VALIDATION_* keys are prefixed in oVirt only when their text says so.
_PREFIXED_VALIDATION = frozenset(
    {
        "VALIDATION_STORAGE_CONNECTION_MOUNT_OPTIONS_CONTAINS_MANAGED_PROPERTY",
        "VALIDATION_STORAGE_CONNECTION_MOUNT_OPTIONS_CONTAINS_REFUSED_PROPERTY",
    }
)


def prefixed(key: str) -> bool:
    """Does oVirt put the command's action ("Cannot add Storage Connection.") before ``key``'s text?"""
    if key in UNPREFIXED:
        return False
    return not key.startswith("VALIDATION_") or key in _PREFIXED_VALIDATION


def bad_request(key: str, message: str) -> BadRequest:
    return BadRequest(key, message)


def conflict(key: str, message: str) -> Conflict:
    return Conflict(key, message)


def not_found(what: str, ident: str) -> NotFound:
    """oVirt's 404 for an unknown id or name in a URL or a reference."""
    return NotFound("ACTION_TYPE_FAILED_ENTITY_NOT_FOUND", f"Entity not found: {what} {ident}")


def listed(items: Iterable[str]) -> str:
    """``data1,data2``: how oVirt's messages list entity names."""
    return ",".join(items)


def names(items: list[tuple[str, str]]) -> str:
    """``[("data1", "id1")]`` gives ``data1 (id1)``: how messages list entities."""
    return ", ".join(f"{name} ({ident})" for name, ident in items)
