"""``setup`` and ``Backend``: the library's configuration and one configured volume driver each.

As in cinderlib, a Backend is a singleton per ``volume_backend_name`` in a
process (asking again with the same configuration returns the same object,
with another configuration is an error) and ``Backend.persistence`` is the
one persistence every object uses. The driver reaches its storage lazily,
on the first call that needs it, so a node that only attaches (seed 004's
remote flow) never mounts the controller's share or dials its tgtd.
"""

from __future__ import annotations

import json as json_lib
import threading
from typing import Any, ClassVar

from storconn.connection import InvalidParameter

from . import agent_link
from .drivers import make_driver
from .drivers.base import Driver
from .errors import InvalidVolume
from .persistence import make_persistence
from .persistence.base import Persistence
from .volume import Volume

__all__ = ["Backend", "require_backend", "setup"]


class _VolumeFinder:
    """``backend.Volume``: the seed's ``storage.Volume.get_by_id(volume_id)``, limited to one backend."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def __call__(self, **kwargs: Any) -> Volume:
        return Volume(self._backend, **kwargs)

    def get_by_id(self, volume_id: str) -> Volume:
        from .errors import VolumeNotFound

        found = Backend.persistence.get_volumes(volume_id=volume_id, backend_name=self._backend.id)
        if not found:
            raise VolumeNotFound(volume_id)
        return Volume._wrap(found[0])

    def get_by_name(self, volume_name: str) -> list[Volume]:
        records = Backend.persistence.get_volumes(volume_name=volume_name, backend_name=self._backend.id)
        return [Volume._wrap(r) for r in records]


class Backend:
    backends: ClassVar[dict[str, Backend]] = {}
    persistence: ClassVar[Persistence] = make_persistence({"storage": "memory"})
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __new__(cls, volume_backend_name: str, **driver_cfg: Any) -> Backend:
        with cls._registry_lock:
            existing = cls.backends.get(volume_backend_name)
            if existing is not None:
                if existing._original_cfg != driver_cfg:
                    raise ValueError(
                        f"Backend named {volume_backend_name} already exists with a different configuration"
                    )
                return existing
            return super().__new__(cls)

    def __init__(self, volume_backend_name: str, **driver_cfg: Any) -> None:
        if getattr(self, "_original_cfg", None) is not None:
            return  # the singleton, already made
        if not isinstance(volume_backend_name, str) or not volume_backend_name:
            raise InvalidParameter("volume_backend_name", "must be a non-empty name")
        from storconn.connection.volume_shapes import check_volume_id

        check_volume_id(volume_backend_name, "volume_backend_name")
        self._original_cfg = dict(driver_cfg)
        device_type = driver_cfg.get("device_type")
        if device_type not in (None, "file", "block"):
            raise InvalidParameter("device_type", "must be 'file' or 'block'")
        self.device_type: str | None = device_type
        self.use_multipath = bool(driver_cfg.get("use_multipath_for_image_xfer", False))
        self.enforce_multipath = bool(driver_cfg.get("enforce_multipath_for_image_xfer", False))
        self._name = volume_backend_name
        self.driver: Driver = make_driver(volume_backend_name, driver_cfg, agent_link.local_agent_lazy())
        self._ready = False
        self._ready_lock = threading.Lock()
        self.Volume = _VolumeFinder(self)
        with self._registry_lock:
            Backend.backends[volume_backend_name] = self

    def __repr__(self) -> str:
        return f"<storconn.volumes.Backend {self.id}>"

    @property
    def id(self) -> str:
        return self._name

    @property
    def config(self) -> dict[str, Any]:
        return {"volume_backend_name": self._name}

    def driver_ready(self) -> Driver:
        """The driver, set up on first use: the share mounted through the local agent, and
        the exports of connected volumes rebuilt where the storage lost them (tgtd keeps
        nothing across a restart)."""
        if not self._ready:
            with self._ready_lock:
                if not self._ready:
                    self.driver.do_setup()
                    self._rebuild_exports()
                    self._ready = True
        return self.driver

    def ensure_exports(self) -> None:
        """Export again every connected volume whose export the storage lost (tgtd restarted)."""
        self.driver_ready()
        self._rebuild_exports()

    def _rebuild_exports(self) -> None:
        initiators: dict[str, list[str]] = {}
        for connection in self.persistence.get_connections():
            if connection.backend == self.id and connection.status != "connecting":
                names = initiators.setdefault(connection.volume_id, [])
                initiator = connection.connector_info.get("initiator")
                if initiator and initiator not in names:
                    names.append(initiator)
        exported = [v for v in self.persistence.get_volumes(backend_name=self.id) if v.id in initiators]
        if exported:
            self.driver.ensure_exports(exported, initiators)

    # -- volumes -----------------------------------------------------------------

    @property
    def volumes(self) -> list[Volume]:
        return [Volume._wrap(r) for r in self.persistence.get_volumes(backend_name=self.id)]

    def volumes_filtered(self, volume_id: str | None = None, volume_name: str | None = None) -> list[Volume]:
        records = self.persistence.get_volumes(volume_id=volume_id, volume_name=volume_name, backend_name=self.id)
        return [Volume._wrap(r) for r in records]

    def create_volume(self, size: int, name: str = "", description: str = "", **kwargs: Any) -> Volume:
        volume = Volume(self, size=size, name=name, description=description, **kwargs)
        volume.create()
        return volume

    def stats(self, refresh: bool = False) -> dict[str, Any]:
        stats = dict(self.driver_ready().stats())
        stats["volume_backend_name"] = self.id
        stats["pools"] = [{"pool_name": self.id, **{k: v for k, v in stats.items() if k.endswith("_gb")}}]
        return stats

    @property
    def pool_names(self) -> tuple[str, ...]:
        return (self.id,)

    def validate_connector(self, connector_dict: dict[str, Any]) -> None:
        """Refuse a connector this backend cannot serve, before anything is exported."""
        if not isinstance(connector_dict, dict):
            raise InvalidParameter("connector_info", "must be a dict (get_connector_properties())")
        if self.driver.protocol == "iscsi" and not connector_dict.get("initiator"):
            raise InvalidParameter("connector_info.initiator", "an iSCSI backend needs the host's initiator name")

    def refresh(self) -> None:
        """Volumes are read from the persistence on every access: nothing is cached."""

    def destroy(self) -> None:
        """Forget this backend in this process and release its hold on the share."""
        self.driver.destroy()
        with self._registry_lock:
            Backend.backends.pop(self.id, None)

    # -- serialization (cinderlib's shapes) ----------------------------------------

    def _serialize(self, name: str) -> dict[str, Any]:
        return {"class": "Backend", "backend": self.config, "volumes": [getattr(v, name) for v in self.volumes]}

    @property
    def json(self) -> dict[str, Any]:
        return self._serialize("json")

    @property
    def dump(self) -> dict[str, Any]:
        return self._serialize("dump")

    @property
    def jsons(self) -> str:
        return json_lib.dumps(self.json, separators=(",", ":"))

    @property
    def dumps(self) -> str:
        return json_lib.dumps(self.dump, separators=(",", ":"))

    @classmethod
    def load(cls, json_src: dict[str, Any] | str, save: bool = False) -> Any:
        from .serialization import load

        return load(json_src, save=save)

    # -- configuration ---------------------------------------------------------------

    @classmethod
    def global_setup(
        cls,
        persistence_config: dict[str, Any] | str | Persistence | None = None,
        *,
        agent_url: str | None = None,
        agent_token_file: str | None = None,
        **ignored: Any,
    ) -> None:
        """``setup(...)``: the persistence and the local agent for every backend of the process.

        cinderlib's other options (``root_helper``, ``disable_logs``,
        ``file_locks_path``, ...) are accepted and have nothing to do here:
        the agent does the privileged work and the persistence holds the locks.
        """
        if persistence_config is not None:
            old = cls.persistence
            cls.persistence = make_persistence(persistence_config)
            if old is not cls.persistence:
                old.close()
        agent_link.configure(agent_url, agent_token_file)

    set_persistence = classmethod(lambda cls, config: cls.global_setup(config))


setup = Backend.global_setup


def require_backend(name: str) -> Backend:
    backend = Backend.backends.get(name)
    if backend is None:
        raise InvalidVolume(f"backend {name} is not set up in this process: create Backend({name!r}, ...) first")
    return backend
