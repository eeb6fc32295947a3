"""The agent's local memory: last results and nudge history, as one JSON file.

Written atomically (temp file in the same directory, fsync, rename), so a crash
or a full disk never leaves half a file. A missing, unreadable or corrupt file
means a fresh start, never a crash.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from typing import Any

log = logging.getLogger(__name__)

STATE_VERSION = 1
STATE_FILE = "state.json"


def fresh_state() -> dict[str, Any]:
    return {"version": STATE_VERSION, "checks": {}, "last_report": None}


def state_path(directory: str | None = None) -> str:
    if directory is None:
        from .config import user_state_dir
        directory = user_state_dir()
    return os.path.join(directory, STATE_FILE)


def load_state(path: str | None = None) -> dict[str, Any]:
    path = path or state_path()
    try:
        with open(path, "r", encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return fresh_state()
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        log.warning("state file %s is unreadable (%s); starting fresh", path, exc)
        return fresh_state()
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION \
            or not isinstance(data.get("checks"), dict):
        log.warning("state file %s has an unknown shape; starting fresh", path)
        return fresh_state()
    # Drop malformed per-check records rather than trusting them.
    data["checks"] = {k: v for k, v in data["checks"].items()
                      if isinstance(k, str) and isinstance(v, dict)}
    data.setdefault("last_report", None)
    return data


def atomic_write_bytes(path: str, data: bytes, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new file, never half.

    The temporary file is created owner-only (mkstemp), so a secret is never
    readable by others, not even for a moment; ``mode`` is applied before the rename."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path: str, text: str, mode: int | None = None) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def save_state(state: dict[str, Any], path: str | None = None) -> None:
    path = path or state_path()
    atomic_write_text(path, json.dumps(state, indent=1, sort_keys=True, default=str), mode=0o600)
