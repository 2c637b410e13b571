"""The Manage Domain form: its fields per storage type, read into the engine's ConnectionFields.

The browser checks ranges too (``min``/``max``/``required``), but every value
is checked here again, and the engine checks it once more: a form is only a
client. An error names the field as the form labels it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from storconn.engine.model import ConnectionFields, StorageConnection, StorageType
from storconn.engine.rules.fields import split_connection

__all__ = ["FIELDS", "NFS_VERSIONS", "DomainForm", "FormError", "FormField", "read_domain_form"]

NFS_VERSIONS = ("auto", "3", "4", "4.0", "4.1", "4.2")


@dataclass(frozen=True, slots=True)
class FormField:
    name: str
    label: str
    kind: str = "text"  # text, number, password, select
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    required: bool = False
    hint: str = ""


FIELDS: dict[StorageType, tuple[FormField, ...]] = {
    StorageType.NFS: (
        FormField("export", "Export path", required=True, hint="server:/path"),
        FormField("nfs_version", "NFS version", kind="select", choices=NFS_VERSIONS),
        FormField("nfs_retrans", "Retransmissions (#)", kind="number", minimum=0, maximum=32767),
        FormField("nfs_timeo", "Timeout (deciseconds)", kind="number", minimum=1, maximum=6000),
        FormField("mount_options", "Additional mount options"),
    ),
    StorageType.POSIXFS: (
        FormField("spec", "Path", required=True, hint="server:/path, a device, or a name"),
        FormField("vfs_type", "VFS type", required=True),
        FormField("mount_options", "Mount options"),
    ),
    StorageType.GLUSTERFS: (
        FormField("spec", "Path", required=True, hint="server:/volume"),
        FormField("mount_options", "Mount options"),
    ),
    StorageType.LOCALFS: (
        FormField("path", "Path", required=True, hint="an absolute path on each host"),
    ),
    StorageType.ISCSI: (
        FormField("address", "Address", required=True),
        FormField("port", "Port", kind="number", minimum=1, maximum=65535, required=True),
        FormField("target", "Target", required=True, hint="iqn.…"),
        FormField("username", "CHAP user name"),
        FormField("password", "CHAP password", kind="password", hint="left empty: unchanged"),
    ),
}


class FormError(ValueError):
    def __init__(self, field: str, label: str, reason: str) -> None:
        super().__init__(f"{label}: {reason}")
        self.field = field
        self.label = label
        self.reason = reason


@dataclass(frozen=True, slots=True)
class DomainForm:
    name: str
    description: str
    connection: (
        ConnectionFields | None
    )  # None: the connection's fields were not sent (not editable now)


def current_values(conn: StorageConnection) -> dict[str, str]:
    """The form's initial values for a stored connection; never its password."""
    values = {
        "export": conn.connection,
        "spec": conn.connection,
        "path": conn.connection,
        "address": conn.connection,
        "port": str(conn.port or ""),
        "target": conn.iqn or "",
        "username": conn.username or "",
        "vfs_type": conn.vfs_type or "",
        "mount_options": conn.mount_options or "",
        "nfs_version": conn.nfs_version or "auto",
        "nfs_retrans": "" if conn.nfs_retrans is None else str(conn.nfs_retrans),
        "nfs_timeo": "" if conn.nfs_timeo is None else str(conn.nfs_timeo),
        "password": "",
    }
    return values


def read_domain_form(form: Mapping[str, str], storage_type: StorageType) -> DomainForm:
    """The form as sent. Connection fields are read whenever they were sent: the page disables them
    outside maintenance, and a request that sends them anyway gets the engine's refusal, not silence."""
    name = form.get("name", "").strip()
    if not name:
        raise FormError("name", "Name", "is required")
    connection = None
    if any(field.name in form for field in FIELDS.get(storage_type, ())):
        connection = read_connection_fields(form, storage_type)
    return DomainForm(
        name=name, description=form.get("description", "").strip(), connection=connection
    )


def read_connection_fields(form: Mapping[str, str], storage_type: StorageType) -> ConnectionFields:
    values: dict[str, str] = {}
    for field in FIELDS.get(storage_type, ()):
        value = form.get(field.name, "").strip()
        if field.required and not value:
            raise FormError(field.name, field.label, "is required")
        if field.kind == "number" and value:
            _check_number(field, value)
        if field.kind == "select" and value and value not in field.choices:
            raise FormError(field.name, field.label, f"must be one of {', '.join(field.choices)}")
        values[field.name] = value
    fields = ConnectionFields()
    # An empty optional field clears the stored value (""), but a password left empty keeps it (None).
    if storage_type is StorageType.NFS:
        address, path = split_connection(values["export"])
        if address is None:
            raise FormError("export", "Export path", "must be server:/path")
        fields.address, fields.path = address, path
        fields.nfs_version = values["nfs_version"] or "auto"
        fields.nfs_retrans = int(values["nfs_retrans"]) if values["nfs_retrans"] else None
        fields.nfs_timeo = int(values["nfs_timeo"]) if values["nfs_timeo"] else None
        fields.mount_options = values["mount_options"]
    elif storage_type in (StorageType.POSIXFS, StorageType.GLUSTERFS):
        address, path = split_connection(values["spec"])
        fields.address, fields.path = address or "", path
        if storage_type is StorageType.POSIXFS:
            fields.vfs_type = values["vfs_type"]
        fields.mount_options = values["mount_options"]
    elif storage_type is StorageType.LOCALFS:
        fields.path = values["path"]
    elif storage_type is StorageType.ISCSI:
        fields.address, fields.target = values["address"], values["target"]
        fields.port = int(values["port"]) if values["port"] else None
        fields.username = values["username"]
        fields.password = values["password"] or None
    return fields


def _check_number(field: FormField, value: str) -> None:
    try:
        number = int(value)
    except ValueError:
        raise FormError(field.name, field.label, "must be a whole number") from None
    if (field.minimum is not None and number < field.minimum) or (
        field.maximum is not None and number > field.maximum
    ):
        raise FormError(
            field.name, field.label, f"must be between {field.minimum} and {field.maximum}"
        )
