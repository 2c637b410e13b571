"""The block types: iscsi (sessions to a target) and fcp (the host's HBAs)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator

from .base import Comparison, InfoBase
from .fields import Frozen, HostName, Int, Name, Password, Text, in_range
from .hosts import host_key

__all__ = [
    "ChapParams",
    "DEFAULT_ISCSI_IFACE",
    "DEFAULT_ISCSI_PORT",
    "FcpInfo",
    "FcpParams",
    "IscsiCredentials",
    "IscsiInfo",
    "IscsiParams",
    "IscsiPortal",
    "IscsiTarget",
]

DEFAULT_ISCSI_PORT = 3260
DEFAULT_ISCSI_IFACE = "default"


def _check_iqn(value: str) -> str:
    # "/" would split the URI path (iscsi://host/iqn); names never hold it.
    if " " in value or "/" in value:
        raise ValueError("may not contain spaces or '/'")
    return value


Port = Annotated[Int, AfterValidator(in_range(1, 65535))]


class IscsiPortal(Frozen):
    hostname: HostName
    port: Port = DEFAULT_ISCSI_PORT


class IscsiTarget(Frozen):
    portal: IscsiPortal
    tpgt: Annotated[Int, AfterValidator(in_range(0, 65535))] | None = None
    """Target portal group tag; seed 000 asks clients to omit it."""
    iqn: Annotated[Text, AfterValidator(_check_iqn)]


class ChapParams(Frozen):
    username: Text
    password: Password


class IscsiCredentials(Frozen):
    type: Literal["chap"] = "chap"
    params: ChapParams


class IscsiParams(Frozen):
    target: IscsiTarget
    iface: Name = DEFAULT_ISCSI_IFACE
    credentials: IscsiCredentials | None = None


class IscsiInfo(InfoBase):
    type: Literal["iscsi"] = "iscsi"
    params: IscsiParams

    @property
    def identity(self) -> tuple[str, ...]:
        target = self.params.target
        return (
            "iscsi",
            host_key(target.portal.hostname),
            str(target.portal.port),
            target.iqn.lower(),
            self.params.iface,
        )

    def secrets(self) -> list[str]:
        credentials = self.params.credentials
        return [credentials.params.password.get_secret_value()] if credentials else []

    def _compared(self, other: IscsiInfo) -> list[Comparison]:
        mine, theirs = self.params, other.params
        compared: list[Comparison] = []
        if mine.target.tpgt is not None and theirs.target.tpgt is not None:
            compared.append(("params.target.tpgt", mine.target.tpgt, theirs.target.tpgt))
        compared.append(
            ("params.credentials", mine.credentials is None, theirs.credentials is None)
        )
        if mine.credentials and theirs.credentials:
            chap, their_chap = mine.credentials.params, theirs.credentials.params
            compared.append(
                ("params.credentials.params.username", chap.username, their_chap.username)
            )
            # SecretStr compares the secret values, never showing them.
            compared.append(
                ("params.credentials.params.password", chap.password, their_chap.password)
            )
        return compared

    def _finish_wire(self, params: dict[str, Any], *, secrets: bool) -> None:
        credentials = self.params.credentials
        if credentials is None:
            return
        chap: dict[str, Any] = params["credentials"]["params"]
        if secrets:
            chap["password"] = credentials.params.password.get_secret_value()
        else:
            del chap["password"]


class FcpParams(Frozen):
    """FCP takes no parameters: the host's HBAs see what the fabric zones to them."""


class FcpInfo(InfoBase):
    type: Literal["fcp"] = "fcp"
    params: FcpParams = FcpParams()

    @property
    def identity(self) -> tuple[str, ...]:
        return ("fcp",)
