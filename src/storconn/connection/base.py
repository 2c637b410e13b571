"""What every ConnectionInfo model offers, whatever its type.

Each type subclasses ``InfoBase`` with ``type: Literal[...]`` and ``params``,
and fills in hooks: ``identity`` and ``_compared`` always, ``_mount_options``
for the mount types, ``secrets`` and ``_finish_wire`` for types holding
credentials. Everything here is pure: identity and equality never touch the
network or the file system.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Self, cast

from .fields import Frozen
from .options import option_secrets, redact_options

if TYPE_CHECKING:
    from .models import ConnectionInfo

__all__ = ["IDENTITY_SEPARATOR", "InfoBase", "Comparison"]

IDENTITY_SEPARATOR = "\x1f"  # ASCII unit separator: no parameter may contain it

Comparison = tuple[str, object, object]
"""(dotted wire name, this info's value, the other info's value)."""


class InfoBase(Frozen):
    """Base of the per-type models; not a connection type itself."""

    @property
    def identity(self) -> tuple[str, ...]:
        """What makes two infos the *same actual connection*; starts with the type."""
        raise NotImplementedError

    @property
    def identity_key(self) -> str:
        """``identity`` as one string, for primary keys and dict keys."""
        return IDENTITY_SEPARATOR.join(self.identity)

    def to_wire(self, *, secrets: bool = False) -> dict[str, Any]:
        """``{"type": ..., "params": {...}}`` with wire names and defaults filled in.

        Without ``secrets`` the CHAP password is left out and secret mount
        options are masked: that form is for statuses, logs and responses.
        With ``secrets`` everything is in clear, for the 0600 store only.
        """
        wire = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        params: dict[str, Any] = wire["params"]
        options = self._mount_options()
        if not secrets and options and option_secrets(options):
            params["options"] = redact_options(options)
        self._finish_wire(params, secrets=secrets)
        return wire

    def stored_json(self) -> str:
        """``to_wire(secrets=True)`` as canonical JSON, for the 0600 store.

        Without secrets pydantic's own serializer writes the same document
        several times faster than ``json.dumps``; an info holding a secret
        goes the long way, since the serializer would mask it.
        """
        if self.secrets():
            return json.dumps(self.to_wire(secrets=True), separators=(",", ":"))
        return self.model_dump_json(by_alias=True, exclude_none=True)

    def conflict_with(self, other: ConnectionInfo) -> str | None:
        """The dotted name of the first param that differs, or None if compatible.

        Both infos must have the same identity (ValueError otherwise):
        spellings that identity normalizes (host case, ``//`` in paths) are
        never a conflict; options, version, timeouts, credentials... are.
        """
        if type(other) is not type(self) or other.identity != self.identity:
            raise ValueError("conflict_with compares infos of the same identity")
        for name, mine, theirs in self._compared(cast(Self, other)):
            if mine != theirs:
                return name
        return None

    @property
    def mount_fstypes(self) -> frozenset[str]:
        """The file-system types ``/proc/self/mountinfo`` may show for this info's mount.

        Empty for the types that do not mount (iscsi, fcp, localfs). NFS
        without a version may show either ``nfs`` or ``nfs4``; glusterfs
        shows ``fuse.glusterfs``.
        """
        return frozenset()

    def secrets(self) -> list[str]:
        """The secret strings this info holds, for ``redact_text``."""
        return option_secrets(self._mount_options())

    def _mount_options(self) -> str | None:
        """The ``options`` param of the mount types; None for the others."""
        return None

    def _compared(self, other: Self) -> list[Comparison]:
        """The params that must agree between two infos of one identity, in wire order."""
        return []

    def _finish_wire(self, params: dict[str, Any], *, secrets: bool) -> None:
        """Adjust the dumped params in place (the base has nothing to add)."""
