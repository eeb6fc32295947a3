"""disk_encryption on Linux: is the file system mounted at / on (or above) a dm-crypt device?"""
from __future__ import annotations

import json

from ..fact import Fact
from ..host import Host
from ._util import run

LSBLK = ["/usr/bin/lsblk", "--json", "--output", "NAME,TYPE,FSTYPE,MOUNTPOINT"]
NO_ROOT = "the system disk could not be found (container, overlay or ZFS root)"
NOT_UNDERSTOOD = "lsblk gave an answer Checkup does not understand"


def parse_tree(text: str | None) -> list | None:
    """The ``blockdevices`` list of ``lsblk --json``, or None."""
    try:
        data = json.loads(text or "")
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    devices = data.get("blockdevices")
    return devices if isinstance(devices, list) else None


def _mountpoints(node: dict) -> list[str]:
    """Old lsblk prints "mountpoint" (a string or null), newer may print "mountpoints" (a list)."""
    found = []
    single = node.get("mountpoint")
    if isinstance(single, str):
        found.append(single)
    several = node.get("mountpoints")
    if isinstance(several, list):
        found.extend(m for m in several if isinstance(m, str))
    return found


def _is_crypt(node: dict) -> bool:
    return str(node.get("type") or "").lower() == "crypt"


def root_paths(devices: list) -> list[list[dict]]:
    """Every chain of nodes (top device first) that ends at a node mounted at /."""
    paths: list[list[dict]] = []
    stack: list[tuple[dict, list[dict]]] = [(d, []) for d in devices if isinstance(d, dict)]
    seen = 0
    while stack and seen < 100000:
        seen += 1
        node, above = stack.pop()
        chain = above + [node]
        if "/" in _mountpoints(node):
            paths.append(chain)
        children = node.get("children")
        if isinstance(children, list) and len(chain) < 64:
            stack.extend((c, chain) for c in children if isinstance(c, dict))
    return paths


def parse(text: str | None) -> str | None:
    """'on' / 'off' from lsblk JSON; None when the JSON is not understood or / is not in it.

    Encrypted when the node mounted at / is a crypt device or sits on one (LVM on LUKS:
    crypt is the parent of the lvm node); a strict ancestor with the crypto_LUKS file
    system counts too (its child is the opened mapping). When / appears on several
    chains (RAID), every chain must be encrypted.
    """
    devices = parse_tree(text)
    if devices is None:
        return None
    paths = root_paths(devices)
    if not paths:
        return None

    def encrypted(chain: list[dict]) -> bool:
        if any(_is_crypt(n) for n in chain):
            return True
        return any(str(n.get("fstype") or "").lower() == "crypto_luks" for n in chain[:-1])

    return "on" if all(encrypted(c) for c in paths) else "off"


def probe(host: Host) -> Fact:
    fact = Fact()
    result = run(host, LSBLK)
    if result.error or result.returncode != 0:
        return fact.miss("state", result.describe_failure("lsblk"))
    devices = parse_tree(result.stdout)
    if devices is None:
        return fact.miss("state", NOT_UNDERSTOOD)
    state = parse(result.stdout)
    if state is None:
        return fact.miss("state", NO_ROOT)
    fact.observed["state"] = state
    return fact
