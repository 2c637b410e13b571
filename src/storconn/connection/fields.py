"""Field types shared by the models, and the base class they all use.

Validators raise ``ValueError`` with a reason that never quotes the value:
``models.parse_info`` turns the first one into ``InvalidParameter`` with the
field's dotted wire path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, SecretStr

from .hosts import host_key, unbracket

__all__ = [
    "FieldProblem",
    "Frozen",
    "HostName",
    "Int",
    "Name",
    "Password",
    "Text",
    "check_text",
    "in_range",
]


class FieldProblem(ValueError):
    """A model-level check blaming one field: ``parse_info`` reports it by that field's name.

    A model validator sees every field at once (a posixfs spec that does not
    suit its vfsType); pydantic would place its error on the whole model.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


class Frozen(BaseModel):
    """Immutable, hashable, and refusing unknown fields by name."""

    # validate_by_name lets Python code say vfs_type=; parse_info turns it
    # off, so the wire accepts only the wire names (vfsType).
    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True
    )


def check_text(value: str) -> str:
    """Refuse empty text, a leading ``-``, control characters, lone surrogates."""
    if not value:
        raise ValueError("must not be empty")
    if value.startswith("-"):
        # It would be read as an option by mount, iscsiadm or a FUSE helper.
        raise ValueError("may not start with '-'")
    return check_plain_text(value)


def check_plain_text(value: str) -> str:
    """Refuse NUL and other control characters and lone surrogates; the reason never quotes the value."""
    if _CONTROL.search(value):
        raise ValueError("may not contain NUL or control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def _check_name(value: str) -> str:
    check_text(value)
    if not _NAME.fullmatch(value):
        raise ValueError("may contain only letters, digits and . _ : + -")
    return value


def _check_password(value: SecretStr) -> SecretStr:
    # Any character may be in a password except those that end a line in
    # iscsiadm's node records; the message never shows the value.
    text = value.get_secret_value()
    if not text:
        raise ValueError("must not be empty")
    if "\x00" in text or "\n" in text or "\r" in text:
        raise ValueError("may not contain NUL or line breaks")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid UTF-8 text") from None
    return value


def _to_int(value: object) -> object:
    # Lax pydantic would take True as 1 and 3.0 as 3; VDSM clients send
    # ports as strings, so ASCII digit strings are the one coercion allowed.
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    if isinstance(value, str):
        if value.isascii() and value.isdigit():
            return int(value)
        raise ValueError("must be an integer")
    if not isinstance(value, int):
        raise ValueError("must be an integer")
    return value


def in_range(low: int, high: int) -> Callable[[int], int]:
    """An after-validator refusing integers outside ``low..high``."""

    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return check


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NAME = re.compile(r"[A-Za-z0-9_.:+-]+")

Text = Annotated[str, AfterValidator(check_text)]
"""Non-empty text with no control characters that does not start with ``-``."""

Name = Annotated[str, AfterValidator(_check_name)]
"""A short identifier: a file system type, an iSCSI iface name."""

Int = Annotated[int, BeforeValidator(_to_int)]
"""An integer; digit strings are accepted, booleans and floats are not."""

Password = Annotated[SecretStr, AfterValidator(_check_password)]
"""A secret; ``repr`` shows stars. May start with ``-``: it is only ever an
option's argument, never a positional one."""


def _check_host(value: str) -> str:
    host_key(value)
    # Stored bare so that a URI, which must bracket it, reads back equal.
    return unbracket(value)


HostName = Annotated[str, AfterValidator(_check_host)]
"""A host name, IPv4 address or IPv6 address (brackets accepted, not kept)."""
