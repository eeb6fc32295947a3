"""disk_encryption on Linux: is the file system mounted at / on (or above) a dm-crypt device?"""
from __future__ import annotations

import json
import re

from ..fact import Fact
from ..host import DENIED, TIMEOUT, Host
from ._util import run

# util-linux 2.37+: MOUNTPOINTS lists every mount of a device. The singular MOUNTPOINT shows
# only one of them, so a btrfs root on Fedora or openSUSE shows "/home" or "/var", never "/".
LSBLK = ["/usr/bin/lsblk", "--json", "--output", "NAME,TYPE,FSTYPE,UUID,MOUNTPOINTS"]
# Before 2.37 ("lsblk: unknown column: MOUNTPOINTS", exit 1), and the argv of older captures.
LSBLK_OLD = ["/usr/bin/lsblk", "--json", "--output", "NAME,TYPE,FSTYPE,MOUNTPOINT"]
MOUNTINFO = "/proc/self/mountinfo"

NO_ROOT = "the disk this system starts from could not be found"
ZFS_ROOT = "the system disk uses ZFS, which Checkup can't check yet"
NO_DISK = "this system does not run from a disk of its own (it looks like a container or a live system)"
SPANS = "the system disk spans several drives and Checkup could not tell which ones"
NOT_UNDERSTOOD = "lsblk gave an answer Checkup does not understand"

# Root file systems that are not a block device lsblk could show.
NOT_A_DISK = {"overlay", "aufs", "tmpfs", "ramfs", "rootfs", "squashfs", "9p", "virtiofs", "nfs",
              "nfs4", "cifs", "smb3", "fuse", "unionfs"}


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


def _text(node: dict, key: str) -> str:
    value = node.get(key)
    return value.strip().lower() if isinstance(value, str) else ""


def _is_crypt(node: dict) -> bool:
    return _text(node, "type") == "crypt"


def paths_to(devices: list, wanted) -> list[list[dict]]:
    """Every chain of nodes (top device first) that ends at a node for which ``wanted(node)``."""
    paths: list[list[dict]] = []
    stack: list[tuple[dict, list[dict]]] = [(d, []) for d in devices if isinstance(d, dict)]
    seen = 0
    while stack and seen < 100000:
        seen += 1
        node, above = stack.pop()
        chain = above + [node]
        if wanted(node):
            paths.append(chain)
        children = node.get("children")
        if isinstance(children, list) and len(chain) < 64:
            stack.extend((c, chain) for c in children if isinstance(c, dict))
    return paths


def root_paths(devices: list) -> list[list[dict]]:
    """Every chain of nodes (top device first) that ends at a node mounted at /."""
    return paths_to(devices, lambda node: "/" in _mountpoints(node))


def encrypted(chain: list[dict]) -> bool:
    """A crypt node on the chain, or a strict ancestor with the crypto_LUKS file system
    (its child is the opened mapping)."""
    if any(_is_crypt(n) for n in chain):
        return True
    return any(_text(n, "fstype") == "crypto_luks" for n in chain[:-1])


_ESCAPE = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as \\040, \\011, \\012, \\134."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def root_mount(text: str | None) -> dict | None:
    """{"fstype", "source"} of the mount at / in /proc/self/mountinfo (the last, topmost one)."""
    found = None
    for line in (text or "").splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 5 or not tail:
            continue
        if _unescape(fields[4]) == "/":
            found = {"fstype": tail[0].lower(),
                     "source": _unescape(tail[1]) if len(tail) > 1 else ""}
    return found


def _source_name(source: str) -> str | None:
    """The lsblk NAME of a mount source: /dev/mapper/luks-x -> luks-x, /dev/nvme0n1p2 -> nvme0n1p2.
    None for /dev/root (the kernel's placeholder) and sources that are not devices."""
    if not source.startswith("/dev/") or source == "/dev/root":
        return None
    name = source[len("/dev/mapper/"):] if source.startswith("/dev/mapper/") else source.rsplit("/", 1)[-1]
    return name or None


def decide(devices: list, mount: dict | None = None) -> tuple[str | None, str | None]:
    """('on' | 'off', None) or (None, reason), from the lsblk tree and, when given, the root
    entry of mountinfo (used only when lsblk names no device mounted at /).

    Encrypted when the node mounted at / is a crypt device or sits on one (LVM on LUKS:
    crypt is the parent of the lvm node). When / appears on several chains (RAID, an LVM
    volume over two disks), every chain must be encrypted. A btrfs file system can span
    several devices while lsblk shows its mounts on one of them only: the other members
    (same file system UUID) must be encrypted too.
    """
    paths = root_paths(devices)
    if not paths and mount:
        name = _source_name(mount.get("source") or "")
        if name:  # older lsblk shows one btrfs subvolume's mount, not /: find the device by name
            paths = paths_to(devices, lambda node: node.get("name") == name and
                             not isinstance(node.get("children"), list))
    if not paths and mount and mount.get("source") == "composefs":
        # Fedora Atomic (Silverblue, Kinoite) 42+: / is a composefs overlay; the disk is /sysroot
        paths = paths_to(devices, lambda node: "/sysroot" in _mountpoints(node))
    if not paths:
        fstype = (mount or {}).get("fstype") or ""
        if fstype == "zfs":
            return None, ZFS_ROOT
        if fstype in NOT_A_DISK or fstype.startswith("fuse."):
            return None, NO_DISK
        return None, NO_ROOT
    if not all(encrypted(c) for c in paths):
        return "off", None

    roots = [c[-1] for c in paths]
    fstype = (mount or {}).get("fstype") or ""
    if not any(_text(n, "fstype") == "btrfs" for n in roots) and fstype != "btrfs":
        return "on", None
    uuids = {_text(n, "uuid") for n in roots} - {""}
    if uuids:
        members = paths_to(devices, lambda n: _text(n, "fstype") == "btrfs" and _text(n, "uuid") in uuids)
        return ("on", None) if all(encrypted(c) for c in members) else ("off", None)
    # No UUID to tell the members: an unmounted, unencrypted btrfs device may be one of them.
    others = paths_to(devices, lambda n: _text(n, "fstype") == "btrfs" and not _mountpoints(n)
                      and not any(n is r for r in roots))
    if any(not encrypted(c) for c in others):
        return None, SPANS
    return "on", None


def parse(text: str | None) -> str | None:
    """'on' / 'off' from lsblk JSON alone; None when the JSON is not understood or / is not in it."""
    devices = parse_tree(text)
    if devices is None:
        return None
    return decide(devices)[0]


def read_tree(host: Host) -> tuple[list | None, str | None]:
    """(blockdevices, None) from the newer lsblk, else the older argv; or (None, reason)."""
    result = run(host, LSBLK)
    devices = parse_tree(result.stdout) if result.ok else None
    if devices is not None:
        return devices, None
    if result.error in (TIMEOUT, DENIED):
        return None, result.describe_failure("lsblk")
    old = run(host, LSBLK_OLD)  # util-linux < 2.37 knows no MOUNTPOINTS column
    if old.error or old.returncode != 0:
        return None, old.describe_failure("lsblk")
    devices = parse_tree(old.stdout)
    return (devices, None) if devices is not None else (None, NOT_UNDERSTOOD)


def probe(host: Host) -> Fact:
    fact = Fact()
    devices, reason = read_tree(host)
    if devices is None:
        return fact.miss("state", reason or NOT_UNDERSTOOD)
    state, reason = decide(devices)
    if state is None and reason == NO_ROOT:
        state, reason = decide(devices, root_mount(host.read_text(MOUNTINFO)))
    if state is None:
        return fact.miss("state", reason or NO_ROOT)
    fact.observed["state"] = state
    return fact
