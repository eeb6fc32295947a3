"""Helpers for the macOS probe tests (a unique module name: no __init__.py in tests)."""
from __future__ import annotations

import os

from probes.host import RecordedHost

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "test-data")
FIXTURES = os.path.join(HERE, "..", "..", "fixtures", "macos")


def data(check: str, name: str) -> str:
    """A recorded output from test-data/<check>/<name>, byte for byte (tabs kept)."""
    with open(os.path.join(DATA, check, name), encoding="utf-8", errors="replace", newline="") as fh:
        return fh.read()


def ok(argv: list[str], stdout: str = "", stderr: str = "", returncode: int = 0) -> dict:
    return {"argv": argv, "stdout": stdout, "stderr": stderr, "returncode": returncode}


def err(argv: list[str], kind: str) -> dict:
    return {"argv": argv, "error": kind}


def host(*commands: dict, is_admin: bool = False) -> RecordedHost:
    return RecordedHost({"platform": "darwin", "is_admin": is_admin, "commands": list(commands)})


ERRORS = ("timeout", "not_found", "denied")
