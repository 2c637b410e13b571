"""What the public objects share: serialization, persistence access, ``repr`` without secrets.

cinderlib's shapes are kept: ``obj.json`` is a dict ``{"class", "backend",
"data", ...}``, ``obj.jsons`` the same as compact JSON text, ``dump`` /
``dumps`` the same with the related objects loaded (a volume's snapshots
and connections), and ``load`` makes the object back from any of them.
Secrets are masked in all four; ``to_json(secrets=True)`` keeps them, for
moving a connection to a host by hand.
"""

from __future__ import annotations

import json as json_lib
from typing import TYPE_CHECKING, Any, ClassVar

from .records import redact_conn_info

if TYPE_CHECKING:
    from .backend import Backend
    from .persistence.base import Persistence

__all__ = ["Object"]


class Object:
    """Base of Volume, Snapshot and Connection."""

    LAZY_PROPERTIES: ClassVar[tuple[str, ...]] = ()
    _record: Any

    @classmethod
    def _persistence(cls) -> Persistence:
        from .backend import Backend

        return Backend.persistence

    @property
    def backend(self) -> Backend | str:
        from .backend import Backend

        name: str = self._record.backend
        return Backend.backends.get(name) or name

    @property
    def id(self) -> str:
        return str(self._record.id)

    # -- serialization -------------------------------------------------------

    def to_json(self, *, secrets: bool = False, related: bool = False) -> dict[str, Any]:
        data = self._record.to_dict()
        if not secrets:
            data = redact_conn_info(data)
        result: dict[str, Any] = {
            "class": type(self).__name__,
            "backend": {"volume_backend_name": self._record.backend},
            "data": data,
        }
        if related:
            for name in self.LAZY_PROPERTIES:
                result[name] = [item.to_json(secrets=secrets) for item in getattr(self, name)]
        return result

    def to_dict(self) -> dict[str, Any]:
        return dict(self.to_json()["data"])

    @property
    def json(self) -> dict[str, Any]:
        return self.to_json()

    @property
    def jsons(self) -> str:
        return json_lib.dumps(self.json, separators=(",", ":"))

    @property
    def dump(self) -> dict[str, Any]:
        return self.to_json(related=True)

    @property
    def dumps(self) -> str:
        return json_lib.dumps(self.dump, separators=(",", ":"))

    @classmethod
    def load(cls, json_src: dict[str, Any] | str, save: bool = False) -> Any:
        from .serialization import load

        return load(json_src, save=save)

    def __repr__(self) -> str:
        return f"<storconn.volumes.{type(self).__name__} object {self.id} on backend {self._record.backend}>"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.id == self.id  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.id))
