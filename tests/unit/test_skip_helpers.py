"""The skip helpers of tests/conftest.py: a test skips only where it truly cannot run."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

import tests.conftest as helpers


def _fake_modprobe(tmp_path: Path, status: int) -> str:
    script = tmp_path / "modprobe"
    script.write_text(f'#!/bin/sh\n[ "$1" = -n ] || exit 99\nexit {status}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.mark.parametrize(("status", "available"), [(0, True), (1, False)])
def test_a_module_that_can_be_loaded_counts_as_available(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: int, available: bool
) -> None:
    modprobe = _fake_modprobe(tmp_path, status)
    monkeypatch.setattr(helpers.shutil, "which", lambda name: modprobe)
    # Not loaded (no /sys/module entry): only modprobe -n can tell.
    assert helpers.kernel_module_available("storconn_not_loaded") is available
