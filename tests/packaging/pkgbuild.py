"""Run packaging/build from the tests (tests/packaging/*)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "packaging" / "build"


def build(target, dist, work, **env):
    full = dict(os.environ, CHECKUP_DIST=str(dist), CHECKUP_WORK=str(work), **env)
    return subprocess.run(["bash", str(BUILD), target], capture_output=True, text=True,
                          timeout=900, env=full, cwd=ROOT)


def need(*tools):
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
