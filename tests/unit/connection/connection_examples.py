"""Wire dicts used as examples across the connection tests."""

from __future__ import annotations

from typing import Any

PASSWORD = "Sup3r-Secret-Pw"


def nfs(**params: Any) -> dict[str, Any]:
    return {"type": "nfs", "params": {"export": "server:/export", **params}}


def iscsi(**params: Any) -> dict[str, Any]:
    target = {"portal": {"hostname": "Portal.Example"}, "iqn": "iqn.2026-01.test:Lun1"}
    return {"type": "iscsi", "params": {"target": target, **params}}


def chap(username: str = "user", password: str = PASSWORD) -> dict[str, Any]:
    return {"type": "chap", "params": {"username": username, "password": password}}
