"""Small helpers shared by the Linux probe tests (not a test module)."""
from __future__ import annotations

import os

from probes.host import RecordedHost

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test-data")


def data(check: str, name: str) -> str:
    with open(os.path.join(DATA, check, name), encoding="utf-8") as fh:
        return fh.read()


def cmd(argv: list[str], stdout: str = "", stderr: str = "", returncode: int | None = 0,
        error: str | None = None) -> dict:
    if error:
        return {"argv": list(argv), "error": error}
    return {"argv": list(argv), "stdout": stdout, "stderr": stderr, "returncode": returncode}


def host(commands=(), files=None, env=None, admin=False) -> RecordedHost:
    return RecordedHost({"platform": "linux", "hostname": "test", "is_admin": admin,
                         "env": env or {}, "commands": list(commands), "files": files or {}})


UBUNTU = ('NAME="Ubuntu"\nVERSION_ID="24.04"\nID=ubuntu\nID_LIKE=debian\n')
FEDORA = 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=44\n'
