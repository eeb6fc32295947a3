"""macOS (darwin) probes: one module per check, sources as in SOURCES.md."""
from __future__ import annotations

from typing import Callable

from ..fact import Fact
from ..host import Host
from . import (automatic_updates, disk_encryption, firewall, gatekeeper, os_version, password_manager,
               remote_login, screen_lock, system_integrity)
from .identity import identity

CHECKS: dict[str, Callable[[Host], Fact]] = {
    "disk_encryption": disk_encryption.probe,
    "firewall": firewall.probe,
    "screen_lock": screen_lock.probe,
    "os_version": os_version.probe,
    "automatic_updates": automatic_updates.probe,
    "system_integrity": system_integrity.probe,
    "remote_login": remote_login.probe,
    "gatekeeper": gatekeeper.probe,
    "password_manager": password_manager.probe,
}

__all__ = ["CHECKS", "identity"]
