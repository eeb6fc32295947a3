"""The frozen Linux build, made once per test session with packaging/build binary (~1.5 min)
and shared by the binary, .deb, .rpm and frozen-tray tests."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from pkgbuild import build  # noqa: E402


@pytest.fixture(scope="session")
def built_binary(tmp_path_factory):
    """A dist folder holding checkup/ (the PyInstaller onedir build).

    CHECKUP_TEST_LINUX_BUILD=DIST reuses a dist folder an earlier `packaging/build binary`
    made from this tree (CHECKUP_DIST=DIST), to run these tests again without rebuilding."""
    reuse = os.environ.get("CHECKUP_TEST_LINUX_BUILD")
    if reuse:
        assert (Path(reuse) / "checkup" / "checkup").is_file(), f"no checkup/checkup in {reuse}"
        return Path(reuse)
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        pytest.skip("PyInstaller is not installed (pip install pyinstaller)")
    dist = tmp_path_factory.mktemp("dist")
    proc = build("binary", dist, tmp_path_factory.mktemp("work"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return dist
